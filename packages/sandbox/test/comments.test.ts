import { FetchHttpClient } from "@effect/platform"
import type { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { DataSet, Sandbox } from "../src/index.js"
import { CommentsPage, decode, Failure, get, readAll } from "./support.js"

const firstPost = DataSet.postId(0)
const query = (extra: Record<string, string | number> = {}) => ({
  platform: "instagram",
  user: "demo",
  post_id: firstPost,
  ...extra
})
const instagramTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000$/

const withSandbox = <A, E>(
  f: (sandbox: Sandbox.SandboxHandle) => Effect.Effect<A, E, HttpClient.HttpClient>
) => Sandbox.make().pipe(Effect.flatMap(f), Effect.provide(FetchHttpClient.layer))

describe("GET /uploadposts/comments", () => {
  it.scopedLive("pages a post newest first to the end", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        const comments = yield* readAll(sandbox, firstPost, 50)
        assert.strictEqual(comments.length, 160)
        assert.strictEqual(new Set(comments.map((comment) => comment.id)).size, 160)
        const times = comments.map((comment) => Date.parse(comment.timestamp))
        assert.isTrue(times.every((time, i) => i === 0 || time <= (times[i - 1] ?? time)))
        assert.isTrue(comments.every((comment) => instagramTime.test(comment.timestamp)))
      })
    ))

  it.scopedLive("serves 50 comments when no limit is given and the rest on later pages", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        const first = decode(CommentsPage)(yield* get(sandbox, "/uploadposts/comments", query()))
        assert.strictEqual(first.comments.length, 50)
        assert.isTrue(first.pagination.has_next)
        const last = decode(CommentsPage)(
          yield* get(sandbox, "/uploadposts/comments", query({ limit: 7, after: first.pagination.next_cursor ?? "" }))
        )
        assert.strictEqual(last.comments.length, 7)
        const small = yield* readAll(sandbox, DataSet.postId(2), 13)
        assert.strictEqual(small.length, 60)
      })
    ))

  it.scopedLive("answers a limit out of 1-50 or not an integer with a 400", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        for (const limit of ["0", "51", "-1", "abc", "2.5", "1e1"]) {
          const answer = yield* get(sandbox, "/uploadposts/comments", query({ limit }))
          assert.strictEqual(answer.status, 400, `limit ${limit}`)
          assert.deepStrictEqual(answer.body, { success: false, message: "limit must be between 1 and 50" })
        }
        const edge = yield* get(sandbox, "/uploadposts/comments", query({ limit: 1 }))
        assert.strictEqual(decode(CommentsPage)(edge).comments.length, 1)
      })
    ))

  it.scopedLive("answers missing parameters, a wrong user and an unknown post with a 400", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        const missing = yield* get(sandbox, "/uploadposts/comments", { platform: "instagram" })
        assert.strictEqual(missing.status, 400)
        assert.strictEqual(decode(Failure)(missing).message, "Missing required parameters: user, post_id or post_url")
        const wrongUser = yield* get(sandbox, "/uploadposts/comments", query({ user: "someone-else" }))
        assert.strictEqual(wrongUser.status, 400)
        assert.deepStrictEqual(wrongUser.body, { success: false, error: "Invalid account" })
        const unknown = yield* get(sandbox, "/uploadposts/comments", query({ post_id: "123" }))
        assert.strictEqual(unknown.status, 400)
        assert.deepStrictEqual(unknown.body, { success: false, message: "Post not found" })
      })
    ))

  it.scopedLive("finds a post by URL in any of its spellings", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        const url = DataSet.reelUrl(firstPost)
        const byId = decode(CommentsPage)(yield* get(sandbox, "/uploadposts/comments", query({ limit: 1 })))
        const spellings = [url, url.replace("https://www.", "https://"), url.slice(0, -1), `${url}?igsh=abc`]
        for (const spelling of spellings) {
          const { post_id: _, ...rest } = query({ post_url: spelling, limit: 1 })
          const page = decode(CommentsPage)(yield* get(sandbox, "/uploadposts/comments", rest))
          assert.deepStrictEqual(page, byId, spelling)
        }
      })
    ))

  it.scopedLive("rejects a cursor that is garbage or belongs to another post", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        const other = decode(CommentsPage)(
          yield* get(sandbox, "/uploadposts/comments", query({ post_id: DataSet.postId(1), limit: 5 }))
        )
        for (const after of ["not-a-cursor", other.pagination.next_cursor ?? ""]) {
          const answer = yield* get(sandbox, "/uploadposts/comments", query({ after }))
          assert.strictEqual(answer.status, 400)
          assert.match(decode(Failure)(answer).message ?? "", /^Invalid cursor/)
        }
      })
    ))

  it.scopedLive("answers a post without comments with an empty first page, then pages its first comment", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        yield* sandbox.addPost({ id: "17900000000000901" })
        yield* sandbox.addPost({ id: "17900000000000902", generatedComments: 0 })
        for (const postId of ["17900000000000901", "17900000000000902"]) {
          const empty = yield* get(sandbox, "/uploadposts/comments", query({ post_id: postId }))
          assert.strictEqual(empty.status, 200, `post ${postId}: ${JSON.stringify(empty.body)}`)
          assert.deepStrictEqual(empty.body, {
            success: true,
            comments: [],
            pagination: { next_cursor: null, has_next: false }
          })
          const garbage = yield* get(
            sandbox,
            "/uploadposts/comments",
            query({ post_id: postId, after: "not-a-cursor" })
          )
          assert.strictEqual(garbage.status, 400)
        }
        yield* sandbox.addComment({ postId: "17900000000000901", text: "guide", user: { id: "99", username: "first" } })
        const first = decode(CommentsPage)(
          yield* get(sandbox, "/uploadposts/comments", query({ post_id: "17900000000000901" }))
        )
        assert.deepStrictEqual(first.comments.map((comment) => comment.text), ["guide"])
        assert.deepStrictEqual(first.pagination, { next_cursor: null, has_next: false })
      })
    ))

  it.scopedLive("keeps a cursor's place while new comments arrive at the top", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        const before = yield* readAll(sandbox, firstPost, 50)
        const first = decode(CommentsPage)(yield* get(sandbox, "/uploadposts/comments", query({ limit: 10 })))
        for (const text of ["GUIDE please", "new here", "guide!!"]) {
          yield* sandbox.addComment({ postId: firstPost, text, user: { id: "99", username: "late" } })
        }
        const second = decode(CommentsPage)(
          yield* get(sandbox, "/uploadposts/comments", query({ limit: 10, after: first.pagination.next_cursor ?? "" }))
        )
        assert.deepStrictEqual(
          [...first.comments, ...second.comments].map((comment) => comment.id),
          before.slice(0, 20).map((comment) => comment.id)
        )
        const fresh = decode(CommentsPage)(yield* get(sandbox, "/uploadposts/comments", query({ limit: 3 })))
        assert.deepStrictEqual(fresh.comments.map((comment) => comment.text), ["guide!!", "new here", "GUIDE please"])
      })
    ))

  it.scopedLive("serves every user shape: nested, flat username, no user id, no user", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        const comments = yield* readAll(sandbox, firstPost, 50)
        const nested = comments.filter((c) => c.user?.id !== undefined && c.user.username !== undefined)
        const flat = comments.filter((c) => c.username !== undefined && c.user?.id !== undefined)
        const noId = comments.filter((c) => c.user !== undefined && c.user.id === undefined)
        const noUser = comments.filter((c) => c.user === undefined)
        assert.isAbove(nested.length, comments.length / 2)
        assert.isAbove(flat.length, 0)
        assert.isAbove(noId.length, 0)
        assert.isAbove(noUser.length, 0)
        const people = new Set(nested.map((c) => c.user?.id))
        assert.isBelow(people.size, nested.length, "some people comment more than once")
      })
    ))
})

describe("authentication and rate-limit headers", () => {
  it.scopedLive("answers a missing or wrong key with 401 Invalid API key", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        for (const key of [null, "wrong-key"]) {
          const answer = yield* get(sandbox, "/uploadposts/me", {}, key)
          assert.strictEqual(answer.status, 401)
          assert.deepStrictEqual(answer.body, { success: false, message: "Invalid API key" })
          assert.isDefined(answer.headers["x-ratelimit-limit"])
        }
      })
    ))

  it.scopedLive("puts the rate-limit headers on every answer", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        const answers = [
          yield* get(sandbox, "/uploadposts/me"),
          yield* get(sandbox, "/uploadposts/comments", query({ limit: 0 })),
          yield* get(sandbox, "/uploadposts/dms/conversations", { platform: "instagram", user: "demo" })
        ]
        const nowSeconds = Date.now() / 1000
        for (const answer of answers) {
          assert.strictEqual(answer.headers["x-ratelimit-limit"], "100000")
          assert.isTrue(Number(answer.headers["x-ratelimit-remaining"]) > 0)
          const reset = Number(answer.headers["x-ratelimit-reset"])
          assert.isTrue(reset >= nowSeconds - 1 && reset <= nowSeconds + 61)
        }
        assert.deepStrictEqual(
          answers.map((answer) => Number(answer.headers["x-ratelimit-remaining"])),
          [99_999, 99_998, 99_997]
        )
      })
    ))
})

describe("GET /uploadposts/me and /uploadposts/media", () => {
  it.scopedLive("validates the key and lists the profile's posts newest first", () =>
    withSandbox((sandbox) =>
      Effect.gen(function*() {
        const me = yield* get(sandbox, "/uploadposts/me")
        assert.deepStrictEqual(me.body, { success: true, email: "demo@sandbox.upload-post.local", plan: "sandbox" })
        const Media = Schema.Struct({
          media: Schema.Array(Schema.Struct({ id: Schema.String, url: Schema.String, timestamp: Schema.String })),
          pagination: Schema.Struct({ next_cursor: Schema.NullOr(Schema.String), has_more: Schema.Boolean })
        })
        const first = decode(Media)(
          yield* get(sandbox, "/uploadposts/media", { platform: "instagram", user: "demo", limit: 2 })
        )
        assert.deepStrictEqual(first.media.map((post) => post.id), [DataSet.postId(2), DataSet.postId(1)])
        assert.isTrue(first.pagination.has_more)
        const rest = decode(Media)(
          yield* get(sandbox, "/uploadposts/media", {
            platform: "instagram",
            user: "demo",
            limit: 2,
            cursor: first.pagination.next_cursor ?? ""
          })
        )
        assert.deepStrictEqual(rest.media.map((post) => post.id), [DataSet.postId(0)])
        assert.strictEqual(rest.media[0]?.url, DataSet.reelUrl(DataSet.postId(0)))
        assert.isFalse(rest.pagination.has_more)
      })
    ))
})
