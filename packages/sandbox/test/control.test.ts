import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Control, Faults, Sandbox } from "../src/index.js"
import { dm, now, privateReply, studio, withStudio } from "./fixtures.js"
import { CommentsPage, decode, get, post, readAll, type Target } from "./support.js"

const controlOf = (sandbox: Target): Target => ({
  baseUrl: `${new URL(sandbox.baseUrl).origin}/__sandbox`,
  apiKey: sandbox.apiKey
})

describe("control over HTTP (/__sandbox/)", () => {
  it.scoped("lists deliveries, adds comments and posts, resets the day, changes knobs and reports stats", () =>
    withStudio({ dailyDmLimit: 1 }, (sandbox) =>
      Effect.gen(function*() {
        const remote = yield* Control.remote({ baseUrl: sandbox.baseUrl, apiKey: sandbox.apiKey })

        yield* post(sandbox, "/uploadposts/dms/send", dm("u1", "hello"))
        const deliveries = yield* remote.deliveries
        assert.deepStrictEqual(deliveries, yield* sandbox.deliveries)
        assert.strictEqual(deliveries[0]?.message, "hello")

        const added = yield* remote.addComment({
          postId: "p1",
          text: "GUIDE pls",
          user: { id: "u9", username: "late.comer" }
        })
        assert.strictEqual(added.timestamp, "2026-03-28T12:00:00+0000")
        const top = decode(CommentsPage)(
          yield* get(sandbox, "/uploadposts/comments", {
            platform: "instagram",
            user: "studio",
            post_id: "p1",
            limit: 1
          })
        )
        assert.deepStrictEqual(top.comments, [added])

        const created = yield* remote.addPost({
          id: "p2",
          comments: [{ id: "n1", text: "guide", timestamp: "2026-03-28T11:00:00+0000", user: { id: "u1" } }]
        })
        assert.deepStrictEqual(created, {
          id: "p2",
          url: "https://www.instagram.com/reel/p2/",
          platform: "instagram",
          comments: 1
        })
        const generated = yield* remote.addPost({ id: "p3", generatedComments: 120 })
        assert.strictEqual(generated.comments, 120)
        assert.deepStrictEqual(yield* remote.postIds, ["p1", "p2", "p3"])
        assert.strictEqual((yield* readAll(sandbox, "p3", 50)).length, 120)

        assert.strictEqual((yield* post(sandbox, "/uploadposts/comments/reply", privateReply("n1"))).status, 429)
        yield* remote.resetDaily
        assert.strictEqual((yield* post(sandbox, "/uploadposts/comments/reply", privateReply("n1"))).status, 200)

        const faults = yield* remote.setFaults({ sendErrorRate: 1, refusedRecipients: ["u2"] })
        assert.deepStrictEqual(faults, {
          ...Faults.defaults,
          dailyDmLimit: 1,
          sendErrorRate: 1,
          refusedRecipients: ["u2"]
        })
        assert.deepStrictEqual(yield* remote.faults, yield* sandbox.faults)
        yield* remote.resetDaily
        assert.strictEqual((yield* post(sandbox, "/uploadposts/dms/send", dm("u3"))).status, 500)

        const stats = yield* remote.stats
        assert.deepStrictEqual(stats.requests, {
          "POST /uploadposts/dms/send": 2,
          "GET /uploadposts/comments": 4,
          "POST /uploadposts/comments/reply": 2
        })
        assert.deepStrictEqual(stats.responses, { "200": 6, "429": 1, "500": 1 })
        assert.strictEqual(stats.deliveries, 2)
      }), "open"))

  it.scoped("answers with typed errors a remote caller can tell apart", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        const remote = yield* Control.remote({ baseUrl: sandbox.baseUrl, apiKey: sandbox.apiKey })
        const missingPost = yield* Effect.flip(remote.addComment({ postId: "nope", text: "hi" }))
        assert.isTrue(missingPost instanceof Control.PostNotFound)
        assert.strictEqual(missingPost._tag === "PostNotFound" && missingPost.postId, "nope")
        const taken = yield* Effect.flip(remote.addComment({ postId: "p1", id: "c1", text: "hi" }))
        assert.strictEqual(taken._tag === "CommentExists" && taken.commentId, "c1")
        const twice = yield* Effect.flip(remote.addPost({ id: "p1" }))
        assert.strictEqual(twice._tag, "PostExists")
        assert.match(twice.message, /already has a post p1/)

        const wrongKey = yield* Control.remote({ baseUrl: sandbox.baseUrl, apiKey: "wrong" })
        const refused = yield* Effect.flip(wrongKey.stats)
        assert.strictEqual(
          refused.message,
          new Control.ControlRequestFailed({ operation: "stats", reason: "status 401" }).message
        )
      })))

  it.scoped("checks the key and the body", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        const control = controlOf(sandbox)
        const unauthorized = yield* get(control, "/stats", {}, null)
        assert.deepStrictEqual([unauthorized.status, unauthorized.body], [401, {
          success: false,
          message: "Invalid API key"
        }])
        const badKnob = yield* post(control, "/faults", { sendErrorRate: 2 })
        assert.strictEqual(badKnob.status, 400)
        const unknownKnob = yield* post(control, "/faults", { sendErrorRat: 1 })
        assert.strictEqual(unknownKnob.status, 400)
        assert.deepStrictEqual(yield* sandbox.faults, Faults.defaults)
        const stats = yield* sandbox.stats
        assert.deepStrictEqual(stats.requests, {}, "control calls are not counted")
      })))
})

describe("the library control", () => {
  it.scoped("starts from the data set's profile and the given clock", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        assert.strictEqual(sandbox.profile, studio.profile)
        assert.match(sandbox.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/api$/)
        const comment = yield* sandbox.addComment({ postId: "p1", text: "hey" })
        assert.strictEqual(Date.parse(comment.timestamp), now.getTime())
        assert.match(comment.id, /^19\d{15}$/)
      })))
})

layer(Sandbox.layer({ data: studio, now, faults: { dailyDmLimit: 3 } }))("Sandbox.layer", (it) => {
  it.effect("provides a running sandbox as a service", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.Sandbox
      const answer = yield* get(sandbox, "/uploadposts/me").pipe(Effect.provide(FetchHttpClient.layer))
      assert.strictEqual(answer.status, 200)
      assert.strictEqual((yield* sandbox.faults).dailyDmLimit, 3)
    }))
})
