/**
 * Comments arriving over time on the sandbox clock (a TestClock here): stamped with the instant they arrived, spread
 * with a skewed mix over the posts, the same for the same seed.
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { DataSet, Sandbox } from "../src/index.js"
import { now } from "./fixtures.js"
import { readAll } from "./support.js"

/** Generated posts with no comments of their own, across two profiles. */
const profiles = (posts: number): NonNullable<Sandbox.SandboxOptions["profiles"]> => [
  { name: "alpha", data: DataSet.generate({ comments: 0, posts, profile: "alpha" }) },
  { name: "beta", data: DataSet.generate({ comments: 0, posts, profile: "beta", firstPost: posts }) }
]

const everyComment = (sandbox: Sandbox.SandboxHandle) =>
  Effect.gen(function*() {
    const byPost = new Map<string, ReadonlyArray<DataSet.Comment>>()
    for (const profile of yield* sandbox.profiles) {
      for (const postId of profile.postIds) {
        byPost.set(postId, yield* readAll({ ...sandbox, profile: profile.name }, postId, 50))
      }
    }
    return byPost
  })

describe("comments arriving over time", () => {
  it.scoped("arrive as the sandbox clock runs, each stamped with the time it arrived", () =>
    Sandbox.make({ now, seed: 3, profiles: profiles(5), arrivals: { perMinute: 30 } }).pipe(
      Effect.flatMap((sandbox) =>
        Effect.gen(function*() {
          assert.strictEqual((yield* sandbox.stats).arrivedComments, 0)
          assert.strictEqual((yield* sandbox.postIds).length, 10)
          let seen = 0
          for (let minute = 1; minute <= 10; minute++) {
            yield* TestClock.adjust("1 minute")
            const current = now.getTime() + minute * 60_000
            const comments = [...(yield* everyComment(sandbox)).values()].flat()
            const stamps = comments.map((comment) => Date.parse(comment.timestamp.replace("+0000", "Z")))
            // Every comment is stamped no later than now, and exactly the new ones within the last minute (stamps are
            // whole seconds, and the minute starts on one).
            assert.isTrue(stamps.every((at) => at <= current))
            assert.strictEqual(stamps.filter((at) => at >= current - 60_000).length, comments.length - seen)
            seen = comments.length
          }
          const arrived = (yield* sandbox.stats).arrivedComments
          assert.strictEqual(arrived, seen)
          // 30 a minute for 10 minutes: a Poisson count of mean 300.
          assert.isTrue(arrived > 240 && arrived < 360, `arrived ${arrived}`)
          const texts = [...(yield* everyComment(sandbox)).values()].flat()
          assert.isTrue(texts.every((comment) => comment.user?.id !== undefined && comment.user.username !== undefined))
          const asking = texts.filter((comment) => /gu[ií]/i.test(comment.text.normalize("NFKC"))).length
          assert.isTrue(asking > 0 && asking < texts.length, "a mix of texts")
        })
      ),
      Effect.provide(FetchHttpClient.layer)
    ))

  it.scoped("with a history, posts are live at the start: earlier comments at the same rates, asking at their own ratio", () =>
    Sandbox.make({
      now,
      seed: 4,
      profiles: profiles(5),
      arrivals: { perMinute: 30, matchRatio: 1, historyMinutes: 60, historyMatchRatio: 0 }
    }).pipe(
      Effect.flatMap((sandbox) =>
        Effect.gen(function*() {
          // "guide" as a word ("guidelines?" and "misguided take" do not ask).
          const asks = (comment: DataSet.Comment) =>
            /(^|[^a-z])gu[ií]de([^a-z]|$)/i.test(comment.text.normalize("NFKC"))
          const stampOf = (comment: DataSet.Comment) => Date.parse(comment.timestamp.replace("+0000", "Z"))
          const before = [...(yield* everyComment(sandbox)).values()].flat()
          // An hour at 30 a minute before the start: a Poisson count of mean 1,800, none asking, none in the future.
          assert.isTrue(before.length > 1_600 && before.length < 2_000, `history ${before.length}`)
          assert.isTrue(before.every((comment) => stampOf(comment) <= now.getTime() && !asks(comment)))
          assert.isTrue(before.some((comment) => stampOf(comment) < now.getTime() - 50 * 60_000))
          yield* TestClock.adjust("2 minutes")
          const after = [...(yield* everyComment(sandbox)).values()].flat().filter((comment) =>
            stampOf(comment) > now.getTime()
          )
          assert.isTrue(after.length > 30 && after.every(asks), `after the start ${after.length}`)
        })
      ),
      Effect.provide(FetchHttpClient.layer)
    ))

  it.scoped("give the hot tenth of the posts about nine tenths of the comments", () =>
    Sandbox.make({ now, seed: 5, profiles: profiles(10), arrivals: { perMinute: 100 } }).pipe(
      Effect.flatMap((sandbox) =>
        Effect.gen(function*() {
          const summary = yield* sandbox.arrivals
          const hot = summary.posts.filter((post) => post.hot)
          assert.strictEqual(hot.length, 2)
          assert.deepStrictEqual(hot.map((post) => post.perMinute), [45, 45])
          assert.isTrue(
            summary.posts.filter((post) => !post.hot).every((post) => Math.abs(post.perMinute - 10 / 18) < 1e-9)
          )

          yield* TestClock.adjust("1 hour")
          const byPost = yield* everyComment(sandbox)
          const total = [...byPost.values()].reduce((sum, comments) => sum + comments.length, 0)
          const onHot = hot.reduce((sum, post) => sum + (byPost.get(post.postId)?.length ?? 0), 0)
          assert.strictEqual(total, (yield* sandbox.arrivals).arrived)
          assert.isTrue(total > 5500 && total < 6500, `total ${total}`)
          assert.isTrue(Math.abs(onHot / total - 0.9) < 0.02, `hot share ${onHot / total}`)
        })
      ),
      Effect.provide(FetchHttpClient.layer)
    ))

  it.scoped("are the same for the same seed and differ for another", () =>
    Effect.gen(function*() {
      const run = (seed: number) =>
        Effect.scoped(
          Sandbox.make({ now, seed, profiles: profiles(3), arrivals: { perMinute: 20, hotShare: 0.34 } }).pipe(
            Effect.tap(() => TestClock.adjust("5 minutes")),
            Effect.flatMap(everyComment),
            Effect.tap(() => TestClock.setTime(0))
          )
        )
      const first = yield* run(11)
      const again = yield* run(11)
      const other = yield* run(12)
      assert.deepStrictEqual([...again.entries()], [...first.entries()])
      assert.notDeepEqual([...other.entries()], [...first.entries()])
      assert.isAbove([...first.values()].flat().length, 50)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scoped("follow fixed rates per post, and only the posts named", () =>
    Sandbox.make({
      now,
      profiles: profiles(2),
      arrivals: { perPost: { [DataSet.postId(1)]: 12 }, posts: [DataSet.postId(1)] }
    }).pipe(
      Effect.flatMap((sandbox) =>
        Effect.gen(function*() {
          assert.deepStrictEqual((yield* sandbox.arrivals).posts, [{
            postId: DataSet.postId(1),
            perMinute: 12,
            hot: true
          }])
          yield* TestClock.adjust("10 minutes")
          const byPost = yield* everyComment(sandbox)
          const counts = [...byPost.entries()].map(([postId, comments]) => [postId, comments.length > 0])
          assert.deepStrictEqual(counts, [
            [DataSet.postId(0), false],
            [DataSet.postId(1), true],
            [DataSet.postId(2), false],
            [DataSet.postId(3), false]
          ])
          const ids = byPost.get(DataSet.postId(1))?.map((comment) => comment.id) ?? []
          assert.strictEqual(new Set(ids).size, ids.length, "distinct comment ids")
        })
      ),
      Effect.provide(FetchHttpClient.layer)
    ))
})
