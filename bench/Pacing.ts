/**
 * Pacing: with `pace.per_hour` set, the sends the platform sees (when each DM request arrived at the sandbox) must
 * never exceed the pace in any window, and the achieved rate must be within 2% of it.
 */
import { Effect } from "effect"
import * as BenchError from "./BenchError.js"
import * as LibraryRun from "./LibraryRun.js"
import * as Report from "./Report.js"
import * as SandboxProcess from "./SandboxProcess.js"
import * as Settings from "./Settings.js"
import * as Stats from "./Stats.js"

const perHour = 72_000
const perSecond = perHour / 3_600
/** Room for twice the pace at 100 ms a request, so that the pacer, not the sending, sets the rate. */
const concurrency = 8
const latencyMs = 100

export const run = (mode: Settings.Mode) =>
  Effect.gen(function*() {
    const seconds = Settings.pick(mode, { full: 30, quick: 5 })
    const sends = seconds * perSecond
    const comments = Settings.pick(mode, { full: 4_000, quick: 1_000 })
    const sandbox = yield* SandboxProcess.start(SandboxProcess.guidePost(comments, latencyMs))
    const result = yield* LibraryRun.run(sandbox, {
      campaign: { ...LibraryRun.guideCampaign(sandbox, { per_hour: perHour, concurrency }), name: "pacing" },
      ledger: "durable",
      maxSends: sends
    })
    const deliveries = yield* sandbox.control.deliveries
    // Arrivals are what a platform's rate limits count; delivery stamps come after the sandbox's answer delay.
    const times = deliveries.map((delivery) => new Date(delivery.receivedAt).getTime())
    const delivered = deliveries.map((delivery) => new Date(delivery.at).getTime())
    const achieved = Stats.ratePerSecond(times)
    const deviation = Math.abs(achieved - perSecond) / perSecond
    const windowsOf = (events: ReadonlyArray<number>) =>
      [1, 5, 10].filter((window) => window <= seconds).map((window) => ({
        window,
        most: Stats.maxInWindow(events, window * 1000),
        limit: window * perSecond
      }))
    const windows = windowsOf(times)
    const leaving = windowsOf(result.sendStarts)
    const deliveredWindows = windowsOf(delivered)
    // The n-th request to leave against the n-th arrival or delivery: the way from here to the platform.
    const leftAt = Stats.ascending(result.sendStarts)
    const wayTo = (stamps: ReadonlyArray<number>) => {
      const way = Stats.ascending(stamps).map((at, index) => at - (leftAt[index] ?? at))
      return `median ${Stats.quantile(way, 0.5)} ms, 99th percentile ${Stats.quantile(way, 0.99)} ms, ` +
        `most ${Stats.quantile(way, 1)} ms`
    }
    const describe = (list: typeof windows) =>
      list.map(({ limit, most, window }) => `${window} s: ${most} / ${limit}`).join("; ")

    return {
      title: "Pacing",
      settings: [
        `Sandbox: \`${sandbox.commandLine}\` (every answer ${latencyMs} ms)`,
        `comment-dm: \`Campaign.run\` with the campaign's own pacer, \`pace: { per_hour: ${perHour}, concurrency: ` +
        `${concurrency} }\` (${perSecond} per second), \`maxSends: ${sends}\` (${seconds} s at the pace), ` +
        "durable ledger",
        "Times: when each DM request arrived at the sandbox (`receivedAt` of its deliveries, the moment its " +
        "request-rate limit counts a request, as a platform's rate limits do); the delivery stamps (`at`, after the " +
        "100 ms answer delay) are shown beside them"
      ],
      figures: [
        {
          label: "DM requests arriving at the platform in any window (most / limit)",
          value: describe(windows),
          target: "never above the limit",
          met: windows.every(({ limit, most }) => most <= limit)
        },
        {
          label: "DM requests leaving comment-dm in any window (most / limit)",
          value: `${describe(leaving)}; ${Report.rate(Stats.ratePerSecond(result.sendStarts), "requests/s")}`
        },
        {
          label: "deliveries the sandbox stamps in any window, after its answer delay (most / limit)",
          value: describe(deliveredWindows)
        },
        {
          label: "from leaving comment-dm to the sandbox (n-th request to n-th arrival; to n-th delivery)",
          value: `arrival: ${wayTo(times)}; delivery: ${wayTo(delivered)} (the answer delay is ${latencyMs} ms)`
        },
        {
          label: "achieved rate vs the pace",
          value: `${Report.rate(achieved, "sends/s")} vs ${perSecond} (${achieved >= perSecond ? "+" : "-"}${
            Report.percent(deviation)
          }; ${Report.count(times.length)} sends, run took ${Report.millis(result.wallMillis)})`,
          target: "within 2%",
          met: deviation <= 0.02 && times.length === sends
        }
      ],
      notes: [
        "The rate counts n sends as n - 1 intervals between the first and the last arrival. Requests leaving " +
        "comment-dm are timed by the `onRequest` hook of the client the command uses (`KeepAliveHttpClient`); the " +
        "difference to the arrivals is the way there (scheduling of both processes, the loopback), and the " +
        "delivery stamps add the jitter of the sandbox's own 100 ms timer, which stands for the platform's work " +
        "after it has counted the request.",
        "The pacer holds its limit on the moments sends start: no second holds more than its share of starts, and " +
        "none starts within 7 ms after the window of its share-th predecessor. A request may reach the platform " +
        "later than it left, so the window after a start is lengthened by how much that request's round trip took " +
        "above the fastest recent one (at most 50 ms; the full 50 ms while its answer is out). It plans 1.5% below " +
        "the pace (15 ms of slack a second) so that the sends after a late wake-up or a lengthened window get back " +
        "on schedule; the rate figure includes that slack."
      ]
    }
  }).pipe(BenchError.within("pacing"))
