/**
 * The dashboard's pages: the report's views (reportPage.ts, the same renderer) with each campaign's health above
 * them, and an index of the ledger's campaigns and profiles. The report's scripts (uPlot and the charts' code) are
 * inlined as in the report; one small script more, all allowed by their hashes, fetches the page's views again every
 * two seconds from the same origin, swaps them in when they changed and has their charts drawn again.
 */
import type { Heartbeat, ReportData } from "@comment-dm/core"
import type { Model } from "../Report.js"
import { foreign, type Html, html, page, policyOf } from "./html.js"
import { number, renderViews, scripts as reportScripts, style as reportStyle } from "./reportPage.js"

const style = `${reportStyle}
nav{padding:4px 4px 0;font-size:.9rem}
nav a{color:var(--muted)}
.health{display:grid;gap:8px}
.beat{border-left:4px solid #1f9d74;padding:4px 8px;overflow-wrap:anywhere}
.beat.stopped{border-color:#d0453a}.beat.paused{border-color:#f0b43c}.beat.slowed{border-color:#e0662c}
a{color:#2f6fde}
`

/**
 * Swaps the views in when the server's mark for them changed, and has their charts drawn again (the charts' script
 * defines `commentDmCharts`); the address is the page's own `data-live`.
 */
const script = `(()=>{const go=()=>{const body=document.body;const live=body.dataset.live;
const tick=async()=>{try{const r=await fetch(live,{credentials:"same-origin",cache:"no-store"});
if(r.ok){const d=await r.json();if(d.mark!==body.dataset.mark){document.getElementById("views").innerHTML=d.html;
body.dataset.mark=d.mark;if(window.commentDmCharts)window.commentDmCharts()}}}catch(e){}setTimeout(tick,2000)};setTimeout(tick,2000)};
if(document.readyState==="loading")document.addEventListener("DOMContentLoaded",go);else go()})();`

const utc = (date: Date): string => `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`

const ago = (date: Date, now: Date): string => {
  const seconds = Math.max(0, Math.round((now.getTime() - date.getTime()) / 1000))
  return seconds < 120 ? `${seconds}s ago` : seconds < 7200 ?
    `${Math.round(seconds / 60)} min ago` :
    `${Math.round(seconds / 3600)} h ago`
}

/** One runner's health, in words. */
const beat = (b: Heartbeat.Heartbeat, isAlive: boolean, isSlowed: boolean, now: Date): Html => {
  const paused = b.pausedUntil !== undefined && b.pausedUntil.getTime() > now.getTime()
  const kind = !isAlive ? "stopped" : paused ? "paused" : isSlowed ? "slowed" : "ok"
  return html`<div class="beat ${kind}" data-health="${kind}" data-runner="${b.runner}">
<strong>${b.kind} · ${foreign(b.runner)}</strong> · ${
    isAlive ?
      html`alive, last heartbeat ${ago(b.beatAt, now)}` :
      html`<strong>stopped</strong> (last heartbeat ${utc(b.beatAt)})`
  }<br>
${b.lastPollAt === undefined ? "not polled yet" : html`last poll ${ago(b.lastPollAt, now)}`} · every ${
    Math.round(b.everyMillis / 1000)
  }s${
    isSlowed && b.nextPollMillis !== undefined
      ? html` · <span data-key="slowed">slowed by rate limits: next poll in ${
        Math.round(b.nextPollMillis / 1000)
      }s</span>`
      : undefined
  }${
    paused && b.pausedUntil !== undefined
      ? html`<br><span data-key="paused">paused at the daily DM limit until ${utc(b.pausedUntil)}</span>`
      : undefined
  }${
    b.lastError === undefined
      ? undefined
      : html`<br><span class="muted">last error${
        b.lastErrorAt === undefined ? "" : ` (${utc(b.lastErrorAt)})`
      }: </span>${foreign(b.lastError)}`
  }</div>`
}

export interface Beat {
  readonly heartbeat: Heartbeat.Heartbeat
  readonly alive: boolean
  readonly slowed: boolean
}

const beats = (list: ReadonlyArray<Beat>, now: Date): Html =>
  list.length === 0
    ? html`<p class="muted">No watcher has written a heartbeat for it: it is not being watched.</p>`
    : html`<div class="health">${list.map((b) => beat(b.heartbeat, b.alive, b.slowed, now))}</div>`

export interface CampaignHealth {
  readonly beats: ReadonlyArray<Beat>
  readonly inDoubt: ReadonlyArray<ReportData.InDoubt>
  readonly inDoubtCount: number
}

const health = (h: CampaignHealth, now: Date): Html =>
  html`<section id="health"><h2>Health</h2>${beats(h.beats, now)}
<h3>People in doubt <span class="muted">· <span data-key="in_doubt_count">${number(h.inDoubtCount)}</span></span></h3>
${
    h.inDoubt.length === 0
      ? html`<p class="muted">Nobody: every send's outcome is known.</p>`
      : html`<ul class="plain">${
        h.inDoubt.map((person) =>
          html`<li class="text" data-user="${person.userId}">${
            foreign(person.username === undefined ? person.userId : `@${person.username}`)
          } <span class="muted">${person.step}${person.reason === undefined ? "" : ` · ${person.reason}`}</span></li>`
        )
      }</ul>${
        h.inDoubtCount > h.inDoubt.length
          ? html`<p class="muted">… and ${number(h.inDoubtCount - h.inDoubt.length)} more.</p>`
          : undefined
      }<p class="muted">comment-dm reconcile resolves them (every run starts with it).</p>`
  }</section>`

/** The views of a campaign page, swapped in live. */
export const campaignViews = (model: Model, h: CampaignHealth, now: Date): Html => renderViews(model, health(h, now))

/** The views of a campaign whose file the ledger did not record. */
export const unknownCampaignViews = (name: string, h: CampaignHealth, now: Date): Html =>
  html`<header><h1>${name}</h1><p class="muted">The ledger holds no copy of this campaign's file (it was last run by an
older comment-dm): run it once with this version to see its views.</p></header>${health(h, now)}`

export interface CampaignLine {
  readonly name: string
  readonly platform: string
  readonly profile: string
  /** Undefined until its figures were first gathered. */
  readonly model: Model | undefined
}

export interface Profile {
  readonly platform: string
  readonly profile: string
  readonly beats: ReadonlyArray<Beat & { readonly campaign: string }>
}

const tileCount = (model: Model, key: "pending" | "in_doubt") =>
  model.steps.find((s) => s.step === "first_message")?.states.find((s) => s.state === key)?.count ?? 0

export const indexViews = (campaigns: ReadonlyArray<CampaignLine>, profiles: ReadonlyArray<Profile>, now: Date): Html =>
  html`<header><h1>comment-dm dashboard</h1><p class="muted">Every campaign of the ledger · ${utc(now)}</p></header>
<section id="campaigns"><h2>Campaigns</h2>${
    campaigns.length === 0
      ? html`<p class="muted">The ledger holds no campaign yet.</p>`
      : html`<table class="people"><thead><tr><th>Campaign</th><th class="n">Matching</th><th class="n">Reached</th>
<th class="n">Pending</th><th class="n">In doubt</th></tr></thead><tbody>${
        campaigns.map((c) =>
          html`<tr data-campaign="${c.name}"><td><a href="/campaign?name=${encodeURIComponent(c.name)}">${
            foreign(c.name)
          }</a><br><span class="muted">${c.platform} · ${foreign(c.profile)}</span></td>${
            c.model === undefined
              ? html`<td colspan="4" class="muted">counting…</td>`
              : html`<td class="n" data-key="matched"><span class="muted narrow">matching </span>${
                number(c.model.funnel.matched)
              }</td><td class="n" data-key="reached"><span class="muted narrow">reached </span>${
                number(c.model.funnel.reached)
              }</td><td class="n" data-key="pending"><span class="muted narrow">pending </span>${
                number(tileCount(c.model, "pending"))
              }</td><td class="n" data-key="in_doubt"><span class="muted narrow">in doubt </span>${
                number(tileCount(c.model, "in_doubt"))
              }</td>`
          }</tr>`
        )
      }</tbody></table>`
  }</section>
<section id="profiles"><h2>Profiles</h2>${
    profiles.length === 0
      ? html`<p class="muted">No watcher has written a heartbeat to this ledger.</p>`
      : profiles.map((p) =>
        html`<h3 data-profile="${p.platform}/${p.profile}">${p.platform} · ${
          foreign(p.profile)
        }</h3><div class="health">${
          p.beats.map((b) =>
            html`<div><span class="muted">${foreign(b.campaign)}</span>${
              beat(b.heartbeat, b.alive, b.slowed, now)
            }</div>`
          )
        }</div>`
      )
  }</section>`

/** A whole dashboard page around its views, which the script refreshes from `live` while `mark` is theirs. */
export const dashboardPage = (title: string, views: Html, live: string, mark: string): string =>
  page({
    title,
    style,
    scripts: [...reportScripts, script],
    connect: true,
    bodyAttributes: { "data-live": live, "data-mark": mark },
    body: html`<main><nav><a href="/">All campaigns</a></nav><div id="views">${views}</div>
<footer class="muted">comment-dm dashboard: read-only, kept live from the ledger. Times are in UTC.</footer></main>`
  })

/** The policy every answer of the dashboard carries as a header too: the pages' own, and no framing. */
export const headerPolicy = `${
  policyOf({ style, scripts: [...reportScripts, script], connect: true })
}; frame-ancestors 'none'`
