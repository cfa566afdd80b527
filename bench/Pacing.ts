/**
 * Pacing: with `pace.per_hour` set, the sends the platform sees (the sandbox's delivery times) must never exceed the
 * pace in any window, and the achieved rate must be within 2% of it.
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
    const times = (yield* sandbox.control.deliveries).map((delivery) => new Date(delivery.at).getTime())
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
    // The n-th request to leave against the n-th delivery stamp: the way from here to the platform's count.
    const leftAt = [...result.sendStarts].sort((a, b) => a - b)
    const way = [...times].sort((a, b) => a - b).map((at, index) => at - (leftAt[index] ?? at)).sort((a, b) => a - b)
    const quantile = (share: number) => way[Math.min(way.length - 1, Math.floor(way.length * share))] ?? 0
    const describe = (list: typeof windows) =>
      list.map(({ limit, most, window }) => `${window} s: ${most} / ${limit}`).join("; ")

    return {
      title: "Pacing",
      settings: [
        `Sandbox: \`${sandbox.commandLine}\` (every answer ${latencyMs} ms)`,
        `comment-dm: \`Campaign.run\` with the campaign's own pacer, \`pace: { per_hour: ${perHour}, concurrency: ` +
        `${concurrency} }\` (${perSecond} per second), \`maxSends: ${sends}\` (${seconds} s at the pace), ` +
        "durable ledger",
        "Times: the sandbox's delivery timestamps (`at`), i.e. what the platform sees"
      ],
      figures: [
        {
          label: "sends the platform sees in any window (most / limit)",
          value: describe(windows),
          target: "never above the limit",
          met: windows.every(({ limit, most }) => most <= limit)
        },
        {
          label: "DM requests leaving comment-dm in any window (most / limit)",
          value: `${describe(leaving)}; ${Report.rate(Stats.ratePerSecond(result.sendStarts), "requests/s")}`
        },
        {
          label: "from leaving comment-dm to the sandbox's stamp (n-th request to n-th delivery)",
          value: `median ${quantile(0.5)} ms, 99th percentile ${quantile(0.99)} ms, most ${quantile(1)} ms (the ` +
            `answer delay is ${latencyMs} ms)`
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
        "The rate counts n sends as n - 1 intervals between the first and the last delivery. Requests leaving " +
        "comment-dm are timed by the `onRequest` hook of the transport the command uses (`UploadPost.node`); the " +
        "platform's count is the sandbox's delivery stamps, made after its answer delay, so the difference " +
        "between the two is the way there: scheduling of both processes and the sandbox's 100 ms timer.",
        "The pacer holds its limit on the moments sends start: no second holds more than its share of starts, and " +
        "none starts within 7 ms after the window of its share-th predecessor, room for jitter on the way. It plans " +
        "1.5% below the pace (15 ms of slack a second) so that the sends after a late wake-up get back on schedule " +
        "without coming closer than that; the rate figure includes that slack. The platform's count can still see " +
        "one more in a second when the way's jitter (the spread between the median and the most above) exceeds " +
        "the slack of that moment."
      ]
    }
  }).pipe(BenchError.within("pacing"))
