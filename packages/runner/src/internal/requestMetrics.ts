/**
 * The Upload-Post requests of this process and their 429 answers (core `RequestMetrics`), as Prometheus text for the
 * `/metrics` of `watch --http` and `serve --http`. Counters: a scraper's rate() of them is the request rate.
 */
import { RequestMetrics } from "@comment-dm/core"
import { Effect } from "effect"

const label = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const family = (name: string, help: string, counts: ReadonlyArray<RequestMetrics.Count>) => [
  `# HELP ${name} ${help}`,
  `# TYPE ${name} counter`,
  ...counts.map((count) => `${name}{endpoint="${label(count.endpoint)}"} ${count.count}`)
]

export const lines: Effect.Effect<ReadonlyArray<string>> = Effect.map(RequestMetrics.read, (counts) => [
  ...family(
    "comment_dm_requests_total",
    "Requests made to the Upload-Post API since the process started, by endpoint (answered or not).",
    counts.requests
  ),
  ...family(
    "comment_dm_rate_limited_total",
    "Answers 429 (rate limited) from the Upload-Post API since the process started, by endpoint.",
    counts.rateLimited
  )
])
