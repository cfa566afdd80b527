import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck } from "effect"
import { DataSet, Sandbox } from "../src/index.js"
import * as Cursor from "../src/internal/cursor.js"
import * as Generator from "../src/internal/generator.js"
import { now } from "./fixtures.js"
import { CommentsPage, decode, get } from "./support.js"

const day = 24 * 60 * 60 * 1000
const placement = (count: number, postIndex = 0): Generator.Placement => ({
  postIndex,
  count,
  startMillis: now.getTime() - 10 * day,
  endMillis: now.getTime()
})
const settings = DataSet.generate({ comments: 5000, people: 2000 })

describe("generated comments", () => {
  it.scopedLive("serve a page from the middle of a million comments without materialising them", () =>
    Effect.gen(function*() {
      const heapBefore = process.memoryUsage().heapUsed
      const started = performance.now()
      const data = DataSet.generate({ comments: 1_000_000, people: 200_000 })
      const sandbox = yield* Sandbox.make({ data, now: now })
      const postId = DataSet.postId(0)
      const page = (after?: number) =>
        get(sandbox, "/uploadposts/comments", {
          platform: "instagram",
          user: "demo",
          post_id: postId,
          limit: 50,
          ...(after === undefined ? {} : { after: Cursor.encode(postId, after) })
        }).pipe(Effect.map(decode(CommentsPage)))

      const newest = yield* page()
      const middle = yield* page(500_000)
      const oldest = yield* page(20)
      const elapsed = performance.now() - started
      const heapGrowth = process.memoryUsage().heapUsed - heapBefore

      assert.strictEqual(newest.comments[0]?.id, Generator.commentId(0, 999_999))
      assert.deepStrictEqual(
        middle.comments.map((comment) => comment.id),
        Array.from({ length: 50 }, (_, i) => Generator.commentId(0, 499_999 - i))
      )
      assert.strictEqual(middle.pagination.next_cursor, Cursor.encode(postId, 499_950))
      assert.strictEqual(oldest.comments.length, 20)
      assert.isFalse(oldest.pagination.has_next)
      assert.isBelow(elapsed, 5000)
      assert.isBelow(heapGrowth, 40 * 1024 * 1024)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scopedLive("are the same for the same seed and differ for another", () =>
    Effect.gen(function*() {
      const data = DataSet.generate({ comments: 10_000, posts: 2 })
      const read = (seed: number) =>
        Sandbox.make({ data, seed, now: now }).pipe(
          Effect.flatMap((sandbox) =>
            get(sandbox, "/uploadposts/comments", {
              platform: "instagram",
              user: "demo",
              post_id: DataSet.postId(1),
              after: Cursor.encode(DataSet.postId(1), 4321)
            })
          ),
          Effect.map((answer) => answer.body)
        )
      const first = yield* read(7)
      assert.deepStrictEqual(yield* read(7), first)
      assert.notDeepEqual(yield* read(8), first)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it("are a pure function of seed, post and position", () => {
    for (const index of [0, 1, 4999, 123_456_789]) {
      assert.deepStrictEqual(
        Generator.commentAt(settings, 3, placement(200_000_000), index),
        Generator.commentAt(settings, 3, placement(200_000_000), index)
      )
    }
  })

  it("mix matching texts, other texts, odd Unicode, every user shape and older comments", () => {
    const comments = Array.from({ length: 5000 }, (_, i) => Generator.commentAt(settings, 1, placement(5000), i))
    const texts = new Set(comments.map((comment) => comment.text))
    for (const text of ["GUIDE please", "guíde🔥", "ＧＵＩＤＥ", "guide!!", "Guide me 🙏"]) {
      assert.isTrue(texts.has(text), text)
    }
    for (const text of ["love this", "guidelines?", "misguided take", "🔥🔥🔥"]) {
      assert.isTrue(texts.has(text), text)
    }
    const oddScripts = [/\p{Script=Arabic}/u, /\p{Script=Cyrillic}/u, /\p{Script=Han}/u, /\u200d/, /\p{M}/u]
    for (const script of oddScripts) {
      assert.isTrue(comments.some((comment) => script.test(comment.text)), String(script))
    }
    const share = (predicate: (comment: Generator.Comment) => boolean) =>
      comments.filter(predicate).length / comments.length
    assert.approximately(share((c) => c.asksForGuide), 0.4, 0.03)
    assert.approximately(share((c) => c.user === undefined), 0.02, 0.01)
    assert.approximately(share((c) => c.user !== undefined && c.user.id === undefined), 0.01, 0.01)
    assert.approximately(share((c) => c.username !== undefined), 0.05, 0.015)
    assert.isAbove(share((c) => c.timestamp < now.getTime() - 7 * day), 0.2)

    const authors = comments.flatMap((comment) => comment.user?.id === undefined ? [] : [comment.user.id])
    assert.isBelow(new Set(authors).size, authors.length * 0.6)
    const onSecondPost = new Set(
      Array.from({ length: 500 }, (_, i) => Generator.commentAt(settings, 1, placement(5000, 1), i).user?.id)
    )
    assert.isTrue(authors.some((author) => onSecondPost.has(author)), "people comment across posts")
  })

  it.prop(
    "list newest first: timestamps never increase as positions go down",
    [FastCheck.integer(), FastCheck.integer({ min: 2, max: 1_000_000 })],
    ([seed, count]) => {
      const at = (index: number) => Generator.commentAt(settings, seed, placement(count), index).timestamp
      for (const index of [1, Math.floor(count / 2), count - 1]) {
        assert.isTrue(at(index - 1) <= at(index))
      }
    }
  )
})
