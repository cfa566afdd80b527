/**
 * Adaptive polling against the sandbox over real HTTP, on a TestClock: one post gets comments, nine stay quiet; the
 * active post is read far more often than the quiet ones, and the reads stay within the allowance.
 */
import { Sandbox } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import {
  Chunk,
  Clock,
  Deferred,
  Duration,
  Effect,
  Fiber,
  Layer,
  Queue,
  Redacted,
  TestClock,
  TestServices
} from "effect"
import type * as Campaign from "../src/Campaign.js"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as Pacer from "../src/Pacer.js"
import * as Retry from "../src/Retry.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as StopSignal from "../src/StopSignal.js"
import * as UploadPost from "../src/UploadPost.js"
import * as Watch from "../src/Watch.js"
import { countingReads } from "./support/commentReads.js"

const profile = "adaptive"
const minute = 60_000

const quietPosts = Array.from({ length: 9 }, (_, i) => `post-quiet-${i}`)

type PollEvent = Extract<Campaign.Event, { readonly _tag: "Polled" | "PollFailed" }>

describe("Watch, adaptive", () => {
  it.effect(
    "an active post is read far more often than quiet ones, within the allowance",
    () =>
      Effect.gen(function*() {
        const start = Date.parse("2026-03-28T12:00:00Z")
        yield* TestClock.setTime(start)
        const sandbox = yield* Sandbox.make({
          profile,
          seed: 7,
          windows: "open",
          data: {
            _tag: "Listed",
            profile,
            posts: [{ id: "post-hot", comments: [] }, ...quietPosts.map((id) => ({ id, comments: [] }))]
          },
          // Two comments a minute on one post, every one asking for the guide, each from someone new.
          arrivals: { perPost: { "post-hot": 2 }, posts: ["post-hot"], matchRatio: 1, people: 1_000_000 }
        })
        const readsOf = new Map<string, number>()
        const transport = countingReads((post) => readsOf.set(post, (readsOf.get(post) ?? 0) + 1))
        const api = UploadPost.UploadPost.Default.pipe(
          Layer.provide(UploadPost.UploadPostConfig.layer({
            baseUrl: sandbox.baseUrl,
            apiKey: Redacted.make(sandbox.apiKey),
            retry: Retry.noWaiting
          })),
          Layer.provide(transport)
        )
        const spec = yield* CampaignSpec.make({
          name: "adaptive-test",
          platform: "instagram",
          user: profile,
          posts: ["post-hot", ...quietPosts],
          match: { keywords: ["guide"] },
          message: "Hi @{{username}}, here is your guide: https://example.com/guide",
          pace: { per_hour: 3600, concurrency: 4 },
          delivery: "dm"
        })
        const polled = yield* Queue.unbounded<PollEvent>()
        const stop = yield* Deferred.make<void>()
        const readsPerMinute = 10
        const watcher = yield* Watch.watch(spec, {
          every: Duration.seconds(10),
          readsPerMinute,
          onEvent: (event) =>
            event._tag === "Polled" || event._tag === "PollFailed" ? Queue.offer(polled, event) : Effect.void
        }).pipe(
          Effect.provide(Layer.mergeAll(
            api,
            SqliteLedger.layerMemory(),
            Pacer.layerUnlimited,
            StopSignal.layer({ interrupt: Deferred.await(stop) })
          )),
          Effect.fork
        )

        // An hour of polls: after each, the clock goes on to the watcher's next wake-up once it sleeps until it.
        const span = 60 * minute
        const polls: Array<PollEvent> = []
        while ((yield* Clock.currentTimeMillis) < start + span) {
          const poll = yield* Queue.take(polled)
          polls.push(poll)
          const wakeAt = (yield* Clock.currentTimeMillis) + poll.nextInMillis
          while (!Chunk.some(yield* TestClock.sleeps(), (at) => at === wakeAt)) {
            yield* TestServices.provideLive(Effect.sleep(Duration.millis(1)))
          }
          yield* TestClock.setTime(wakeAt)
        }
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.join(watcher)

        const hot = readsOf.get("post-hot") ?? 0
        const quiet = quietPosts.map((post) => readsOf.get(post) ?? 0)
        const total = [...readsOf.values()].reduce((sum, n) => sum + n, 0)
        const elapsed = ((yield* Clock.currentTimeMillis) - start) / minute
        // Within the allowance (and the one poll's share it may keep), counting every page requested.
        assert.isAtMost(total, readsPerMinute * elapsed + 2, `${total} comment requests in ${elapsed} minutes`)
        assert.isAtLeast(hot, 8 * Math.max(...quiet), `active post read ${hot} times, quiet ones ${quiet.join(", ")}`)
        // Every quiet post is still read now and then (the cap is 30 minutes).
        for (const reads of quiet) assert.isAtLeast(reads, 2)
        assert.strictEqual(polls.filter((poll) => poll._tag === "PollFailed").length, 0)
        // Everyone who asked was sent to, at most a few polls late.
        const arrived = (yield* sandbox.arrivals).arrived
        const sent = (yield* sandbox.deliveries).length
        assert.isAtLeast(arrived, 90)
        assert.isAtLeast(sent, arrived - 4)
      }).pipe(Effect.scoped),
    120_000
  )
})
