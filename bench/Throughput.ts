/**
 * Throughput at realistic API latency (every answer takes 100 ms, no pacing): a campaign can go no faster than
 * N sends x latency / concurrency, with the comment pages read while earlier people are sent to. comment-dm should
 * reach 90% of that bound, and so be at least 5x the naive sequential script.
 */
import { Effect } from "effect"
import * as BenchError from "./BenchError.js"
import * as LibraryRun from "./LibraryRun.js"
import * as Report from "./Report.js"
import * as SandboxProcess from "./SandboxProcess.js"
import * as Settings from "./Settings.js"
import * as Stats from "./Stats.js"

const latencyMs = 100
const concurrency = 8

export const run = (mode: Settings.Mode) =>
  Effect.gen(function*() {
    const comments = Settings.pick(mode, { full: 2_000, quick: 500 })
    const repeats = Settings.pick(mode, { full: 3, quick: 1 })
    const sandbox = yield* SandboxProcess.start(SandboxProcess.guidePost(comments, latencyMs))
    const runs = yield* LibraryRun.measureBothLedgers(sandbox, { benchmark: "throughput", repeats, concurrency })

    const naive = yield* LibraryRun.naiveRun(sandbox)

    const summarise = (ledger: LibraryRun.LedgerKind) => {
      const mine = runs.filter((run) => run.ledger === ledger)
      const sent = mine[0]?.sent ?? 0
      const wall = Stats.median(mine.map((run) => run.wallMillis))
      const bound = (sent * latencyMs) / concurrency
      return { sent, wall, bound, efficiency: bound / wall, rate: (sent / wall) * 1000 }
    }
    const durable = summarise("durable")
    const memory = summarise("memory")
    const naiveRate = (naive.sent / naive.elapsedMillis) * 1000
    const walls = (ledger: LibraryRun.LedgerKind) =>
      runs.filter((run) => run.ledger === ledger).map((run) => Report.millis(run.wallMillis)).join(", ")

    return {
      title: "Throughput at 100 ms API latency",
      settings: [
        `Sandbox: \`${sandbox.commandLine}\` (${Report.count(comments)} comments on one post, every answer ` +
        `${latencyMs} ms)`,
        `comment-dm: \`Campaign.run\` in the bench process, \`pacer: Pacer.unlimited\`, concurrency ${concurrency}, ` +
        `keyword "guide" (word mode); ledger a SQLite file (durable) or \`SqliteLedger.layerMemory()\`; median of ${repeats} run(s) after ${LibraryRun.warmUpRounds} unmeasured warm-up run of each, ` +
        "wall time including opening the ledger",
        "Naive: bench/naive.ts on the same sandbox, same keyword (lowercase `includes`), one DM at a time",
        "Bound: N sends x 100 ms / 8 (pages are read while earlier people are sent to, so they add nothing)"
      ],
      figures: [
        {
          label: "comment-dm, durable ledger: share of the concurrency bound",
          value: `${Report.percent(durable.efficiency)} (${Report.count(durable.sent)} DMs in ${
            Report.millis(durable.wall)
          }, bound ${Report.millis(durable.bound)}; runs: ${walls("durable")})`,
          target: ">= 90%",
          met: durable.efficiency >= 0.9
        },
        {
          label: "comment-dm, in-memory ledger: share of the concurrency bound",
          value: `${Report.percent(memory.efficiency)} (${Report.count(memory.sent)} DMs in ${
            Report.millis(memory.wall)
          }; runs: ${walls("memory")})`
        },
        {
          label: "naive script",
          value: `${Report.rate(naiveRate)} (${Report.count(naive.sent)} DMs in ${Report.millis(naive.elapsedMillis)}${
            naive.failed > 0 ? `, ${naive.failed} failed` : ""
          }; sandbox counted ${Report.count(naive.delivered)})`
        },
        {
          label: "comment-dm (durable) vs naive, DMs per second",
          value: `${Report.ratio(durable.rate / naiveRate)} (${Report.rate(durable.rate)} vs ${
            Report.rate(naiveRate)
          })`,
          target: ">= 5x",
          met: durable.rate / naiveRate >= 5
        },
        {
          label: "comment-dm (in-memory) vs naive, DMs per second",
          value: `${Report.ratio(memory.rate / naiveRate)} (${Report.rate(memory.rate)})`
        }
      ],
      notes: [
        `The naive script sends to ${Report.count(naive.sent)} people, comment-dm to ${Report.count(durable.sent)}: ` +
        "a lowercase `includes` also takes \"guidelines?\" and \"misguided take\" and misses \"ＧＵＩＤＥ\" and " +
        "\"gui\u0301de\". The comparison is in DMs per second."
      ]
    }
  }).pipe(BenchError.within("throughput"))
