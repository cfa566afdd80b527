/**
 * `watch --http HOST:PORT`: `/healthz` (JSON; 503 when the last poll is older than three intervals, the ledger does not
 * answer, or the key was refused) and `/metrics` (Prometheus text: the campaign's people by step and state from the
 * ledger, pending and in doubt, polls, failed and rate-limited polls, poll lag, the API requests made by endpoint and
 * their 429 answers), with @effect/platform's HTTP server.
 * Shaped like `serve`'s serve/Http.ts (an address, a health source, `serve` in a scope) so the two can merge.
 */
import { ReportData } from "@comment-dm/core"
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect } from "effect"
import * as Http from "node:http"
import type { Address } from "../Dashboard.js"
import * as RequestMetricsText from "../internal/requestMetrics.js"
import { urlOf } from "../internal/url.js"
import * as Health from "./Health.js"

/** Whether the ledger answers a trivial query within two seconds. */
const ledgerAnswers = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
  Effect.timeout(Duration.seconds(2)),
  Effect.as(true),
  Effect.orElseSucceed(() => false)
)

/** A label value as Prometheus reads it. */
const label = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const healthz = (tracker: Health.Tracker) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const ledger = yield* ledgerAnswers
    const problems = [...Health.problems(tracker, now), ...(ledger ? [] : ["the ledger does not answer"])]
    return yield* HttpServerResponse.json({
      status: problems.length === 0 ? "ok" : "unhealthy",
      problems,
      campaign: tracker.campaign,
      campaign_state: tracker.campaignPaused ? "paused" : "active",
      last_poll_at: tracker.lastPollAt === undefined ? null : new Date(tracker.lastPollAt).toISOString(),
      poll_lag_seconds: Health.pollLag(tracker, now) / 1000,
      interval_seconds: tracker.everyMillis / 1000,
      paused_until: tracker.pausedUntil === undefined ? null : new Date(tracker.pausedUntil).toISOString(),
      ledger: ledger ? "ok" : "unreachable",
      key: tracker.keyRefused ? "refused" : "ok"
    }, { status: problems.length === 0 ? 200 : 503 })
  })

const metrics = (tracker: Health.Tracker) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const campaign = `campaign="${label(tracker.campaign)}"`
    const lines: Array<string> = []
    const metric = (name: string, type: "gauge" | "counter", help: string, samples: ReadonlyArray<string>) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples)
    const outcomes = yield* ReportData.outcomes(tracker.campaign).pipe(Effect.option)
    const ledgerUp = outcomes._tag === "Some"
    const rows = ledgerUp ? outcomes.value : []
    const byStepState = new Map<string, number>()
    for (const row of rows) {
      const key = `${campaign},step="${row.step}",state="${row.state}"`
      byStepState.set(key, (byStepState.get(key) ?? 0) + row.count)
    }
    const count = (state: string) => rows.filter((r) => r.state === state).reduce((sum, r) => sum + r.count, 0)
    metric(
      "comment_dm_people",
      "gauge",
      "People of the campaign in the ledger, by step and state (sent, refused, skipped, pending, in_doubt, ...).",
      [...byStepState].map(([labels, n]) => `comment_dm_people{${labels}} ${n}`)
    )
    metric("comment_dm_pending", "gauge", "People waiting for a send, all steps.", [
      `comment_dm_pending{${campaign}} ${count("pending")}`
    ])
    metric("comment_dm_in_doubt", "gauge", "People whose send may have gone out (reconcile resolves them).", [
      `comment_dm_in_doubt{${campaign}} ${count("in_doubt")}`
    ])
    metric("comment_dm_polls_total", "counter", "Polls since the watcher started.", [
      `comment_dm_polls_total{${campaign}} ${tracker.polls}`
    ])
    metric("comment_dm_poll_failures_total", "counter", "Polls whose reads failed.", [
      `comment_dm_poll_failures_total{${campaign}} ${tracker.pollFailures}`
    ])
    metric(
      "comment_dm_rate_limited_polls_total",
      "counter",
      "Polls after which rate limits (429) stretched the wait beyond the interval.",
      [`comment_dm_rate_limited_polls_total{${campaign}} ${tracker.slowedPolls}`]
    )
    metric("comment_dm_poll_lag_seconds", "gauge", "Seconds since the last poll (since the start before the first).", [
      `comment_dm_poll_lag_seconds{${campaign}} ${Health.pollLag(tracker, now) / 1000}`
    ])
    metric("comment_dm_paused", "gauge", "1 while sends pause at the daily DM limit.", [
      `comment_dm_paused{${campaign}} ${tracker.pausedUntil !== undefined && tracker.pausedUntil > now ? 1 : 0}`
    ])
    metric("comment_dm_ledger_up", "gauge", "1 when the ledger answered this scrape.", [
      `comment_dm_ledger_up{${campaign}} ${ledgerUp ? 1 : 0}`
    ])
    lines.push(...yield* RequestMetricsText.lines)
    return HttpServerResponse.text(`${lines.join("\n")}\n`, { contentType: "text/plain; version=0.0.4" })
  })

/** Serves `/healthz` and `/metrics` until the scope closes; succeeds with the address it listens on. */
export const serve = (address: Address, tracker: Health.Tracker) =>
  Effect.gen(function*() {
    const server = yield* NodeHttpServer.make(() => Http.createServer(), address)
    const app = HttpRouter.empty.pipe(
      HttpRouter.get("/healthz", healthz(tracker)),
      HttpRouter.get("/metrics", metrics(tracker)),
      Effect.catchTag("RouteNotFound", () => HttpServerResponse.text("not found", { status: 404 }))
    )
    yield* server.serve(app)
    return urlOf(server.address)
  })
