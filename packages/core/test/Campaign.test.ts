/**
 * `Campaign.run` against the sandbox over real HTTP, with the real client and a SQLite ledger file: the daily count a
 * profile's runners share, and what a resume reads.
 */
import type { DataSet } from "@comment-dm/sandbox"
import { Sandbox } from "@comment-dm/sandbox"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import type * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Layer, Redacted, Ref, TestClock } from "effect"
import type { Scope } from "effect"
import * as Path from "node:path"
import * as Campaign from "../src/Campaign.js"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as DailyBudget from "../src/DailyBudget.js"
import * as KeepAliveHttpClient from "../src/KeepAliveHttpClient.js"
import * as Ledger from "../src/Ledger.js"
import * as Pacer from "../src/Pacer.js"
import * as SharedPacer from "../src/SharedPacer.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as SqlLedger from "../src/SqlLedger.js"
import * as StopSignal from "../src/StopSignal.js"
import * as UploadPost from "../src/UploadPost.js"
import { allEntries, tempDirectory } from "./support/ledgerSuite.js"

const profile = "creator"
const commentsEndpoint = "GET /uploadposts/comments"
/** Noon UTC: a day's runs stay within the day. */
const noon = Date.UTC(2026, 2, 28, 12)

const person = (n: number) => `1784170${String(n).padStart(10, "0")}`

/** Comment `n` of a post, by person `n`, `n` seconds before `newest`: asks for the guide when `asks(n)`. */
const comment = (post: string, n: number, newest: number, asks: (n: number) => boolean): DataSet.Comment => ({
  id: `${post}-c${n}`,
  text: asks(n) ? "GUIDE please" : "love this",
  timestamp: new Date(newest - n * 1_000).toISOString(),
  user: { id: person(n), username: `viewer.${n}` }
})

const even = (n: number) => n % 2 === 0

/** A post of `count` comments, the newest an hour before noon. */
const post = (id: string, count: number, asks: (n: number) => boolean = even): DataSet.Post => ({
  id,
  comments: Array.from({ length: count }, (_, n) => comment(id, n, noon - 3_600_000, asks))
})

const campaign = (name: string, posts: ReadonlyArray<string>, concurrency = 4, keywords = ["guide"]) =>
  CampaignSpec.make({
    name,
    platform: "instagram",
    user: profile,
    posts: [...posts],
    match: { keywords },
    message: "Hi @{{username}}, here is your guide: https://example.com/guide",
    pace: { per_hour: 3600, concurrency }
  })

type Services = UploadPost.UploadPost | Ledger.Ledger | SqlClient.SqlClient

/**
 * The sandbox serving `posts`, and the real client and a SQLite ledger file pointed at it. Open windows: these tests
 * DM every matching commenter.
 */
const studio = (posts: ReadonlyArray<DataSet.Post>) =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.make({
      data: { _tag: "Listed", profile, posts: [...posts] },
      seed: 1,
      windows: "open"
    })
    const directory = yield* tempDirectory
    const client = UploadPost.UploadPost.Default.pipe(
      Layer.provide(UploadPost.UploadPostConfig.layer({
        baseUrl: sandbox.baseUrl,
        apiKey: Redacted.make(sandbox.apiKey)
      })),
      Layer.provide(NodeHttpClient.layer)
    )
    const ledger = SqlLedger.layer.pipe(
      Layer.provideMerge(SqliteLedger.layerClient({ filename: Path.join(directory, "ledger.sqlite") }))
    )
    const context = yield* Layer.build(Layer.merge(client, ledger))
    const within = <A, E>(effect: Effect.Effect<A, E, Services>): Effect.Effect<A, E> => Effect.provide(effect, context)
    return { sandbox, within, context }
  })

interface TestRunOptions extends Campaign.RunOptions {
  readonly budget?: DailyBudget.Service
  readonly stop?: Effect.Effect<void>
}

/** An unpaced run, with the budget and the stop request given as the run's services. */
const run = (
  setup: { readonly within: <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.Effect<A, E> },
  spec: CampaignSpec.CampaignSpec,
  { budget, stop, ...options }: TestRunOptions = {}
) =>
  setup.within(
    Campaign.run(spec, { reconcile: false, ...options }).pipe(Effect.provide(Layer.mergeAll(
      Pacer.layerUnlimited,
      budget === undefined ? Layer.empty : DailyBudget.layer(budget),
      stop === undefined ? Layer.empty : StopSignal.layer({ interrupt: stop })
    )))
  )

const commentRequests = (sandbox: Sandbox.SandboxHandle) =>
  Effect.map(sandbox.stats, (stats) => stats.requests[commentsEndpoint] ?? 0)

/** Runs `effect` and reports how many comment pages the sandbox served meanwhile. */
const countingPages = <A, E>(sandbox: Sandbox.SandboxHandle, effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const before = yield* commentRequests(sandbox)
    const result = yield* effect
    return { result, pages: (yield* commentRequests(sandbox)) - before }
  })

const sharedBudget = (
  context: Context.Context<Services>,
  dailyLimit: number
): Effect.Effect<SharedPacer.SharedPacer, never, Scope.Scope> =>
  Effect.provide(SharedPacer.make({ profile, platform: "instagram", count: 3600, dailyLimit }), context)

describe("Campaign.run with a budget shared by the profile's runners", () => {
  it.scoped("counts every DM for the profile and pauses all its campaigns at the profile's own daily limit", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(noon)
      const setup = yield* studio([post("post-a", 20), post("post-b", 20)])
      const [first, second] = [yield* sharedBudget(setup.context, 4), yield* sharedBudget(setup.context, 4)]
      const limitEvents: Array<Campaign.Event> = []
      const onEvent = (event: Campaign.Event) =>
        Effect.sync(() => {
          if (event._tag === "DailyLimit") limitEvents.push(event)
        })

      // One at a time, so that no send is in flight when the count reaches the limit.
      const spring = yield* campaign("spring", ["post-a"], 1)
      const summer = yield* campaign("summer", ["post-b"], 1)
      const springRun = yield* run(setup, spring, { budget: first.budget, onEvent })
      assert.strictEqual(springRun.outcome, "daily_limit")
      assert.deepStrictEqual([springRun.counts.sent, springRun.counts.pending], [4, 6])
      assert.strictEqual((yield* setup.sandbox.deliveries).length, 4)
      assert.strictEqual(yield* second.sentToday, 4)
      assert.isTrue(yield* second.dailyLimitReached)
      assert.deepStrictEqual(limitEvents.map((event) => event._tag), ["DailyLimit"])

      // Another campaign of the profile, through another runner's budget: nothing more today.
      const summerRun = yield* run(setup, summer, { budget: second.budget })
      assert.strictEqual(summerRun.outcome, "daily_limit")
      assert.deepStrictEqual([summerRun.counts.sent, summerRun.counts.pending], [0, 10])
      assert.strictEqual((yield* setup.sandbox.deliveries).length, 4)

      // The next UTC day starts a new count.
      yield* TestClock.adjust(Duration.days(1))
      const nextDay = yield* run(setup, spring, { budget: first.budget })
      assert.deepStrictEqual([nextDay.outcome, nextDay.counts.sent, nextDay.counts.pending], ["daily_limit", 4, 2])
      assert.strictEqual(yield* second.sentToday, 4)
      assert.strictEqual((yield* setup.sandbox.deliveries).length, 8)
    }))

  it.scoped("without a limit of its own the profile's DMs are counted and nothing pauses", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(noon)
      const setup = yield* studio([post("post-a", 20)])
      const budget = yield* Effect.provide(
        SharedPacer.make({ profile, platform: "instagram", count: 3600 }),
        setup.context
      )
      const summary = yield* run(setup, yield* campaign("spring", ["post-a"]), { budget: budget.budget })
      assert.deepStrictEqual([summary.outcome, summary.counts.sent], ["completed", 10])
      assert.strictEqual(yield* budget.sentToday, 10)
      assert.isFalse(yield* budget.dailyLimitReached)
    }))
})

/** Every tenth comment asks for the guide: 50 people on a post of 500 comments, ten pages of 50. */
const everyTenth = (n: number) => n % 10 === 0

const viralPost = () => post("post-v", 500, everyTenth)

describe("Campaign.run resumes", () => {
  it.scoped("a resume of a post read to its end reads its newest page only and sends nothing", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(noon)
      const setup = yield* studio([viralPost()])
      const spec = yield* campaign("viral", ["post-v"])
      const first = yield* countingPages(setup.sandbox, run(setup, spec))
      assert.deepStrictEqual([first.pages, first.result.outcome, first.result.counts.sent], [10, "completed", 50])

      for (const label of ["second run", "third run"]) {
        const again = yield* countingPages(setup.sandbox, run(setup, spec))
        assert.strictEqual(again.pages, 1, label)
        assert.deepStrictEqual(
          [again.result.outcome, again.result.counts.sent, again.result.counts.already_sent],
          ["completed", 0, 50],
          label
        )
      }
      assert.strictEqual((yield* setup.sandbox.deliveries).length, 50)
    }))

  it.scoped("comments added since the last run are read down to the first page of old ones, and their people sent", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(noon)
      const setup = yield* studio([viralPost()])
      const spec = yield* campaign("viral", ["post-v"])
      yield* run(setup, spec)

      // Seventy new comments, every seventh asking: the two newest pages hold them, the third is old.
      yield* TestClock.adjust(Duration.minutes(5))
      const added = Array.from({ length: 70 }, (_, i) => 1_000 + i)
      yield* Effect.forEach(added, (n) =>
        setup.sandbox.addComment({
          postId: "post-v",
          id: `post-v-new-${n}`,
          text: n % 7 === 0 ? "guide?" : "wow",
          user: { id: person(n), username: `viewer.${n}` }
        }), { discard: true }).pipe(Effect.orDie)
      const asking = added.filter((n) => n % 7 === 0).map(person)

      const resumed = yield* countingPages(setup.sandbox, run(setup, spec))
      assert.strictEqual(resumed.pages, 3)
      assert.deepStrictEqual([resumed.result.counts.sent, resumed.result.counts.new], [asking.length, asking.length])
      const deliveries = yield* setup.sandbox.deliveries
      assert.deepStrictEqual(deliveries.slice(50).map((delivery) => delivery.recipientId).sort(), [...asking].sort())

      // The mark moved up to the new comments: the next resume reads one page again.
      const quiet = yield* countingPages(setup.sandbox, run(setup, spec))
      assert.deepStrictEqual([quiet.pages, quiet.result.counts.sent], [1, 0])
    }))

  it.scoped("a first run stopped in the middle of a post leaves no mark: the next run reads the whole post", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(noon)
      const setup = yield* studio([viralPost()])
      const spec = yield* campaign("viral", ["post-v"])
      const stop = yield* Deferred.make<void>()
      let pagesSeen = 0
      const stopped = yield* run(setup, spec, {
        stop: Deferred.await(stop),
        onEvent: (event) =>
          event._tag === "PageRead" && ++pagesSeen === 3 ? Deferred.succeed(stop, undefined) : Effect.void
      })
      assert.strictEqual(stopped.outcome, "interrupted")
      const sentBefore = (yield* setup.sandbox.deliveries).length
      assert.isBelow(sentBefore, 50)

      const resumed = yield* countingPages(setup.sandbox, run(setup, spec))
      assert.deepStrictEqual([resumed.pages, resumed.result.outcome], [10, "completed"])
      assert.strictEqual(resumed.result.counts.sent, 50 - sentBefore)
      const deliveries = yield* setup.sandbox.deliveries
      assert.strictEqual(new Set(deliveries.map((delivery) => delivery.recipientId)).size, 50)
      assert.strictEqual((yield* countingPages(setup.sandbox, run(setup, spec))).pages, 1)
    }))

  it.scoped("people left pending on old pages are sent by a resume that reads one page", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(noon)
      const setup = yield* studio([viralPost()])
      const spec = yield* campaign("viral", ["post-v"])
      const capped = yield* run(setup, spec, { maxSends: 5 })
      assert.deepStrictEqual([capped.counts.sent, capped.counts.pending], [5, 45])

      const resumed = yield* countingPages(setup.sandbox, run(setup, spec))
      assert.deepStrictEqual(
        [resumed.pages, resumed.result.outcome, resumed.result.counts.sent],
        [1, "completed", 45]
      )
      assert.strictEqual((yield* setup.sandbox.deliveries).length, 50)
    }))

  it.scoped("other match rules under the same campaign name read the whole post again", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(noon)
      const setup = yield* studio([viralPost()])
      yield* run(setup, yield* campaign("viral", ["post-v"]))
      const widened = yield* countingPages(
        setup.sandbox,
        run(setup, yield* campaign("viral", ["post-v"], 4, ["guide", "love"]), { maxSends: 10 })
      )
      // Everyone else says "love this": 450 more people.
      assert.deepStrictEqual([widened.pages, widened.result.counts.new, widened.result.counts.sent], [10, 450, 10])
    }))

  it.scoped("a dry run after a complete run reads every page and records no mark", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(noon)
      const setup = yield* studio([viralPost()])
      const spec = yield* campaign("viral", ["post-v"])
      const capped = yield* run(setup, spec, { maxSends: 5 })
      assert.strictEqual(capped.counts.pending, 45)
      const dry = yield* countingPages(setup.sandbox, run(setup, spec, { dryRun: true }))
      assert.deepStrictEqual([dry.pages, dry.result.counts.would_send], [10, 45])
      assert.strictEqual((yield* countingPages(setup.sandbox, run(setup, spec))).pages, 1)
    }))
})

describe("Campaign.run's send permits", () => {
  /** What the DM requests did: how many were in flight at most, and how many people were claimed at most then. */
  interface Watched {
    inFlight: number
    mostInFlight: number
    started: number
    mostClaimed: number
  }

  /**
   * The sandbox answering every request after `latencyMs`, a SQLite ledger file, and a client that watches the DM
   * requests: as each leaves, `onSend(n)` runs with its number.
   */
  const watchedStudio = (posts: ReadonlyArray<DataSet.Post>, latencyMs: number, campaignName: string) =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make({
        data: { _tag: "Listed", profile, posts: [...posts] },
        faults: { latency: { minMs: latencyMs, maxMs: latencyMs } },
        seed: 1,
        windows: "open"
      })
      const directory = yield* tempDirectory
      const ledgerLayer = SqlLedger.layer.pipe(
        Layer.provideMerge(SqliteLedger.layerClient({ filename: Path.join(directory, "ledger.sqlite") }))
      )
      const ledgerContext = yield* Layer.build(ledgerLayer)
      const ledger = Context.get(ledgerContext, Ledger.Ledger)
      const watched: Watched = { inFlight: 0, mostInFlight: 0, started: 0, mostClaimed: 0 }
      const onSend = yield* Ref.make<(started: number) => Effect.Effect<void>>(() => Effect.void)
      const watching = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(
          HttpClient.HttpClient,
          HttpClient.transform((exchange, request) =>
            request.url.endsWith("/uploadposts/dms/send")
              ? Effect.gen(function*() {
                watched.inFlight++
                watched.started++
                watched.mostInFlight = Math.max(watched.mostInFlight, watched.inFlight)
                const counts = yield* Effect.orDie(ledger.counts(campaignName, "first_message"))
                watched.mostClaimed = Math.max(watched.mostClaimed, counts.claimed)
                yield* Effect.flatMap(Ref.get(onSend), (f) => f(watched.started))
                return yield* exchange
              }).pipe(Effect.ensuring(Effect.sync(() => watched.inFlight--)))
              : exchange
          )
        )
      ).pipe(Layer.provide(KeepAliveHttpClient.layer()))
      const client = UploadPost.UploadPost.Default.pipe(
        Layer.provide(
          UploadPost.UploadPostConfig.layer({ baseUrl: sandbox.baseUrl, apiKey: Redacted.make(sandbox.apiKey) })
        ),
        Layer.provide(watching)
      )
      const context = Context.merge(ledgerContext, yield* Layer.build(client))
      const within = <A, E>(effect: Effect.Effect<A, E, Services>): Effect.Effect<A, E> =>
        Effect.provide(effect, context)
      return { sandbox, within, ledger, watched, onSend }
    })

  it.scopedLive("sends at most `concurrency` at once while as many more people are claimed ahead", () =>
    Effect.gen(function*() {
      const spec = yield* campaign("permits", ["post-p"], 3)
      const setup = yield* watchedStudio([post("post-p", 60)], 20, spec.name)
      const summary = yield* run(setup, spec)
      assert.strictEqual(summary.counts.sent, 30)
      assert.strictEqual(setup.watched.mostInFlight, 3)
      assert.isAbove(setup.watched.mostClaimed, 3, "people are claimed while the sends are in flight")
      assert.isAtMost(setup.watched.mostClaimed, 6)
      const delivered = (yield* setup.sandbox.deliveries).map((delivery) => delivery.recipientId)
      assert.strictEqual(new Set(delivered).size, 30)
      assert.strictEqual(delivered.length, 30)
    }))

  it.scopedLive("a stop releases the person claimed ahead to pending, without a request", () =>
    Effect.gen(function*() {
      // One send at a time: while the first is in flight (100 ms), the next person is claimed and waits for it.
      const spec = yield* campaign("permits-stop", ["post-s"], 1)
      const setup = yield* watchedStudio([post("post-s", 40)], 100, spec.name)
      const stop = yield* Deferred.make<void>()
      yield* Ref.set(setup.onSend, () => Deferred.succeed(stop, undefined))
      const summary = yield* run(setup, spec, { stop: Deferred.await(stop) })
      assert.strictEqual(setup.watched.started, 1, "no request after the stop")
      assert.strictEqual((yield* setup.sandbox.deliveries).length, 1)
      assert.deepStrictEqual([summary.counts.sent, summary.counts.pending], [1, 19])
      const entries = yield* setup.within(allEntries(spec.name))
      assert.strictEqual(entries.filter((entry) => entry.state === "claimed").length, 0)
      assert.deepStrictEqual(
        entries.filter((entry) => entry.attempts > 0 && entry.state === "pending").map((entry) => entry.reason),
        ["the run stopped sending before the request was made"]
      )
    }))
})
