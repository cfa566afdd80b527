/**
 * The report's page: one HTML file with its style sheet and scripts inline (uPlot and the code that draws the chart of
 * sends over time with it; the other charts are SVG), loading nothing, readable from a phone's width (375 px) up.
 * Everything from the platform or the ledger goes in through `html` (or `jsonScript`), which escapes it.
 */
import type { Ledger } from "@comment-dm/core"
import type { Model, StepReport } from "../Report.js"
import { bar, chartScript, type Segment, timeChart } from "./charts.js"
import { foreign, type Html, html, page } from "./html.js"
import * as Uplot from "./uplot.js"

export const style = `${Uplot.style}
:root{color-scheme:light;--ink:#1d2330;--muted:#5b6474;--line:#e3e6ec;--bg:#f4f5f8;--card:#fff}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:920px;margin:0 auto;padding:12px}
header{padding:8px 4px 12px}
h1{font-size:1.45rem;margin:0 0 4px;overflow-wrap:anywhere}
h2{font-size:1.1rem;margin:0 0 10px}
h3{font-size:1rem;margin:16px 0 6px}
p{margin:6px 0}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 12px;margin:0 0 12px;min-width:0}
.muted{color:var(--muted)}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:8px;margin:0 0 12px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 12px}
.tile .value{display:block;font-size:1.6rem;font-weight:650;font-variant-numeric:tabular-nums}
.rows{display:grid;gap:10px}
.row .head{display:flex;justify-content:space-between;gap:8px}
.row .label{overflow-wrap:anywhere;min-width:0}
.row.sub .label{padding-left:14px}
.value{font-variant-numeric:tabular-nums;white-space:nowrap}
svg{display:block;width:100%;height:auto}
svg.bar{height:10px;border-radius:3px;margin-top:3px}
.chart{margin:4px 0;min-width:0;overflow:hidden}
.empty{fill:#eceef3}
.dm{fill:#2f6fde}.private_reply{fill:#8a4fd6}.follow_up{fill:#1f9d74}.public_reply{fill:#e08a1e}
.matched{fill:#5b6474}.sent{fill:#1f9d74}.refused{fill:#d0453a}.skipped{fill:#9aa3b2}.expired{fill:#b3702a}
.suppressed{fill:#6b4f9a}.unconfirmed{fill:#c9a227}.no_reply{fill:#b8c0cc}.awaiting_reply{fill:#7fb3e6}
.pending{fill:#f0b43c}.in_doubt{fill:#e0662c}.claimed{fill:#3fa7c9}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:8px 0 0;padding:0;list-style:none;font-size:.9rem}
svg.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;vertical-align:-1px}
table{width:100%;border-collapse:collapse}
th,td{padding:6px 4px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;overflow-wrap:anywhere}
td.n,th.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
tr.reason td{color:var(--muted);font-size:.92rem}
tr.reason td:first-child{padding-left:18px}
details{margin-top:8px}
summary{cursor:pointer;color:var(--muted)}
dl{margin:0;display:grid;grid-template-columns:minmax(0,max-content) minmax(0,1fr);gap:4px 12px}
dt{font-weight:600;overflow-wrap:anywhere}
dd{margin:0;overflow-wrap:anywhere;min-width:0}
ul.plain{margin:0;padding-left:18px}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
footer{padding:4px;font-size:.85rem}
.narrow{display:none}
@media (max-width:560px){
table.people thead{display:none}
table.people tr{display:block;padding:6px 0;border-bottom:1px solid var(--line)}
table.people td{display:block;border:0;padding:2px 4px}
.narrow{display:inline}
}
`

/** A count as people read it: 1,234. */
export const number = (n: number): string => n.toLocaleString("en-US")

/** A time in UTC to the minute: the page cannot know the reader's zone without a script. */
const utc = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`

const stepNames: Record<Ledger.StepKind, string> = {
  first_message: "First message",
  follow_up: "Follow-up",
  public_reply: "Public reply"
}

const stateNames: Record<Ledger.DeliveryState, string> = {
  sent: "Sent",
  refused: "Refused by the platform",
  skipped: "Skipped",
  expired: "Expired (deadline passed)",
  suppressed: "Suppressed (opted out)",
  unconfirmed: "Unconfirmed",
  no_reply: "No reply",
  awaiting_reply: "Awaiting a reply",
  pending: "Pending",
  in_doubt: "In doubt",
  claimed: "Being sent"
}

/** What the skip reasons mean, beside their names. */
const skipReasons: Record<Ledger.SkipReason, string> = {
  window_closed: "messaging window closed",
  comment_too_old: "comment older than the private-reply window",
  comment_taken: "comment already replied to",
  own_comment: "the account's own comment",
  campaign_edited: "the campaign was edited"
}

const reasonText = (reason: string): string =>
  reason in skipReasons ? `${skipReasons[reason as Ledger.SkipReason]} (${reason})` : reason

const percent = (part: number, whole: number): string =>
  whole === 0 ? "" : ` (${Math.round((part / whole) * 1000) / 10}%)`

/** The colour of a kind, as a key beside its name. */
const swatch = (kind: string): Html =>
  html`<svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect class="${kind}" width="10" height="10"></rect></svg>`

const row = (key: string, label: string, value: number, base: number, kind: string, sub = false): Html =>
  html`<div class="row${sub ? " sub" : ""}" data-key="${key}"><div class="head"><span class="label">${label}</span>
<span class="value">${number(value)}</span></div>${bar([{ value, kind }], base, `${label}: ${number(value)}`)}</div>`

const tile = (key: string, label: string, value: number): Html =>
  html`<div class="tile" data-key="${key}"><span class="label muted">${label}</span><span class="value">${
    number(value)
  }</span></div>`

const funnel = (model: Model): Html => {
  const f = model.funnel
  const base = Math.max(1, f.matched)
  const hasStep = (step: Ledger.StepKind) => model.steps.some((s) => s.step === step)
  return html`<section id="funnel"><h2>Funnel</h2>
<p class="muted">From the comments read to the people whose comment matched, and to the people each step reached.</p>
<div class="rows">
${
    f.comments_read === null
      ? undefined
      : row("comments_read", "Comments read", f.comments_read, f.comments_read, "skipped")
  }
${row("matched", "Matching people", f.matched, base, "matched")}
${row("reached", `Reached${percent(f.reached, f.matched)}`, f.reached, base, "sent")}
${row("dm", "by DM", f.dm, base, "dm", true)}
${row("private_reply", "by private reply", f.private_reply, base, "private_reply", true)}
${f.unknown_path > 0 ? row("unknown_path", "path not recorded", f.unknown_path, base, "dm", true) : undefined}
${hasStep("follow_up") ? row("follow_up", "Follow-ups sent", f.follow_up, base, "follow_up") : undefined}
${
    hasStep("public_reply")
      ? row("public_reply", "Public replies posted", f.public_reply, base, "public_reply")
      : undefined
  }
</div></section>`
}

const stepSection = (step: StepReport): Html =>
  html`<div class="step" id="step-${step.step}"><h3>${stepNames[step.step]} <span class="muted">· ${
    number(step.people)
  } people</span></h3>
${
    bar(
      step.states.map((s): Segment => ({ value: s.count, kind: s.state })),
      step.people,
      `${stepNames[step.step]} by state`
    )
  }
<table><tbody>
${
    step.states.map((state) =>
      html`<tr data-state="${state.state}"><th scope="row">${swatch(state.state)}${
        stateNames[state.state]
      }</th><td class="n">${number(state.count)}</td></tr>
${
        state.reasons.length === 1 && state.state === "pending" && state.reasons[0]?.reason === "not sent yet"
          ? undefined
          : state.reasons.map((reason) =>
            html`<tr class="reason" data-state="${state.state}"><td>${reasonText(reason.reason)}</td><td class="n">${
              number(reason.count)
            }</td></tr>`
          )
      }`
    )
  }
</tbody></table></div>`

const outcomes = (model: Model): Html =>
  html`<section id="outcomes"><h2>Outcomes per step</h2>
${
    model.steps.length === 0
      ? html`<p class="muted">Nobody recorded yet: run the campaign first.</p>`
      : model.steps.map(stepSection)
  }
${
    model.unrecorded > 0
      ? html`<p data-key="unrecorded">${
        number(model.unrecorded)
      } matching people could not be recorded by the ledger and were not messaged.</p>`
      : undefined
  }
</section>`

const paths = ["dm", "private_reply", "follow_up", "public_reply"] as const
const pathNames: Record<typeof paths[number], string> = {
  dm: "DM",
  private_reply: "Private reply",
  follow_up: "Follow-up",
  public_reply: "Public reply"
}

const legendItem = (kind: string, label: string) => html`<li>${swatch(kind)}${label}</li>`

const sendsOverTime = (model: Model): Html => {
  const { buckets, unit } = model.sends_over_time
  const total = buckets.reduce((sum, b) => sum + paths.reduce((s, p) => s + b[p], 0), 0)
  return html`<section id="sends"><h2>Sends over time</h2>
${
    buckets.length === 0
      ? html`<p class="muted">Nothing sent yet.</p>`
      : html`<p class="muted">${number(total)} messages by the ${unit} (UTC) they were accepted.</p>
${
        timeChart({
          label: `Sends per ${unit} (UTC), ${model.campaign}`,
          unit,
          times: buckets.map((b) => Date.parse(b.start) / 1000),
          series: paths.map((p) => ({ label: pathNames[p], kind: p, values: buckets.map((b) => b[p]) }))
        })
      }
<ul class="legend">${paths.map((p) => legendItem(p, pathNames[p]))}</ul>
<details><summary>The numbers</summary><table><thead><tr><th>${unit === "hour" ? "Hour" : "Day"} (UTC)</th>${
        paths.map((p) => html`<th class="n">${pathNames[p]}</th>`)
      }</tr></thead><tbody>${
        buckets.filter((b) => paths.some((p) => b[p] > 0)).map((b) =>
          html`<tr><td>${unit === "hour" ? utc(b.start) : b.start.slice(0, 10)}</td>${
            paths.map((p) => html`<td class="n">${number(b[p])}</td>`)
          }</tr>`
        )
      }</tbody></table></details>`
  }
</section>`
}

const atRisk = (model: Model): Html | undefined => {
  const risk = model.private_replies_at_risk
  if (risk === null) return undefined
  return html`<section id="at-risk"><h2>Private replies at risk</h2>
<p><span class="value" data-key="at_risk">${number(risk.at_risk)}</span> pending ${
    risk.at_risk === 1 ? "person" : "people"
  } a private reply would reach commented more than 5 days ago: the platform takes a private reply only within 7 days of
the comment.${
    risk.past_deadline > 0
      ? html` <span data-key="past_deadline">${number(risk.past_deadline)}</span> more are already past it.`
      : undefined
  }</p>
${
    risk.people.length === 0 ?
      undefined :
      html`<table class="people"><thead><tr><th>Who</th><th>Comment</th><th>Deadline</th></tr></thead>
<tbody>${
        risk.people.map((person) =>
          html`<tr class="person"><td>${foreign(person.who)}${
            person.user_id === null ? undefined : html`<br><span class="muted">${person.user_id}</span>`
          }</td><td class="text">${
            person.comment === null ? html`<span class="muted">hidden</span>` : foreign(person.comment)
          }</td><td><span class="muted narrow">deadline </span>${utc(person.deadline)}</td></tr>`
        )
      }</tbody></table>${
        risk.at_risk > risk.people.length
          ? html`<p class="muted">… and ${number(risk.at_risk - risk.people.length)} more.</p>`
          : undefined
      }`
  }
</section>`
}

const keywords = (model: Model): Html => {
  const base = Math.max(1, ...model.keywords.map((k) => k.matched))
  return html`<section id="keywords"><h2>Keywords that matched</h2>
${
    model.keywords.length === 0
      ? html`<p class="muted">No matching comments yet.</p>`
      : html`<div class="rows">${
        model.keywords.map((k) =>
          html`<div class="row" data-keyword="${k.keyword ?? ""}"><div class="head"><span class="label">${
            k.keyword === null ? "(every commenter)" : foreign(k.keyword)
          }</span><span class="value">${number(k.matched)} matched · ${number(k.sent)} reached</span></div>${
            bar(
              [{ value: k.sent, kind: "sent" }, { value: k.matched - k.sent, kind: "matched" }],
              base,
              `${k.keyword ?? "every commenter"}`
            )
          }</div>`
        )
      }</div>`
  }
</section>`
}

const variants = (model: Model): Html => {
  const sent = model.variants.reduce((sum, v) => sum + v.sent, 0)
  return html`<section id="variants"><h2>Message variants</h2>
<p class="muted">Each person gets one variant, the same on every run; sent people by the variant they got.</p>
<div class="rows">${
    model.variants.map((v, index) =>
      html`<div class="row" data-variant="${index}"><div class="head"><span class="label text">${v.text}</span>
<span class="value">${number(v.sent)}${percent(v.sent, sent)}</span></div>${
        bar([{ value: v.sent, kind: "dm" }], Math.max(1, sent), `variant ${index + 1}`)
      }</div>`
    )
  }</div></section>`
}

const settingValue = (value: unknown): Html => {
  if (Array.isArray(value)) {
    if (value.length === 0) return html`<span class="muted">none</span>`
    return value.every((item) => typeof item !== "object" || item === null)
      ? html`<ul class="plain">${value.map((item) => html`<li class="text">${String(item)}</li>`)}</ul>`
      : html`${value.map(settingValue)}`
  }
  if (typeof value === "object" && value !== null) {
    return html`<dl>${
      Object.entries(value).map(([key, inner]) => html`<dt>${key}</dt><dd>${settingValue(inner)}</dd>`)
    }</dl>`
  }
  return html`<span class="text">${String(value)}</span>`
}

const settings = (model: Model): Html =>
  html`<section id="settings"><h2>Campaign settings</h2>${settingValue(model.settings)}</section>`

/** The report's views, without the page around them: the dashboard shows the same, and keeps it live. */
export const renderViews = (model: Model, extra?: Html): Html => {
  const first = model.steps.find((step) => step.step === "first_message")
  const state = (name: Ledger.DeliveryState) => first?.states.find((s) => s.state === name)?.count ?? 0
  return html`<header><h1>${model.campaign}</h1>
<p class="muted">Campaign report · ${model.platform} · profile ${foreign(model.profile)} · ${utc(model.generated_at)}${
    model.anonymized ? " · anonymized" : ""
  }</p></header>
<div class="tiles">
${tile("matched", "Matching people", model.funnel.matched)}
${tile("reached", "Reached", model.funnel.reached)}
${tile("pending", "Pending", state("pending"))}
${tile("in_doubt", "In doubt", state("in_doubt"))}
</div>
${extra}
${funnel(model)}
${outcomes(model)}
${sendsOverTime(model)}
${atRisk(model)}
${keywords(model)}
${variants(model)}
${settings(model)}`
}

/** The scripts of a page with the views: uPlot, then what draws the charts with it. */
export const scripts: ReadonlyArray<string> = [Uplot.script, chartScript]

export const renderPage = (model: Model): string =>
  page({
    title: `${model.campaign}: campaign report`,
    style,
    scripts,
    body: html`<main>
${renderViews(model)}
<footer class="muted">Made by comment-dm from its ledger. Times are in UTC.</footer>
</main>`
  })
