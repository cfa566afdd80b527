/**
 * Requests made to the Upload-Post API and its 429 answers, counted by endpoint where every request is made
 * (`UploadPost`'s one call), as Effect metrics of the process: `watch --http` and `serve --http` show them on
 * `/metrics` as Prometheus counters, whose rate is the request rate.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"

const requestsName = "comment_dm_requests_total"
const rateLimitedName = "comment_dm_rate_limited_total"

export const requests = Metric.counter(requestsName, {
  description: "Requests made to the Upload-Post API since the process started, by endpoint.",
  incremental: true
})

export const rateLimited = Metric.counter(rateLimitedName, {
  description: "Answers 429 (rate limited) from the Upload-Post API since the process started, by endpoint.",
  incremental: true
})

/** The endpoint as a label: method and path, the profile's name in a path left out (one series per endpoint). */
export const endpointLabel = (endpoint: string): string =>
  endpoint.replace(/^(\S+ \/uploadposts\/users\/).+$/, "$1{profile}")

/** One request to `endpoint` is made. */
export const countRequest = (endpoint: string): Effect.Effect<void> =>
  Metric.increment(Metric.tagged(requests, "endpoint", endpointLabel(endpoint)))

/** `endpoint` answered 429. */
export const countRateLimited = (endpoint: string): Effect.Effect<void> =>
  Metric.increment(Metric.tagged(rateLimited, "endpoint", endpointLabel(endpoint)))

export interface Count {
  readonly endpoint: string
  readonly count: number
}

export interface Counts {
  readonly requests: ReadonlyArray<Count>
  readonly rateLimited: ReadonlyArray<Count>
}

/** The counts so far, by endpoint (only endpoints requested so far). */
export const read: Effect.Effect<Counts> = Effect.map(Metric.snapshot, (pairs) => {
  const of = (name: string): Array<Count> =>
    pairs.flatMap((pair) => {
      const endpoint = pair.metricKey.tags.find((tag) => tag.key === "endpoint")?.value
      return pair.metricKey.name === name && endpoint !== undefined && MetricState.isCounterState(pair.metricState)
        ? [{ endpoint, count: Number(pair.metricState.count) }]
        : []
    }).sort((a, b) => a.endpoint.localeCompare(b.endpoint))
  return { requests: of(requestsName), rateLimited: of(rateLimitedName) }
})
