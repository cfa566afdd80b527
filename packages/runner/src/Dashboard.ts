/**
 * `comment-dm dashboard`: a local, read-only web page over the ledger, served with @effect/platform's HTTP server. It
 * lists every campaign of the ledger and shows each with the report's views (the same renderer) and the health the
 * watchers write (Heartbeat), kept live while `run` or `watch` write to the same ledger.
 *
 * A campaign's figures are gathered by the report's aggregate queries, which take seconds on a ledger of a million
 * people: they are kept per campaign and gathered again only when the campaign's last write changed (a look-up on the
 * (campaign, updated_at) index), and no sooner than ten times the last gathering took, by a fiber that checks every
 * second, so a page answers from what was gathered.
 */
import { CampaignSpec, Heartbeat, type Ledger, ReportData } from "@comment-dm/core"
import { HttpRouter, HttpServer, type HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { SqlClient } from "@effect/sql"
import { Clock, Data, Effect, Layer, Option, Redacted, Schedule, Schema } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Gate from "./dashboard/Gate.js"
import {
  type Beat,
  type CampaignHealth,
  type CampaignLine,
  campaignViews,
  dashboardPage,
  headerPolicy,
  indexViews,
  type Profile,
  unknownCampaignViews
} from "./internal/dashboardPage.js"
import { type Html, html } from "./internal/html.js"
import { urlOf } from "./internal/url.js"
import * as Report from "./Report.js"

export const defaultAddress = "127.0.0.1:8642"

/** `--http` that is not HOST:PORT. */
export class AddressError extends Data.TaggedError("AddressError")<{ readonly given: string }> {
  override get message(): string {
    return `--http ${JSON.stringify(this.given)}: expected HOST:PORT, e.g. 127.0.0.1:8642 or [::1]:8642`
  }
}

export interface Address {
  readonly host: string
  readonly port: number
}

/** HOST:PORT, with an IPv6 host in brackets; port 0 lets the system choose. */
export const parseAddress = (given: string): Effect.Effect<Address, AddressError> => {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(given)
  const port = Number(match?.[3])
  const host = match?.[1] ?? match?.[2]
  return host === undefined || !(port >= 0 && port <= 65535)
    ? Effect.fail(new AddressError({ given }))
    : Effect.succeed({ host, port })
}

/** The figures could not be gathered. */
export class GatherError extends Data.TaggedError("GatherError")<{ readonly detail: string }> {
  override get message(): string {
    return `the campaign's figures could not be gathered: ${this.detail}`
  }
}

/**
 * The report's figures of a campaign, gathered by \`comment-dm report --json\` in a process of its own: SQLite's driver
 * answers on the thread that runs it, and a million people take seconds to count, which would hold up every page
 * meanwhile. The campaign file is the one the ledger recorded; the ledger is named in the child's environment, so
 * that a PostgreSQL password is not on its command line.
 */
const gatherApart = (spec: unknown, location: string) =>
  Effect.scoped(Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-dashboard-"))),
      (made) => Effect.sync(() => Fs.rmSync(made, { recursive: true, force: true }))
    )
    const file = Path.join(dir, "campaign.json")
    yield* Effect.sync(() => Fs.writeFileSync(file, JSON.stringify(spec)))
    const args = [...process.execArgv, process.argv[1] ?? "", "report", file, "--out", Path.join(dir, "report.html")]
    const output = yield* Effect.async<string, GatherError>((resume) => {
      const child = ChildProcess.spawn(process.execPath, [...args, "--json"], {
        env: { ...process.env, COMMENT_DM_DB: location },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
      child.on("error", (error) => resume(Effect.fail(new GatherError({ detail: error.message }))))
      child.on("close", (code) =>
        resume(
          code === 0
            ? Effect.succeed(stdout)
            : Effect.fail(new GatherError({ detail: stderr.trim() || `exit ${code}` }))
        ))
      return Effect.sync(() => child.kill())
    })
    return yield* Schema.decodeUnknown(Schema.parseJson(Report.ModelJson))(output.trim().split("\n").at(-1) ?? "").pipe(
      Effect.mapError((error) => new GatherError({ detail: error.message }))
    )
  }))

/** How many people in doubt a campaign page names. */
const inDoubtListed = 20

interface Snapshot {
  readonly mark: string
  readonly model: Report.Model | undefined
  /** When it was gathered, and how long that took. */
  readonly at: number
  readonly took: number
}

/** The least time between two gatherings of a campaign's figures: what the last one took, and at least a second. */
const regatherAfter = (snapshot: Snapshot) => Math.max(1_000, snapshot.took)

const decodeSpec = Schema.decodeUnknownOption(CampaignSpec.CampaignSpec)

/** The figures of every campaign, gathered again when the campaign changed. */
const makeSnapshots = (location: string) =>
  Effect.gen(function*() {
    const cache = new Map<string, Snapshot>()
    const lock = yield* Effect.makeSemaphore(1)
    const refresh = (campaign: ReportData.LedgerCampaign) =>
      lock.withPermits(1)(Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const known = cache.get(campaign.name)
        if (known !== undefined && started - known.at < regatherAfter(known)) return known
        const mark = yield* ReportData.lastChange(campaign.name)
        if (known !== undefined && known.mark === mark) return known
        const spec = campaign.spec === undefined ? Option.none() : decodeSpec(campaign.spec)
        const model = Option.isNone(spec) ? undefined : yield* gatherApart(campaign.spec, location)
        const at = yield* Clock.currentTimeMillis
        const made: Snapshot = { mark, model, at, took: at - started }
        cache.set(campaign.name, made)
        return made
      }))
    const refreshAll = Effect.flatMap(ReportData.campaigns, Effect.forEach(refresh, { discard: true }))
    return {
      /** What was gathered last, gathering it first when nothing was yet. */
      get: (campaign: ReportData.LedgerCampaign) =>
        Effect.suspend(() => {
          const known = cache.get(campaign.name)
          return known === undefined ? refresh(campaign) : Effect.succeed(known)
        }),
      peek: (name: string) => cache.get(name),
      refreshAll
    }
  })

const beatsOf = (heartbeats: ReadonlyArray<Heartbeat.Heartbeat>, now: Date): ReadonlyArray<Beat> =>
  heartbeats.map((heartbeat) => ({
    heartbeat,
    alive: Heartbeat.isAlive(heartbeat, now),
    slowed: Heartbeat.isSlowed(heartbeat)
  }))

const healthOf = (campaign: string, now: Date) =>
  Effect.gen(function*() {
    const heartbeats = (yield* Heartbeat.list).filter((b) => b.campaign === campaign)
    return { beats: beatsOf(heartbeats, now), inDoubt: yield* ReportData.inDoubt(campaign, inDoubtListed) }
  })

const profilesOf = (heartbeats: ReadonlyArray<Heartbeat.Heartbeat>, now: Date): ReadonlyArray<Profile> => {
  const profiles = new Map<string, Profile & { beats: Array<Profile["beats"][number]> }>()
  for (const heartbeat of heartbeats) {
    const key = `${heartbeat.platform}/${heartbeat.profile}`
    const profile = profiles.get(key) ??
      { platform: heartbeat.platform, profile: heartbeat.profile, beats: [] }
    profiles.set(key, profile)
    profile.beats.push({ ...beatsOf([heartbeat], now)[0]!, campaign: heartbeat.campaign })
  }
  return [...profiles.values()]
}

const securityHeaders = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  // The pages' own policy (also in their <meta>), on every answer, and no framing.
  "content-security-policy": headerPolicy
}

const withHeaders = (response: HttpServerResponse.HttpServerResponse) =>
  HttpServerResponse.setHeaders(response, securityHeaders)

const notFound = (what: string) =>
  HttpServerResponse.html(dashboardPage("Not found", html`<h1>Not found</h1><p>${what}</p>`, "/live", "none")).pipe(
    HttpServerResponse.setStatus(404)
  )

/** What a page shows, and the mark that changes when it does. */
interface Views {
  readonly title: string
  readonly views: Html
  readonly mark: string
}

const router = (snapshots: Effect.Effect.Success<ReturnType<typeof makeSnapshots>>) => {
  const now = Effect.map(Clock.currentTimeMillis, (millis) => new Date(millis))
  const nameParam = Effect.map(HttpServerRequest.ParsedSearchParams, (params) => {
    const name = params["name"]
    return typeof name === "string" ? name : undefined
  })

  const indexPage = Effect.gen(function*() {
    const at = yield* now
    const campaigns = yield* ReportData.campaigns
    const lines: Array<CampaignLine> = []
    for (const campaign of campaigns) {
      lines.push({ ...campaign, model: (yield* snapshots.get(campaign)).model })
    }
    const heartbeats = yield* Heartbeat.list
    const views = indexViews(lines, profilesOf(heartbeats, at), at)
    return { title: "comment-dm dashboard", views, mark: views.value } satisfies Views
  })

  const campaignPage = Effect.gen(function*() {
    const name = yield* nameParam
    const campaign = (yield* ReportData.campaigns).find((c) => c.name === name)
    if (campaign === undefined) return undefined
    const at = yield* now
    const snapshot = yield* snapshots.get(campaign)
    const health = yield* healthOf(campaign.name, at)
    // The count of the figures gathered, or the people listed when they are newer.
    const counted = snapshot.model?.steps.flatMap((s) => s.states).filter((s) => s.state === "in_doubt")
      .reduce((sum, s) => sum + s.count, 0) ?? 0
    const withCount: CampaignHealth = { ...health, inDoubtCount: Math.max(counted, health.inDoubt.length) }
    const views = snapshot.model === undefined
      ? unknownCampaignViews(campaign.name, withCount, at)
      : campaignViews(snapshot.model, withCount, at)
    return { title: `${campaign.name}: dashboard`, views, mark: views.value } satisfies Views
  })

  const whole = (views: Views | undefined, live: string) =>
    views === undefined
      ? notFound("The ledger holds no campaign of that name.")
      : HttpServerResponse.html(dashboardPage(views.title, views.views, live, hash(views.mark)))

  const liveJson = (views: Views | undefined) =>
    views === undefined
      ? Effect.succeed(notFound("The ledger holds no campaign of that name."))
      : HttpServerResponse.json({ mark: hash(views.mark), html: views.views.value })

  return HttpRouter.empty.pipe(
    HttpRouter.get("/", Effect.map(indexPage, (views) => whole(views, "/live"))),
    HttpRouter.get("/live", Effect.flatMap(indexPage, liveJson)),
    HttpRouter.get(
      "/campaign",
      Effect.gen(function*() {
        const name = yield* nameParam
        const views = yield* campaignPage
        return whole(views, `/campaign/live?name=${encodeURIComponent(name ?? "")}`)
      })
    ),
    HttpRouter.get("/campaign/live", Effect.flatMap(campaignPage, liveJson))
  )
}

const hash = (text: string): string => {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return (h >>> 0).toString(36)
}

export interface Options {
  readonly address: Address
  /** The ledger, as `--db` gave it: the gathering process opens it too. */
  readonly location: string
  readonly token: Redacted.Redacted<string> | undefined
  /** Told the address once the server listens. */
  readonly announce: (url: string) => Effect.Effect<void>
}

/** A failure of a page: said in words, without the request (it may hold the token). */
const failedPage = (error: Ledger.LedgerError | unknown) =>
  HttpServerResponse.html(
    dashboardPage(
      "The ledger could not be read",
      html`<h1>The ledger could not be read</h1><p class="text">${
        error instanceof Error ? error.message : "an unexpected failure"
      }</p>`,
      "/live",
      "none"
    )
  ).pipe(HttpServerResponse.setStatus(500))

/**
 * The app: the token gate first, then the router; a route that is not one gets a 404 page, a failure a 500 page,
 * every answer the security headers.
 */
export const app = (gate: Gate.Gate, location: string) =>
  Effect.gen(function*() {
    const snapshots = yield* makeSnapshots(location)
    yield* snapshots.refreshAll.pipe(
      Effect.catchAll(() => Effect.void),
      Effect.repeat(Schedule.spaced("1 second")),
      Effect.forkScoped
    )
    const routes = router(snapshots)
    return Gate.guard(gate)(
      routes.pipe(
        Effect.catchTag("RouteNotFound", () => Effect.succeed(notFound("No such page."))),
        Effect.catchAll((error) => Effect.succeed(failedPage(error)))
      )
    ).pipe(Effect.map(withHeaders))
  })

/** Serves the dashboard until interrupted. */
export const serve = (
  options: Options
): Effect.Effect<never, Gate.TokenMissing | HttpServerError.ServeError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const { host, port } = options.address
    if (!Gate.isLoopback(host) && options.token === undefined) return yield* new Gate.TokenMissing({ host })
    const handler = yield* app({ token: Gate.isLoopback(host) ? undefined : options.token }, options.location)
    const announce = Layer.effectDiscard(HttpServer.addressWith((address) => options.announce(`${urlOf(address)}/`)))
    return yield* Layer.launch(
      Layer.merge(HttpServer.serve(handler), announce).pipe(
        Layer.provide(NodeHttpServer.layer(() => Http.createServer(), { host, port }))
      )
    )
  }).pipe(Effect.scoped)

/** The token of a dashboard bound to another address: from the environment, or the first line of a file. */
export const tokenFrom = (
  environment: string | undefined,
  file: string | undefined
): Effect.Effect<Redacted.Redacted<string> | undefined, TokenError> =>
  Effect.gen(function*() {
    const text = file !== undefined
      ? yield* Effect.try({
        try: () => (Fs.readFileSync(file, "utf8").split(/\r?\n/)[0] ?? "").trim(),
        catch: () => new TokenError({ why: `--token-file ${JSON.stringify(file)} cannot be read` })
      })
      : environment?.trim()
    if (text === undefined || text === "") {
      return file === undefined ? undefined : yield* new TokenError({ why: "--token-file holds no token" })
    }
    if (text.length < Gate.minimumLength) {
      return yield* new TokenError({ why: `the dashboard token is shorter than ${Gate.minimumLength} characters` })
    }
    return Redacted.make(text)
  })

/** A token that cannot be used (never quoted). */
export class TokenError extends Data.TaggedError("TokenError")<{ readonly why: string }> {
  override get message(): string {
    return this.why
  }
}
