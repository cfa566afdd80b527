/**
 * Polling: adaptive polling against round-robin polling by the same engine at the same allowance, on a virtual clock
 * (an Effect Clock that moves only when told, see internal/VirtualClock.ts) so that hours of traffic take minutes.
 *
 * A sandbox in this process serves 100 profiles of 10 posts each on one API key with a plan of 250 requests a minute
 * and 2,500 per 10 minutes (answered 429 above them); comments arrive at a fixed rate, 10% of the posts getting 90% of
 * them, and have been arriving at the same rates for hours before the watch starts (the posts are live). One
 * `Watch.watch` per profile (a campaign is one profile's) follows its 10 posts; the watchers share one read allowance
 * (`ReadAllowance`, as the watchers of one key in a process do); sandbox and watchers follow the same clock, which
 * the driver moves on to the next wake-up once every watcher that woke has ended its poll. Time to DM: from a
 * comment's timestamp to the sandbox's delivery of its DM. Beside the two strategies, the section computes what the
 * best static allocation that knows every post's true rate would give (`oracle`), to show what the targets ask.
 *
 * `npx tsx bench/Polling.ts [--quick]` prints the section as Markdown (with POLLING_DEBUG=1 in the environment, the
 * simulated time as it goes, on stderr); `bench/run.ts` takes `run` as one benchmark.
 */
import * as CampaignSpec from "@comment-dm/core/CampaignSpec"
import * as KeepAliveHttpClient from "@comment-dm/core/KeepAliveHttpClient"
import * as Matcher from "@comment-dm/core/Matcher"
import * as Pacer from "@comment-dm/core/Pacer"
import * as ReadAllowance from "@comment-dm/core/ReadAllowance"
import * as Retry from "@comment-dm/core/Retry"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import * as StopSignal from "@comment-dm/core/StopSignal"
import * as UploadPost from "@comment-dm/core/UploadPost"
import * as Watch from "@comment-dm/core/Watch"
import { DataSet, Sandbox } from "@comment-dm/sandbox"
import { HttpClient } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { Chunk, Deferred, Duration, Effect, Either, Fiber, Layer, Redacted, Stream } from "effect"
import * as Url from "node:url"
import { parseArgs } from "node:util"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import * as BenchError from "./BenchError.js"
import * as Oracle from "./internal/Oracle.js"
import { VirtualClock } from "./internal/VirtualClock.js"
import * as Machine from "./Machine.js"
import * as Report from "./Report.js"
import * as Settings from "./Settings.js"
import * as Stats from "./Stats.js"

const minute = 60_000

/** The plan of the benchmark's key. */
const plan = { perMinute: 250, perTenMinutes: 2_500 } as const

export interface Scenario {
  readonly profiles: number
  readonly postsPerProfile: number
  /** New comments a minute across every post. */
  readonly commentsPerMinute: number
  /** Comments asking for the guide, each a DM. */
  readonly matchRatio: number
  /** Comment requests a minute, shared by the watchers: the plan less the sends and a margin. */
  readonly readsPerMinute: number
  readonly every: Duration.Duration
  /** Comments arrived at the same rates for this long before the start (posts already live). */
  readonly history: number
  /** Before the measured comments: every post read once, the watchers' starts spread over it. */
  readonly warmUp: number
  /** Comments arriving in this span after the warm-up are measured. */
  readonly measured: number
  /** After it: time for the last measured comments to be sent. */
  readonly tail: number
}

export const scenarioOf = (mode: Settings.Mode): Scenario => ({
  profiles: 100,
  postsPerProfile: 10,
  commentsPerMinute: 10,
  matchRatio: 0.4,
  readsPerMinute: 220,
  every: Duration.seconds(15),
  history: 6 * 60 * minute,
  warmUp: 5 * minute,
  measured: Settings.pick(mode, { full: 60, quick: 10 }) * minute,
  tail: Settings.pick(mode, { full: 30, quick: 10 }) * minute
})

export interface StrategyResult {
  readonly strategy: Watch.WatchOptions["polling"] & string
  /** Comment timestamp to DM delivery, in milliseconds, of each measured comment sent. */
  readonly latencies: ReadonlyArray<number>
  /** Of those, the comments on the hot posts. */
  readonly hotLatencies: ReadonlyArray<number>
  /** Every post's true comment rate (a minute) and whether it is hot, as the sandbox draws them. */
  readonly rates: ReadonlyArray<{ readonly perMinute: number; readonly hot: boolean }>
  /** Share of the comment reads of the measured span that went to the hot posts. */
  readonly hotReadShare: number
  /** Measured comments asking for the guide that were not sent by the end. */
  readonly unsent: number
  /** Requests the key made in the simulated run (reads and sends), and the most in one fixed window of the plan. */
  readonly requests: number
  readonly commentRequests: number
  readonly sends: number
  readonly maxPerMinute: number
  readonly maxPerTenMinutes: number
  readonly rateLimited: number
  readonly simulatedMinutes: number
  readonly wallMillis: number
  /** Heap used after a forced collection at the start, and the most seen during the run (sandbox included). */
  readonly heapStart: number
  readonly heapPeak: number
  readonly rssPeak: number
}

/** `global.gc` without starting the process with --expose-gc. */
export const collectGarbage = (): void => {
  V8.setFlagsFromString("--expose-gc")
  const gc: unknown = Vm.runInNewContext("gc")
  if (typeof gc === "function") gc()
}

const profileName = (index: number) => `creator${String(index).padStart(3, "0")}`

type PollEvent = Parameters<NonNullable<Watch.WatchOptions["onEvent"]>>[0] & { readonly nextInMillis: number }

/**
 * The sandbox of the scenario and one watcher per profile, started on the clock in use, each after its offset (spread
 * over one allowance period, so that the watchers' reads do not all fall into the same minutes). `onPoll` hears each
 * watcher's `Polled` and `PollFailed`.
 */
export const startWatchers = (
  scenario: Scenario,
  strategy: "adaptive" | "round-robin",
  onPoll: (index: number, event: PollEvent) => void,
  onRead: (postId: string) => void = () => undefined
) =>
  Effect.gen(function*() {
    const profiles = Array.from({ length: scenario.profiles }, (_, index) => {
      const name = profileName(index)
      return {
        name,
        // No comments of their own: a post's comments are the arrivals' (the hours before the start included).
        data: DataSet.generate({
          comments: 0,
          posts: scenario.postsPerProfile,
          firstPost: index * scenario.postsPerProfile,
          profile: name,
          matchRatio: 0,
          spanDays: 2
        })
      }
    })
    const [first, ...rest] = profiles
    if (first === undefined) return yield* Effect.dieMessage("no profiles")
    const sandbox = yield* Sandbox.make({
      seed: Settings.seed,
      windows: "open",
      profiles: [first, ...rest],
      faults: { plan, dailyDmLimit: Settings.noDailyLimit },
      arrivals: {
        perMinute: scenario.commentsPerMinute,
        hotShare: 0.1,
        hotWeight: 0.9,
        matchRatio: scenario.matchRatio,
        // People rarely comment twice: each matching comment is someone new to DM.
        people: 50_000_000,
        // Live posts: comments at the same rates for hours before the watch, none asking (served by an earlier run).
        historyMinutes: scenario.history / minute,
        historyMatchRatio: 0
      }
    })
    const api = UploadPost.UploadPost.Default.pipe(
      Layer.provide(UploadPost.UploadPostConfig.layer({
        baseUrl: sandbox.baseUrl,
        apiKey: Redacted.make(sandbox.apiKey),
        retry: Retry.noWaiting
      })),
      Layer.provide(Layer.effect(
        HttpClient.HttpClient,
        Effect.map(
          HttpClient.HttpClient,
          HttpClient.tapRequest((request) =>
            Effect.sync(() => {
              if (!request.url.endsWith("/uploadposts/comments")) return
              const post = request.urlParams.find(([name]) => name === "post_id")?.[1]
              if (post !== undefined) onRead(post)
            })
          )
        )
      )),
      Layer.provide(KeepAliveHttpClient.layer())
    )
    const stop = yield* Deferred.make<void>()
    const services = yield* Layer.build(Layer.mergeAll(
      api,
      SqliteLedger.layerMemory(),
      Pacer.layerUnlimited,
      StopSignal.layer({ interrupt: Deferred.await(stop) }),
      // One allowance for the key, divided among the watchers by their posts' demand at each poll.
      ReadAllowance.layer(scenario.readsPerMinute)
    ))
    const postIds = yield* sandbox.postIds
    // The starts spread over a quarter of a minute; the shared allowance paces the first reads of every post.
    const offsets = profiles.map((_, index) => Math.round(index * 15_000 / profiles.length))
    const watchers = yield* Effect.forEach(profiles, (profile, index) =>
      Effect.gen(function*() {
        const spec = yield* CampaignSpec.make({
          name: `polling-${profile.name}`,
          platform: "instagram",
          user: profile.name,
          posts: postIds.slice(index * scenario.postsPerProfile, (index + 1) * scenario.postsPerProfile),
          match: { keywords: ["guide"] },
          message: "Hi @{{username}}, here is your guide: https://example.com/guide",
          delivery: "dm",
          pace: { per_hour: 1_000_000, concurrency: 4 }
        })
        return yield* Effect.sleep(Duration.millis(offsets[index] ?? 0)).pipe(
          Effect.zipRight(Watch.watch(spec, {
            every: scenario.every,
            polling: strategy,
            onEvent: (event) =>
              event._tag === "Polled" || event._tag === "PollFailed"
                ? Effect.sync(() => onPoll(index, event))
                : Effect.void
          })),
          Effect.provide(services),
          Effect.fork
        )
      }).pipe(Effect.orDie))
    return { sandbox, services, postIds, watchers, offsets, stop }
  })

/** One strategy's run, on its own virtual clock, sandbox and ledger; the same seed gives the same comments. */
export const runStrategy = (scenario: Scenario, strategy: "adaptive" | "round-robin") => {
  const start = Date.parse("2026-03-02T09:00:00Z")
  const clock = new VirtualClock(start)
  return Effect.gen(function*() {
    collectGarbage()
    const heapStart = process.memoryUsage().heapUsed
    const wallStart = performance.now()
    /** Each watcher's next wake-up, once it has ended its poll; undefined while it polls. */
    const wakeAt: Array<number | undefined> = []
    let polling = 0
    let idle: (() => void) | undefined
    /** Comment reads of the measured span, by post. */
    const reads = new Map<string, number>()
    const measuring = (at: number) => at >= start + scenario.warmUp && at < start + scenario.warmUp + scenario.measured
    const { offsets, postIds, sandbox, services, stop, watchers } = yield* startWatchers(
      scenario,
      strategy,
      (index, event) => {
        if (wakeAt[index] === undefined && --polling === 0) idle?.()
        wakeAt[index] = clock.unsafeCurrentTimeMillis() + event.nextInMillis
      },
      (post) => {
        if (measuring(clock.unsafeCurrentTimeMillis())) reads.set(post, (reads.get(post) ?? 0) + 1)
      }
    )
    for (const [index, offset] of offsets.entries()) wakeAt[index] = start + offset

    // The driver: once no watcher is polling, the clock goes on to the earliest wake-up.
    const end = start + scenario.warmUp + scenario.measured + scenario.tail
    let heapPeak = 0
    let rssPeak = 0
    let sampledAt = 0
    while (true) {
      if (polling > 0) {
        // A watcher that never ends its poll would hang the run: after two minutes of real time, it fails instead.
        const ended = yield* Effect.promise(() =>
          new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), 120_000)
            idle = () => {
              clearTimeout(timer)
              resolve(true)
            }
          })
        )
        idle = undefined
        if (!ended) return yield* Effect.dieMessage(`${polling} watcher(s) did not end their poll`)
      }
      const next = Math.min(...wakeAt.map((at) => at ?? Number.POSITIVE_INFINITY))
      if (next > end) break
      for (const [index, at] of wakeAt.entries()) {
        if (at !== undefined && at <= next) {
          wakeAt[index] = undefined
          polling++
        }
      }
      clock.advanceTo(next)
      if (next - sampledAt >= minute) {
        if (process.env["POLLING_DEBUG"] !== undefined) {
          process.stderr.write(
            `${strategy} t+${((next - start) / minute).toFixed(1)} min, wall ${
              ((performance.now() - wallStart) / 1000).toFixed(1)
            } s\n`
          )
        }
        sampledAt = next
        const memory = process.memoryUsage()
        heapPeak = Math.max(heapPeak, memory.heapUsed)
        rssPeak = Math.max(rssPeak, memory.rss)
      }
    }
    clock.advanceTo(end)
    yield* Deferred.succeed(stop, undefined)
    yield* Effect.forEach(watchers, Fiber.join, { discard: true }).pipe(Effect.orDie)
    const stats = yield* sandbox.stats
    const key = stats.keys[sandbox.apiKey]
    const deliveries = yield* sandbox.deliveries
    const rates = (yield* sandbox.arrivals).posts
    const hot = new Set(rates.filter((post) => post.hot).map((post) => post.postId))

    // The comments' timestamps, read back through the API once the plan is lifted (not counted above).
    yield* sandbox.setFaults({ plan: null })
    const matcher = Either.getOrThrow(Matcher.make({ keywords: ["guide"] }))
    const client = yield* Effect.provide(UploadPost.UploadPost, services)
    const asked = new Map<string, { readonly at: number; readonly hot: boolean }>()
    for (const [index, postId] of postIds.entries()) {
      const comments = yield* Stream.runCollect(client.comments({
        platform: "instagram",
        user: profileName(Math.floor(index / scenario.postsPerProfile)),
        post: { postId }
      })).pipe(Effect.orDie)
      for (const comment of Chunk.toReadonlyArray(comments)) {
        const at = comment.timestamp?.getTime() ?? Number.NaN
        if (comment.userId === undefined || matcher.find(comment.text) === undefined) continue
        const earlier = asked.get(comment.userId)
        if (earlier === undefined || at < earlier.at) asked.set(comment.userId, { at, hot: hot.has(postId) })
      }
    }
    const sentAt = new Map(deliveries.map((delivery) => [delivery.recipientId, Date.parse(delivery.at)] as const))
    const measuredFrom = start + scenario.warmUp
    const measuredTo = measuredFrom + scenario.measured
    const latencies: Array<number> = []
    const hotLatencies: Array<number> = []
    let unsent = 0
    for (const [person, comment] of asked) {
      if (comment.at < measuredFrom || comment.at >= measuredTo) continue
      const at = sentAt.get(person)
      if (at === undefined) {
        unsent++
        continue
      }
      latencies.push(at - comment.at)
      if (comment.hot) hotLatencies.push(at - comment.at)
    }
    let hotReads = 0
    let allReads = 0
    for (const [post, n] of reads) {
      allReads += n
      if (hot.has(post)) hotReads += n
    }
    return {
      strategy,
      latencies,
      hotLatencies,
      hotReadShare: allReads === 0 ? 0 : hotReads / allReads,
      rates: rates.map(({ hot, perMinute }) => ({ perMinute, hot })),
      unsent,
      requests: key?.requests ?? Number.NaN,
      commentRequests: stats.requests["GET /uploadposts/comments"] ?? 0,
      sends: stats.requests["POST /uploadposts/dms/send"] ?? 0,
      maxPerMinute: key?.maxPerMinute ?? Number.NaN,
      maxPerTenMinutes: key?.maxPerTenMinutes ?? Number.NaN,
      rateLimited: stats.responses["429"] ?? 0,
      simulatedMinutes: (end - start) / minute,
      wallMillis: performance.now() - wallStart,
      heapStart,
      heapPeak,
      rssPeak
    } satisfies StrategyResult
  }).pipe(Effect.scoped, Effect.withClock(clock))
}

/** The oracle's figures (in milliseconds) and the argument on the two targets, from the true rates. */
const oracle = (
  scenario: Scenario,
  rates: ReadonlyArray<{ readonly perMinute: number; readonly hot: boolean }>,
  medianR: number
) => {
  const total = scenario.readsPerMinute
  const min = 1 / 30
  const max = minute / Duration.toMillis(scenario.every)
  const figures = (exponent: number) => {
    const reads = Oracle.allocate(rates, total, exponent, min, max)
    return {
      median: Oracle.quantile(rates, reads, 0.5) * minute,
      p95: Oracle.quantile(rates, reads, 0.95) * minute
    }
  }
  const hot = rates.filter((post) => post.hot)
  const cold = rates.filter((post) => !post.hot)
  const all = rates.reduce((sum, post) => sum + post.perMinute, 0)
  const hotShare = hot.reduce((sum, post) => sum + post.perMinute, 0) / all
  // The reads a minute the two targets need together, for any polling (a comment is read within x only if a read of
  // its post falls in the x after it, and a post read f times a minute has that for at most x f of the time). The
  // p95: 95% of the comments within round-robin's median x2, so at least a share q of the others (all the hot ones
  // at best), which takes (others) x q / x2 reads a minute on them. The median: half of all within x1 = x2 / 5; those
  // reads find at most (their share) x x1 / x2 x q of them within x1, and the hot posts must read the rest.
  const x2 = medianR
  const x1 = x2 / 5
  const q = Math.max(0, (0.95 - hotShare) / (1 - hotShare))
  const forP95 = cold.length * q / x2
  const help = (1 - hotShare) * q * x1 / x2
  const forMedian = hot.length * (0.5 - help) / hotShare / x1
  const bestP95WithMedian = Oracle.bestP95WithMedian(hot, cold, total, x1) * minute
  const argument = `${Report.percent(hotShare)} of the comments fall on the ${hot.length} hot posts. A comment is ` +
    "read within x only if a read of its post falls in the x after it, and a post read f times a minute has one " +
    "there for at most x f of the time (comments arrive as a Poisson stream: no polling knows when). For the p95 " +
    `below round-robin's median (${minutes(x2 * minute)}), 95% of the comments must be read within it: with every ` +
    `hot one so read, still ${Report.percent(q)} of the others, which takes ${cold.length} x ${q.toFixed(2)} / ` +
    `${minutes(x2 * minute)} = ${forP95.toFixed(0)} reads a minute on them. For the median at a fifth of ` +
    `round-robin's (${minutes(x1 * minute)}), half must be read within that; the reads above find at most ` +
    "(more of them would cost more reads than they save on the hot posts) " +
    `${Report.percent(help)} of all comments within it, so the hot posts must find ${
      Report.percent((0.5 - help) / hotShare)
    } of theirs: ${hot.length} x ${((0.5 - help) / hotShare).toFixed(2)} / ${minutes(x1 * minute)} = ` +
    `${forMedian.toFixed(0)} reads a minute. Together ${(forMedian + forP95).toFixed(0)} reads a minute against ` +
    `${total} allowed: ${
      forMedian + forP95 > total ? "the two targets cannot both hold at this mix and allowance" : "both could hold"
    }. The oracle's best split between the two kinds of posts agrees: ${
      Number.isFinite(bestP95WithMedian)
        ? `with the median at a fifth of round-robin's, the p95 is at best ${minutes(bestP95WithMedian)}`
        : "no split keeps the median at a fifth of round-robin's"
    }. The median target is the reachable one; the p95 shows its price.`
  return {
    sqrt: figures(0.5),
    steeper: figures(1),
    bestMedian: Oracle.bestQuantile(rates, total, 0.5) * minute,
    bestP95: Oracle.bestQuantile(rates, total, 0.95) * minute,
    bestP95WithMedian,
    argument
  }
}

export const minutes = (millis: number) =>
  millis >= minute ? `${(millis / minute).toFixed(1)} min` : Report.millis(millis)

const distribution = (values: ReadonlyArray<number>) =>
  `median ${minutes(Stats.median(values))}, p95 ${minutes(Stats.quantile(values, 0.95))}, most ${
    values.length === 0 ? "none" : minutes(Math.max(...values))
  } (${Report.count(values.length)} DMs)`

/** The benchmark as a section of the results file. */
export const run = (mode: Settings.Mode): Effect.Effect<Report.SectionBody, BenchError.BenchError> =>
  Effect.gen(function*() {
    const scenario = scenarioOf(mode)
    const adaptive = yield* runStrategy(scenario, "adaptive")
    const roundRobin = yield* runStrategy(scenario, "round-robin")
    const medianA = Stats.median(adaptive.latencies)
    const medianR = Stats.median(roundRobin.latencies)
    const p95A = Stats.quantile(adaptive.latencies, 0.95)
    const both = [adaptive, roundRobin] as const
    const bounds = oracle(scenario, adaptive.rates, medianR / minute)
    const perStrategy = (label: string, value: (result: StrategyResult) => string): ReadonlyArray<Report.Figure> =>
      both.map((result) => ({ label: `${result.strategy}: ${label}`, value: value(result) }))
    return {
      title: "Polling: adaptive vs round-robin",
      settings: [
        `Sandbox in the bench process on a virtual clock (\`Sandbox.make\`; bench/internal/VirtualClock.ts): ${scenario.profiles} profiles x ` +
        `${scenario.postsPerProfile} posts (${Report.count(scenario.profiles * scenario.postsPerProfile)} posts), ` +
        `one API key with a plan of ${plan.perMinute} requests a minute and ` +
        `${Report.count(plan.perTenMinutes)} per 10 minutes (429 above either, fixed windows), DMs always allowed`,
        `Arrivals: ${scenario.commentsPerMinute} comments a minute (Poisson), 10% of the posts (chosen by the seed) ` +
        `getting 90% of them, ${scenario.matchRatio * 100}% asking for the guide, each from someone new; the posts ` +
        `are live: comments arrived at the same per-post rates for ${minutes(scenario.history)} before the watch ` +
        "started (none of them asking, as if an earlier run had served them), so that a first read of a post finds " +
        "its recent history, as a watcher attaching to live posts does",
        `comment-dm: one \`Watch.watch\` per profile in the bench process, \`every\` ` +
        `${Duration.format(scenario.every)}, started within the first ${Duration.format(scenario.every)}, sharing ` +
        `one read allowance of ${scenario.readsPerMinute} a minute (\`ReadAllowance\`: the plan less the sends and ` +
        "a margin, divided among the watchers at each poll by their posts' demand: the sum of their rates for " +
        "adaptive, the number of posts for round-robin), `polling` adaptive or round-robin, unpaced sends, one " +
        "SQLite ledger in memory; the same seed and comments for both",
        `Simulated: ${minutes(scenario.warmUp)} warm-up (every post read once, within the allowance), comments ` +
        `measured over ${minutes(scenario.measured)}, then ${minutes(scenario.tail)} for the last of them to be sent`,
        "Oracle: computed, not simulated (bench/internal/Oracle.ts), from the sandbox's true per-post rates at the " +
        "same reads a minute, each post read at even intervals between once in 30 minutes and once a poll; the " +
        "bound holds for any polling that does not know the future",
        "Time to DM: from the comment's timestamp to the delivery the sandbox records for its DM",
        `Command: \`pnpm bench --only polling${mode === "quick" ? " --quick" : ""}\` (or \`npx tsx bench/Polling.ts${
          mode === "quick" ? " --quick" : ""
        }\`)`,
        `Machine: ${Machine.summary(Machine.describe())}`
      ],
      figures: [
        {
          label: "time to DM, median: adaptive vs round-robin",
          value: `${minutes(medianA)} vs ${minutes(medianR)} (${(medianA / medianR * 100).toFixed(0)}%)`,
          target: "adaptive at most a fifth of round-robin's",
          met: medianA <= medianR / 5
        },
        {
          label: "time to DM, adaptive p95 vs round-robin median",
          value: `${minutes(p95A)} vs ${minutes(medianR)}`,
          target: "below round-robin's median",
          met: p95A < medianR
        },
        {
          label: "429 answers (adaptive, round-robin)",
          value: `${adaptive.rateLimited}, ${roundRobin.rateLimited}`,
          target: "0",
          met: adaptive.rateLimited === 0 && roundRobin.rateLimited === 0
        },
        {
          label: "oracle: square-root rule on the true rates",
          value: `median ${minutes(bounds.sqrt.median)}, p95 ${minutes(bounds.sqrt.p95)}`
        },
        {
          label: "oracle: reads in proportion to the true rates (the plan's rule)",
          value: `median ${minutes(bounds.steeper.median)}, p95 ${minutes(bounds.steeper.p95)}`
        },
        {
          label: "bound, any polling at this allowance",
          value: `best median ${minutes(bounds.bestMedian)}; best p95 ${minutes(bounds.bestP95)}; best p95 with ` +
            `the median at a fifth of round-robin's: ${
              Number.isFinite(bounds.bestP95WithMedian) ? minutes(bounds.bestP95WithMedian) : "none"
            } (round-robin's median ${minutes(medianR)})`
        },
        ...perStrategy("time to DM, every measured comment", (result) => distribution(result.latencies)),
        ...perStrategy("time to DM, comments on the hot posts", (result) => distribution(result.hotLatencies)),
        ...perStrategy("measured comments not sent by the end", (result) => Report.count(result.unsent)),
        ...perStrategy(
          "share of the measured span's comment reads on the hot posts",
          (r) => Report.percent(r.hotReadShare)
        ),
        ...perStrategy(
          "requests against the key's budget",
          (result) =>
            `${Report.count(result.requests)} in ${result.simulatedMinutes} simulated minutes (${
              Report.count(result.commentRequests)
            } comment reads, ${Report.count(result.sends)} sends); most in a fixed minute ${result.maxPerMinute} / ` +
            `${plan.perMinute}, in 10 minutes ${Report.count(result.maxPerTenMinutes)} / ${
              Report.count(plan.perTenMinutes)
            }`
        ),
        ...perStrategy(
          "memory of the bench process (sandbox included)",
          (result) =>
            `heap ${Report.megabytes(result.heapStart)} at the start, peak ${Report.megabytes(result.heapPeak)}; ` +
            `peak RSS ${Report.megabytes(result.rssPeak)}`
        ),
        ...perStrategy("wall time", (result) => Report.millis(result.wallMillis))
      ],
      notes: [
        "Round-robin reads every post in turn, one allowance's worth at a time: a comment waits half a cycle " +
        "(posts / reads a minute) on average, wherever it falls. Adaptive estimates each post's comment rate (a " +
        "decayed count, seeded from the comments of its first read) and divides the allowance among the posts in " +
        "proportion to its rate (`PollPlan.rateExponent` 1), each between once in 30 minutes and once a poll; a post that just got a comment " +
        "is read sooner still (an eighth of its quiet time); credit left once the due posts are read goes to the " +
        "posts nearest their turn. The watchers share the key's allowance by their posts' demand, so that a " +
        "profile with three hot posts is not held to the share of one with none.",
        `Why both time targets cannot be met at this mix, whatever the polling: ${bounds.argument}`
      ]
    } satisfies Report.SectionBody
  }).pipe(BenchError.within("polling"))

/** Runs the benchmark and prints it as a results file of its own (`npx tsx bench/Polling.ts [--quick]`). */
if (process.argv[1] !== undefined && import.meta.url === Url.pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } })
  const startedAt = new Date()
  Report.timed(run(values.quick ? "quick" : "full")).pipe(
    Effect.flatMap((section) =>
      Effect.sync(() =>
        process.stdout.write(
          Report.render({ machine: Machine.describe(), quick: values.quick, startedAt, sections: [section] })
        )
      )
    ),
    NodeRuntime.runMain
  )
}
