/**
 * comment-dm as a library in this process: `Campaign.run` over the command's HTTP client and a SQLite ledger, against a
 * sandbox in another process.
 */
import { Campaign, CampaignSpec, KeepAliveHttpClient, Pacer, UploadPost } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import { Effect, Layer, Redacted } from "effect"
import * as Path from "node:path"
import * as BenchError from "./BenchError.js"
import * as TempDir from "./internal/TempDir.js"
import * as Naive from "./naive.js"
import type { RunningSandbox } from "./SandboxProcess.js"

/**
 * `durable`: a SQLite file, every claim on disk before its request (WAL synced after each group commit); `memory`:
 * `SqliteLedger.layerMemory()`.
 */
export type LedgerKind = "durable" | "memory"

export interface Settings {
  readonly campaign: CampaignSpec.Input
  readonly ledger: LedgerKind
  /** Overrides the campaign's pace, e.g. `Pacer.unlimited`: the run's `Pacer` service. */
  readonly pacer?: Pacer.Service
  readonly maxSends?: number
}

export interface Result {
  readonly summary: Campaign.Summary
  /** Wall time of the whole run, layers (ledger file, migrations) included. */
  readonly wallMillis: number
  /** When each DM request left this process (epoch ms, the clock the sandbox stamps deliveries with). */
  readonly sendStarts: ReadonlyArray<number>
}

/** The message every benchmark sends, comment-dm and the naive script alike. */
export const guideMessage = "Hi @{{username}}, here is your guide: https://example.com/guide"

/** The campaign every benchmark runs: whoever writes "guide" gets the guide. */
export const guideCampaign = (
  sandbox: RunningSandbox,
  pace: { readonly per_hour: number; readonly concurrency: number }
): CampaignSpec.Input => ({
  name: "bench-guide",
  platform: "instagram",
  user: sandbox.profile,
  posts: [...sandbox.postIds],
  match: { keywords: ["guide"], mode: "word" },
  message: guideMessage,
  // DMs, as the naive script sends: the sandbox runs with open windows, so every one is accepted.
  delivery: "dm",
  pace
})

export const run = (sandbox: RunningSandbox, settings: Settings) =>
  Effect.scoped(
    Effect.gen(function*() {
      const dir = yield* TempDir.make("ledger")
      const spec = yield* CampaignSpec.make(settings.campaign)
      const sendStarts: Array<number> = []
      // The client the command uses, watched: every DM request is timed as it leaves.
      const api = UploadPost.UploadPost.Default.pipe(
        Layer.provide(
          UploadPost.UploadPostConfig.layer({ baseUrl: sandbox.baseUrl, apiKey: Redacted.make(sandbox.apiKey) })
        ),
        Layer.provide(KeepAliveHttpClient.layer({
          onRequest: (request) => {
            if (request.method === "POST" && request.url.endsWith("/uploadposts/dms/send")) sendStarts.push(Date.now())
          }
        }))
      )
      const ledger = settings.ledger === "memory"
        ? SqliteLedger.layerMemory()
        : SqliteLedger.layer({ filename: Path.join(dir, "ledger.sqlite") })
      const started = performance.now()
      const pace = settings.pacer === undefined ? Layer.empty : Layer.succeed(Pacer.Pacer, settings.pacer)
      const summary = yield* Campaign.run(spec, settings.maxSends === undefined ? {} : { maxSends: settings.maxSends })
        .pipe(Effect.provide(Layer.mergeAll(api, ledger, pace)))
      return { summary, wallMillis: performance.now() - started, sendStarts } satisfies Result
    })
  )

export interface Measured {
  readonly ledger: LedgerKind
  readonly sent: number
  readonly wallMillis: number
  /** CPU time of this process (user + system) during the run. */
  readonly cpuMillis: number
}

/**
 * One unpaced run of the guide campaign under its own name, checked against the sandbox: the DMs it delivered must
 * be the ones comment-dm reports sent.
 */
export const measureUnpaced = (
  sandbox: RunningSandbox,
  options: {
    readonly benchmark: string
    readonly ledger: LedgerKind
    /** Names the run's campaign, e.g. `0` or `warm-up`. */
    readonly round: string
    readonly concurrency: number
  }
) =>
  Effect.gen(function*() {
    const delivered = Effect.map(sandbox.control.stats, (stats) => stats.deliveries)
    const before = yield* delivered
    const cpu = process.cpuUsage()
    const result = yield* run(sandbox, {
      campaign: {
        ...guideCampaign(sandbox, { per_hour: 3_600, concurrency: options.concurrency }),
        name: `${options.benchmark}-${options.ledger}-${options.round}`
      },
      ledger: options.ledger,
      pacer: Pacer.unlimited
    })
    const used = process.cpuUsage(cpu)
    const sent = (yield* delivered) - before
    if (sent !== result.summary.counts.sent) {
      return yield* new BenchError.BenchError({
        benchmark: options.benchmark,
        reason: `the sandbox delivered ${sent} DMs but comment-dm reports ${result.summary.counts.sent} sent`
      })
    }
    return {
      ledger: options.ledger,
      sent,
      wallMillis: result.wallMillis,
      cpuMillis: (used.user + used.system) / 1000
    } satisfies Measured
  })

/** Unmeasured rounds before the measured ones: the first runs in a process pay for compiling the code (the JIT). */
export const warmUpRounds = 1

/**
 * `repeats` rounds of an unpaced run with the durable ledger, then with the in-memory one, after
 * {@link warmUpRounds} rounds that are run the same way and not kept.
 */
export const measureBothLedgers = (
  sandbox: RunningSandbox,
  options: { readonly benchmark: string; readonly repeats: number; readonly concurrency: number }
) =>
  Effect.gen(function*() {
    for (let round = 0; round < warmUpRounds; round++) {
      for (const ledger of ["durable", "memory"] as const) {
        yield* measureUnpaced(sandbox, { ...options, ledger, round: `warm-up-${round}` })
      }
    }
    const runs: Array<Measured> = []
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      for (const ledger of ["durable", "memory"] as const) {
        runs.push(yield* measureUnpaced(sandbox, { ...options, ledger, round: String(repeat) }))
      }
    }
    return runs
  })

/** The naive script on the same sandbox and campaign, with the DMs the sandbox delivered for it and its CPU time. */
export const naiveRun = (sandbox: RunningSandbox) =>
  Effect.gen(function*() {
    const delivered = Effect.map(sandbox.control.stats, (stats) => stats.deliveries)
    const before = yield* delivered
    const cpu = process.cpuUsage()
    const result = yield* Effect.promise(() =>
      Naive.run({
        baseUrl: sandbox.baseUrl,
        apiKey: sandbox.apiKey,
        platform: "instagram",
        user: sandbox.profile,
        posts: sandbox.postIds,
        keyword: "guide",
        message: guideMessage
      })
    )
    const used = process.cpuUsage(cpu)
    return {
      ...result,
      delivered: (yield* delivered) - before,
      cpuMillis: (used.user + used.system) / 1000
    }
  })
