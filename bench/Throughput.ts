/**
 * Throughput at realistic API latency (every answer takes 100 ms, no pacing): a campaign can go no faster than
 * N sends x latency / concurrency, with the comment pages read while earlier people are sent to. comment-dm should
 * reach 90% of that bound, and so be at least 5x the naive sequential script.
 */
import { Pacer } from "@comment-dm/core"
import { Effect } from "effect"
import * as BenchError from "./BenchError.js"
import * as LibraryRun from "./LibraryRun.js"
import * as Naive from "./naive.js"
import * as Report from "./Report.js"
import * as SandboxProcess from "./SandboxProcess.js"
import * as Settings from "./Settings.js"
import * as Stats from "./Stats.js"

const latencyMs = 100
const concurrency = 8

interface Measured {
  readonly ledger: LibraryRun.LedgerKind
  readonly sent: number
  readonly wallMillis: number
}

export const run = (mode: Settings.Mode) =>
  Effect.gen(function*() {
    const comments = Settings.pick(mode, { full: 2_000, quick: 500 })
    const repeats = Settings.pick(mode, { full: 3, quick: 1 })
    const sandboxSettings: SandboxProcess.Settings = {
      comments,
      people: comments / 2,
      matchRatio: 0.4,
      latencyMs,
      dailyLimit: Settings.noDailyLimit,
      seed: Settings.seed
    }
    const sandbox = yield* SandboxProcess.start(sandboxSettings)
    const delivered = Effect.map(sandbox.control.stats, (stats) => stats.deliveries)

    const measure = (ledger: LibraryRun.LedgerKind, repeat: number) =>
      Effect.gen(function*() {
        const before = yield* delivered
        const result = yield* LibraryRun.run(sandbox, {
          campaign: {
            ...LibraryRun.guideCampaign(sandbox, { per_hour: 3_600, concurrency }),
            name: `throughput-${ledger}-${repeat}`
          },
          ledger,
          pacer: Pacer.unlimited
        })
        const sent = (yield* delivered) - before
        if (sent !== result.summary.counts.sent) {
          return yield* new BenchError.BenchError({
            benchmark: "throughput",
            reason: `the sandbox delivered ${sent} DMs but comment-dm reports ${result.summary.counts.sent} sent`
          })
        }
        return { ledger, sent, wallMillis: result.wallMillis } satisfies Measured
      })

    const runs: Array<Measured> = []
    for (let repeat = 0; repeat < repeats; repeat++) {
      runs.push(yield* measure("durable", repeat))
      runs.push(yield* measure("memory", repeat))
    }

    const naiveBefore = yield* delivered
    const naive = yield* Effect.promise(() =>
      Naive.run({
        baseUrl: sandbox.baseUrl,
        apiKey: sandbox.apiKey,
        platform: "instagram",
        user: sandbox.profile,
        posts: sandbox.postIds,
        keyword: "guide",
        message: "Hi @{{username}}, here is your guide: https://example.com/guide"
      })
    )
    const naiveDelivered = (yield* delivered) - naiveBefore

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
        `keyword "guide" (word mode); ledger a SQLite file (durable) or ":memory:"; median of ${repeats} run(s), ` +
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
          }; sandbox counted ${Report.count(naiveDelivered)})`
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
