/**
 * One read allowance shared by the watchers of a key: divided by their posts' demand, never more than the whole.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as PollPlan from "../src/campaign/PollPlan.js"
import * as ReadAllowance from "../src/ReadAllowance.js"

const second = 1_000
const minute = 60 * second
const hour = 60 * minute
const now = Date.parse("2026-03-28T12:00:00Z")
const settings: PollPlan.Settings = { strategy: "adaptive", every: 15 * second, cap: 30 * minute }

describe("ReadAllowance", () => {
  it.scoped("seats get shares by demand that add up to the allowance; a seat left gives its share back", () =>
    Effect.gen(function*() {
      const shared = yield* ReadAllowance.make(Effect.succeed(12))
      const busy = yield* shared.join
      const quiet = yield* shared.join
      assert.strictEqual(yield* busy.share({ weight: 3, min: 0, max: 100 }), 12, "alone, it has it all")
      const quietShare = yield* quiet.share({ weight: 1, min: 0, max: 100 })
      const busyShare = yield* busy.share({ weight: 3, min: 0, max: 100 })
      assert.closeTo(quietShare, 3, 1e-9)
      assert.closeTo(busyShare, 9, 1e-9)
      // A seat held at its max leaves the rest to the other.
      assert.closeTo(yield* busy.share({ weight: 3, min: 0, max: 2 }), 2, 1e-9)
      assert.closeTo(yield* quiet.share({ weight: 1, min: 0, max: 100 }), 10, 1e-9)
      yield* Effect.scoped(Effect.gen(function*() {
        const third = yield* shared.join
        assert.isAbove(yield* third.share({ weight: 1, min: 0, max: 100 }), 0)
      }))
      assert.closeTo(yield* quiet.share({ weight: 1, min: 0, max: 100 }), 10, 1e-9, "the third seat gone")
    }))

  it.scoped("two watchers on one key stay within its allowance together, and the one with a busy post reads more", () =>
    Effect.gen(function*() {
      const perMinute = 6
      const shared = yield* ReadAllowance.make(Effect.succeed(perMinute))
      // Watcher A follows a post with a comment every 10 minutes for the last six hours and four silent ones;
      // watcher B five silent ones.
      const history = Array.from({ length: 36 }, (_, i) => now - 5 * minute - i * 10 * minute)
      const silent = (key: string): PollPlan.Post => ({
        key,
        readAt: now,
        activeAt: undefined,
        rate: PollPlan.seed([], now)
      })
      const watchers = [
        [
          { key: "a-hot", readAt: now, activeAt: now - 5 * minute, rate: PollPlan.seed(history, now) },
          ...[
            1,
            2,
            3,
            4
          ].map((i) => silent(`a${i}`))
        ],
        [0, 1, 2, 3, 4].map((i) => silent(`b${i}`))
      ].map((posts) => ({
        posts: new Map(posts.map((post) => [post.key, post])),
        bucket: PollPlan.allowance(0, 1, now)
      }))
      const seats = yield* Effect.forEach(watchers, () => shared.join)
      const reads = [0, 0]
      let hotReads = 0
      for (let at = now + settings.every; at <= now + hour; at += settings.every) {
        for (const [index, watcher] of watchers.entries()) {
          const posts = [...watcher.posts.values()]
          const share = yield* seats[index]!.share(PollPlan.totalDemand(posts, at, settings))
          watcher.bucket = PollPlan.refill(
            PollPlan.retune(watcher.bucket, share, Math.max(1, Math.ceil(share / 4)), at),
            at
          )
          const plan = PollPlan.plan(posts, at, settings, {
            credit: watcher.bucket.credit,
            perMinute: watcher.bucket.perMinute
          })
          for (const key of plan.read) watcher.posts.set(key, { ...watcher.posts.get(key)!, readAt: at })
          watcher.bucket = PollPlan.spend(watcher.bucket, plan.read.length)
          reads[index] = reads[index]! + plan.read.length
          if (plan.read.includes("a-hot")) hotReads++
        }
      }
      const [a = 0, b = 0] = reads
      assert.isAtMost(a + b, perMinute * 60 + 2, `together ${a} + ${b} reads in an hour`)
      assert.isAtLeast(a + b, perMinute * 60 * 0.95, "the allowance spent")
      assert.isAtLeast(a, 2 * b, `A read ${a} times, B ${b}`)
      assert.isAtLeast(hotReads, 2 * 60, "the busy post at least every 30 s")
      // B's silent posts are still read, each at least once in the cap.
      assert.isAtLeast(b, 5 * 2)
    }))
})
