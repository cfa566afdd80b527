/**
 * The Upload-Post client over real HTTP: against the sandbox for the answers the real service gives, and against a
 * bare node:http server for the ones it must survive (bodies that are not JSON, truncated or of the wrong shape), on
 * the command's client and on the general ones. Then on a test `HttpClient` with no server: the error table, the
 * timeout on the TestClock, and middleware that sees every request.
 */
import type { DataSet, Faults } from "@comment-dm/sandbox"
import { Sandbox } from "@comment-dm/sandbox"
import { FetchHttpClient, HttpClient, HttpClientError, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Clock,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberRef,
  Layer,
  Option,
  Redacted,
  type Scope,
  Stream,
  TestClock,
  TestServices,
  Tracer
} from "effect"
import * as KeepAliveHttpClient from "../src/KeepAliveHttpClient.js"
import * as Retry from "../src/Retry.js"
import * as UploadPost from "../src/UploadPost.js"
import type * as UploadPostError from "../src/UploadPostError.js"
import { crowdPost, guideData, guidePost, linkPost, people, profile } from "./support/e2e-data.js"
import { closedPort, type RawAnswer, type RawHandler, startRawServer } from "./support/e2e-rawServer.js"
import * as TestHttpClient from "./support/testHttpClient.js"
import { json } from "./support/testHttpClient.js"

/** Sandbox time in these tests: a whole minute, so that request-rate windows start with the test. */
const now = new Date("2026-03-28T12:00:00Z")

const crowd = crowdPost({ id: "17900000000000201", count: 23, newest: new Date(now.getTime() - 3_600_000) })

const data: DataSet.Listed = { ...guideData, posts: [...guideData.posts, crowd] }

/** The newest first order the API promises: the crowd post lists its comments newest first already. */
const crowdIds = crowd.comments.map((comment) => comment.id)

/** Quick back-off, so that live tests of the retry policy take milliseconds. */
const quickPolicy: Retry.RetryPolicy = {
  maxAttempts: 12,
  baseDelay: Duration.millis(1),
  maxDelay: Duration.millis(5),
  maxElapsed: Duration.seconds(10),
  maxRateLimitWaits: 3,
  maxRateLimitWait: Duration.minutes(5)
}

/** The `HttpClient` the Upload-Post client under test goes through: every test below runs on each of them. */
class HttpUnderTest extends Context.Tag("test/HttpUnderTest")<HttpUnderTest, Layer.Layer<HttpClient.HttpClient>>() {}

const clients = [
  { name: "over KeepAliveHttpClient (the command's)", layer: KeepAliveHttpClient.layer() },
  { name: "over NodeHttpClient", layer: NodeHttpClient.layer }
] as const

/**
 * The sandbox's answer time in the timeout tests: far beyond their 100 ms timeout, so that a request that waited for
 * the answer is told from one that did not however slow a loaded machine makes the rest.
 */
const slowAnswer = 1_500

/** The effect's result and how long it took, in wall-clock milliseconds. */
const took = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const started = Date.now()
    return Effect.map(effect, (result) => [Date.now() - started, result] as const)
  })

/** `it.scopedLive` with the client under test (the `it` of a layer has no live variant). */
const scopedLiveWith =
  (http: Layer.Layer<HttpClient.HttpClient>) =>
  <E>(name: string, self: () => Effect.Effect<void, E, HttpUnderTest | Scope.Scope>) =>
    it.scopedLive(name, () => Effect.provideService(self(), HttpUnderTest, http))

/** The real client over `http`, for the life of the scope. */
const clientOver = (
  http: Layer.Layer<HttpClient.HttpClient>,
  baseUrl: string,
  apiKey: string,
  settings: Partial<UploadPost.Settings> = {}
) =>
  UploadPost.UploadPost.Default.pipe(
    Layer.provide(UploadPost.UploadPostConfig.layer({ baseUrl, apiKey: Redacted.make(apiKey), ...settings })),
    Layer.provide(http),
    Layer.build,
    Effect.map(Context.get(UploadPost.UploadPost))
  )

/** The real client over the `HttpClient` under test. */
const clientFor = (baseUrl: string, apiKey: string, settings: Partial<UploadPost.Settings> = {}) =>
  Effect.flatMap(HttpUnderTest, (http) => clientOver(http, baseUrl, apiKey, settings))

/**
 * A sandbox serving the guide posts and a 23-comment post, and a client pointed at it. Open windows: DMs reach every
 * commenter but the refused recipients a test names.
 */
const studio = (faults: Faults.FaultsPatch = {}, settings: Partial<UploadPost.Settings> = {}) =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.make({ data, now, faults, seed: 7, windows: "open" })
    const api = yield* clientFor(sandbox.baseUrl, sandbox.apiKey, settings)
    return { sandbox, api }
  })

/** A bare server answering every request with `handler`, and a client pointed at it. */
const rawStudio = (handler: RawHandler) =>
  Effect.gen(function*() {
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => startRawServer(handler)),
      (server) => Effect.promise(() => server.close())
    )
    const api = yield* clientFor(server.baseUrl, "raw-key")
    return { server, api }
  })

const comments = { platform: "instagram", user: profile } as const
const dm = (recipientId: string, message = "Here is your guide") => ({
  platform: "instagram",
  user: profile,
  recipientId,
  message
})

const requestCount = (sandbox: Sandbox.SandboxHandle, endpoint: string) =>
  Effect.map(sandbox.stats, (stats) => stats.requests[endpoint] ?? 0)

/** Reads a post page by page with `commentPage`, returning the size of each page. */
const pageSizes = (api: UploadPost.UploadPost, limit: number) =>
  Effect.gen(function*() {
    const sizes: Array<number> = []
    let after = Option.none<string>()
    do {
      const page = yield* api.commentPage({ ...comments, post: { postId: crowd.id }, limit }, after)
      sizes.push(page.comments.length)
      after = page.nextCursor
    } while (Option.isSome(after))
    return sizes
  })

type Tag = UploadPostError.UploadPostError["_tag"]

interface Row {
  readonly name: string
  readonly answer: RawAnswer
  readonly read: Tag
  readonly send: Tag
}

const row = (name: string, answer: RawAnswer, read: Tag, send: Tag): Row => ({ name, answer, read, send })

/** Every row of the error table, by status and body, for a read (`me`) and a send (`sendDm`). */
const rows: ReadonlyArray<Row> = [
  row(
    "429 daily limit",
    json(429, { success: false, error: "Daily DM limit exceeded." }),
    "DailyLimitReached",
    "DailyLimitReached"
  ),
  row(
    "429 request rate",
    json(429, { message: "Too many requests" }, { "retry-after": "5" }),
    "RateLimited",
    "RateLimited"
  ),
  row(
    "400 messaging window",
    json(400, { success: false, error: "(#10) This message is sent outside of allowed window." }),
    "InvalidRequest",
    "RecipientRefused"
  ),
  row("401", json(401, { success: false, message: "Invalid API key" }), "Unauthorized", "Unauthorized"),
  row("403", json(403, { detail: "Forbidden" }), "Unauthorized", "Unauthorized"),
  row("408", json(408, { error: "Request timeout" }), "Transient", "Transient"),
  row("502 not JSON", { status: 502, body: "<html>Bad gateway</html>" }, "Transient", "Transient"),
  row(
    "400 missing fields",
    json(400, { success: false, error_code: "MISSING_FIELDS" }),
    "InvalidRequest",
    "InvalidRequest"
  ),
  row(
    "422 worded unlike any known refusal",
    json(422, { success: false, error: "Blocked by a policy nobody has documented" }),
    "InvalidRequest",
    "UnrecognisedRefusal"
  ),
  row("300", json(300, { message: "Multiple choices" }), "MalformedResponse", "SendInDoubt"),
  row(
    "200 refusing in its body",
    json(200, { success: false, error: "Something went wrong" }),
    "MalformedResponse",
    "SendInDoubt"
  ),
  row("200 not JSON", { status: 200, body: "<html>maintenance</html>" }, "MalformedResponse", "SendInDoubt"),
  row(
    "200 truncated JSON",
    { status: 200, body: `{"success": true, "message_id": "m_1", "email": "a@b.c", "pl` },
    "MalformedResponse",
    "SendInDoubt"
  ),
  row("200 ill-typed", json(200, { success: true, message_id: 17.5, email: 42 }), "MalformedResponse", "SendInDoubt")
]

/** Answers each row in turn and checks what a read and a send fail with. */
const mapsEveryRow = (api: UploadPost.UploadPost, answerWith: (answer: RawAnswer) => void) =>
  Effect.gen(function*() {
    for (const row of rows) {
      answerWith(row.answer)
      const read = yield* Effect.flip(api.me)
      const send = yield* Effect.flip(api.sendDm(dm(people.anna)))
      assert.deepStrictEqual([read._tag, send._tag], [row.read, row.send], row.name)
    }
  })

for (const client of clients) {
  layer(Layer.succeed(HttpUnderTest, client.layer))(client.name, (it) => {
    const scopedLive = scopedLiveWith(client.layer)
    describe("comments", () => {
      it.scoped("streams every comment of a post exactly once, newest first, by post id and by post URL", () =>
        Effect.gen(function*() {
          const { api, sandbox } = yield* studio()
          const byId = yield* Stream.runCollect(api.comments({ ...comments, post: { postId: crowd.id }, limit: 5 }))
          assert.deepStrictEqual(Chunk.toArray(byId).map((comment) => comment.id), crowdIds)
          assert.strictEqual(yield* requestCount(sandbox, "GET /uploadposts/comments"), 5, "23 comments in pages of 5")
          const byUrl = yield* Stream.runCollect(api.comments({ ...comments, post: { postUrl: crowd.url ?? "" } }))
          assert.deepStrictEqual(Chunk.toArray(byUrl).map((comment) => comment.id), crowdIds)
          assert.isTrue(Chunk.every(byUrl, (comment) => comment.post === crowd.url))
          const times = Chunk.toArray(byId).map((comment) => comment.timestamp?.getTime() ?? Number.NaN)
          assert.isTrue(times.every((time, i) => i === 0 || time < (times[i - 1] ?? 0)), "newest first")
        }))

      it.scoped("asks for pages of the size given, from 1 to 50", () =>
        Effect.gen(function*() {
          const { api } = yield* studio()
          assert.deepStrictEqual(yield* pageSizes(api, 1), Array(23).fill(1))
          assert.deepStrictEqual(yield* pageSizes(api, 7), [7, 7, 7, 2])
          assert.deepStrictEqual(yield* pageSizes(api, 50), [23])
        }))

      it.scoped("rejects a page size of 0 or 51 with a typed InvalidRequest", () =>
        Effect.gen(function*() {
          const { api } = yield* studio()
          for (const limit of [0, 51]) {
            const error = yield* Effect.flip(
              Stream.runDrain(api.comments({ ...comments, post: { postId: crowd.id }, limit }))
            )
            assert.strictEqual(error._tag, "InvalidRequest", `limit ${limit}`)
            if (error._tag === "InvalidRequest") {
              assert.strictEqual(error.status, 400)
              assert.strictEqual(error.detail, "limit must be between 1 and 50")
            }
          }
        }))

      it.scoped("folds the wire variants: flat username, missing user or id, +0000 timestamps", () =>
        Effect.gen(function*() {
          const { api } = yield* studio()
          const read = Chunk.toArray(
            yield* Stream.runCollect(api.comments({ ...comments, post: { postId: guidePost.id } }))
          )
          const byId = new Map(read.map((comment) => [comment.id, comment]))
          assert.strictEqual(read.length, 10)
          assert.deepStrictEqual(byId.get("17858893269001101"), {
            id: "17858893269001101",
            post: guidePost.id,
            text: "GUIDE please",
            timestamp: new Date("2026-03-28T10:15:00Z"),
            userId: people.anna,
            username: "anna.travels"
          })
          const flat = byId.get("17858893269001104")
          assert.strictEqual(flat?.userId, people.fatima)
          assert.strictEqual(flat?.username, "fatima.art")
          const deleted = byId.get("17858893269001106")
          assert.strictEqual(deleted?.userId, undefined)
          assert.strictEqual(deleted?.username, undefined)
          assert.strictEqual(deleted?.text, "guide!!")
          const noId = byId.get("17858893269001107")
          assert.strictEqual(noId?.userId, undefined)
          assert.strictEqual(noId?.username, "private.account")
        }))
    })

    describe("sends and the other endpoints", () => {
      it.scoped("sends a DM and returns the platform's message id", () =>
        Effect.gen(function*() {
          const { api, sandbox } = yield* studio()
          const delivered = yield* api.sendDm(dm(people.anna, "Hi @anna.travels"))
          const deliveries = yield* sandbox.deliveries
          assert.deepStrictEqual(deliveries.map((d) => [d.kind, d.recipientId, d.message, d.messageId]), [
            ["dm", people.anna, "Hi @anna.travels", delivered.messageId]
          ])
          assert.strictEqual(delivered.recipientId, people.anna)
        }))

      it.scoped("sends private and public replies to a comment", () =>
        Effect.gen(function*() {
          const { api, sandbox } = yield* studio()
          const reply = yield* api.privateReply({
            user: profile,
            commentId: "17858893269001201",
            message: "Your guide",
            buttons: [{ title: "Open", url: "https://example.com/g" }]
          })
          const publicReply = yield* api.publicReply({
            platform: "instagram",
            user: profile,
            commentId: "17858893269001201",
            message: "Sent you a DM!"
          })
          const deliveries = yield* sandbox.deliveries
          assert.deepStrictEqual(deliveries.map((d) => [d.kind, d.recipientId, d.commentId, d.messageId, d.message]), [
            ["private_reply", people.kenji, "17858893269001201", reply.messageId, "Your guide"],
            ["public_reply", people.kenji, "17858893269001201", publicReply.id, "Sent you a DM!"]
          ])
          assert.strictEqual(reply.recipientId, people.kenji)
        }))

      it.scoped("lists what was sent in the conversations", () =>
        Effect.gen(function*() {
          const { api } = yield* studio()
          const toAnna = yield* api.sendDm(dm(people.anna, "Hi anna"))
          const toKenji = yield* api.privateReply({
            user: profile,
            commentId: "17858893269001201",
            message: "Hi kenji"
          })
          const conversations = yield* api.conversations({ platform: "instagram", user: profile })
          // A commenter's conversation also lists what they wrote to the account: only the account's messages count.
          const sent = conversations.flatMap((conversation) =>
            conversation.messages.filter((message) => conversation.id !== `t_${message.fromId}`).map((message) => ({
              id: message.id,
              to: message.toIds,
              text: message.text,
              participant: conversation.participantIds.includes(message.toIds[0] ?? "")
            }))
          )
          assert.sameDeepMembers(sent, [
            { id: toAnna.messageId, to: [people.anna], text: "Hi anna", participant: true },
            { id: toKenji.messageId, to: [people.kenji], text: "Hi kenji", participant: true }
          ])
          const times = conversations.flatMap((conversation) =>
            conversation.messages.filter((m) => conversation.id !== `t_${m.fromId}`).map((m) => m.createdTime)
          )
          assert.isTrue(times.every((time) => time?.getTime() === now.getTime()), "created_time parsed from +0000")
        }))

      it.scoped("reads the account and its media", () =>
        Effect.gen(function*() {
          const { api } = yield* studio()
          assert.deepStrictEqual(yield* api.me, { email: `${profile}@sandbox.upload-post.local`, plan: "sandbox" })
          const media = yield* api.media({ platform: "instagram", user: profile })
          // The crowd post has no timestamp of its own: the sandbox dates it an hour before its first comment.
          assert.deepStrictEqual(media.map((item) => item.id), [crowd.id, linkPost.id, guidePost.id])
          assert.strictEqual(media[1]?.url, linkPost.url)
          assert.deepStrictEqual(media[1]?.timestamp, new Date("2026-03-25T09:00:00Z"))
        }))
    })

    describe("the error table over HTTP", () => {
      it.scoped("429 Daily DM limit exceeded -> DailyLimitReached", () =>
        Effect.gen(function*() {
          const { api, sandbox } = yield* studio({ dailyDmLimit: 0 })
          const error = yield* Effect.flip(api.sendDm(dm(people.anna)))
          assert.strictEqual(error._tag, "DailyLimitReached")
          assert.include(error.message, "Daily DM limit exceeded.")
          assert.deepStrictEqual(yield* sandbox.deliveries, [])
        }))

      it.scoped("a request-rate 429 -> RateLimited, waiting as long as Retry-After says", () =>
        Effect.gen(function*() {
          const { api } = yield* studio({ requestLimit: { requests: 1, windowSeconds: 60 } })
          yield* api.me
          const error = yield* Effect.flip(api.me)
          assert.strictEqual(error._tag, "RateLimited")
          if (error._tag === "RateLimited") assert.deepStrictEqual(error.retryAfter, Duration.seconds(60))
          const send = yield* Effect.flip(api.sendDm(dm(people.anna)))
          assert.strictEqual(send._tag, "RateLimited")
        }))

      it.scoped("refusals of one person -> RecipientRefused with the platform's reason", () =>
        Effect.gen(function*() {
          const { api, sandbox } = yield* studio({
            refusedRecipients: [people.sam],
            unreachableRecipients: [people.noah]
          })
          const reasonOf = (effect: Effect.Effect<unknown, UploadPostError.SendError>) =>
            Effect.map(Effect.flip(effect), (error) => error._tag === "RecipientRefused" ? error.reason : error._tag)
          assert.strictEqual(
            yield* reasonOf(api.sendDm(dm(people.sam))),
            "(#10) This message is sent outside of allowed window."
          )
          assert.strictEqual(
            yield* reasonOf(api.sendDm(dm(people.noah))),
            "(#551) This person isn't available right now."
          )
          const first = yield* api.privateReply({ user: profile, commentId: "17858893269001101", message: "Guide" })
          assert.strictEqual(
            yield* reasonOf(api.privateReply({ user: profile, commentId: "17858893269001101", message: "Guide" })),
            "(#10900) Activity already replied to"
          )
          assert.strictEqual(
            yield* reasonOf(api.privateReply({ user: profile, commentId: "17858893269001110", message: "Guide" })),
            "(#10903) This comment is too old for a private reply"
          )
          assert.deepStrictEqual((yield* sandbox.deliveries).map((d) => d.messageId), [first.messageId])
        }))

      it.scoped("missing fields, an unknown account or post -> InvalidRequest", () =>
        Effect.gen(function*() {
          const { api, sandbox } = yield* studio()
          const detailOf = (effect: Effect.Effect<unknown, UploadPostError.UploadPostError>) =>
            Effect.map(Effect.flip(effect), (error) => error._tag === "InvalidRequest" ? error.detail : error._tag)
          assert.strictEqual(
            yield* detailOf(api.sendDm(dm(people.anna, ""))),
            "Missing required fields: platform, user, recipient_id, message"
          )
          assert.strictEqual(
            yield* detailOf(api.sendDm({ ...dm(people.anna), user: "someone-else" })),
            "Invalid account"
          )
          assert.strictEqual(
            yield* detailOf(Stream.runDrain(api.comments({ ...comments, post: { postId: "17900000000009999" } }))),
            "Post not found"
          )
          assert.strictEqual(
            yield* detailOf(
              Stream.runDrain(api.comments({ ...comments, user: "someone-else", post: { postId: crowd.id } }))
            ),
            "Invalid account"
          )
          assert.deepStrictEqual(yield* sandbox.deliveries, [])
        }))

      it.scoped("a bad key -> Unauthorized, and no error text carries the key", () =>
        Effect.gen(function*() {
          const sandbox = yield* Sandbox.make({ data, now })
          const key = "sk-live-NOT-THE-RIGHT-ONE-1234"
          const api = yield* clientFor(sandbox.baseUrl, key)
          for (const effect of [api.me, api.sendDm(dm(people.anna))] as const) {
            const error = yield* Effect.flip<unknown, UploadPostError.UploadPostError, never>(effect)
            assert.strictEqual(error._tag, "Unauthorized")
            if (error._tag === "Unauthorized") assert.strictEqual(error.status, 401)
            assert.include(error.message, "Check the API key given in code (apiKey)")
            assert.notInclude(error.message, "UPLOAD_POST_API_KEY")
            for (const text of [error.message, String(error), JSON.stringify(error)]) {
              assert.notInclude(text, key)
              assert.notInclude(text, "NOT-THE-RIGHT-ONE")
            }
          }
          assert.notInclude(String(api.settings.apiKey), key)
        }))

      it.scoped("a 500 -> Transient, and nothing is delivered", () =>
        Effect.gen(function*() {
          const { api, sandbox } = yield* studio({ sendErrorRate: 1, readErrorRate: 1 })
          for (const effect of [api.sendDm(dm(people.anna)), api.me] as const) {
            const error = yield* Effect.flip<unknown, UploadPostError.UploadPostError, never>(effect)
            assert.strictEqual(error._tag, "Transient")
            if (error._tag === "Transient") assert.strictEqual(error.status, 500)
          }
          assert.deepStrictEqual(yield* sandbox.deliveries, [])
        }))

      it.scoped("a connection reset after the delivery -> SendInDoubt, and the DM did go out", () =>
        Effect.gen(function*() {
          const { api, sandbox } = yield* studio({ resetAfterDeliveryRate: 1 })
          const error = yield* Effect.flip(api.sendDm(dm(people.anna, "Reset after this")))
          assert.strictEqual(error._tag, "SendInDoubt")
          const deliveries = yield* sandbox.deliveries
          assert.deepStrictEqual(deliveries.map((d) => [d.recipientId, d.message]), [[people.anna, "Reset after this"]])
        }))

      it.scoped("connection refused -> Transient, for reads and for sends", () =>
        Effect.gen(function*() {
          const port = yield* Effect.promise(closedPort)
          const api = yield* clientFor(`http://127.0.0.1:${port}/api`, "any-key")
          const read = yield* Effect.flip(api.me)
          const send = yield* Effect.flip(api.sendDm(dm(people.anna)))
          assert.strictEqual(read._tag, "Transient")
          assert.strictEqual(send._tag, "Transient", "a refused connection proves the DM never left")
          assert.include(send.message, "ECONNREFUSED")
        }))

      it.scoped("maps every row of the table, for reads and for sends", () =>
        Effect.gen(function*() {
          let current: RawAnswer = json(200, {})
          const { api } = yield* rawStudio(() => current)
          yield* mapsEveryRow(api, (answer) => {
            current = answer
          })
        }))

      it.scoped("a body that does not fit stops a read with the problem and an excerpt", () =>
        Effect.gen(function*() {
          const { api } = yield* rawStudio(() =>
            json(200, { success: true, data: [{ id: "1", text: "guide" }], pagination: { has_next: false } })
          )
          const error = yield* Effect.flip(Stream.runDrain(api.comments({ ...comments, post: { postId: "1" } })))
          assert.strictEqual(error._tag, "MalformedResponse")
          if (error._tag === "MalformedResponse") {
            assert.include(error.problem, "comments")
            assert.isTrue(error.excerpt.startsWith(`{"success":true,"data":[{"id":"1"`), error.excerpt)
            assert.include(error.message, error.problem)
            assert.include(error.message, JSON.stringify(error.excerpt))
          }
        }))

      it.scoped("the wait of a request-rate 429 comes from X-RateLimit-Reset, or a Retry-After date", () =>
        Effect.gen(function*() {
          let current: RawAnswer = json(200, {})
          const { api } = yield* rawStudio(() => current)
          // The TestClock starts at the epoch: reset 90 is 90 seconds away.
          current = json(429, { message: "Too many requests" }, { "x-ratelimit-reset": "90" })
          const fromReset = yield* Effect.flip(api.me)
          current = json(429, { message: "Too many requests" }, { "retry-after": new Date(120_000).toUTCString() })
          const fromDate = yield* Effect.flip(api.sendDm(dm(people.anna)))
          assert.deepStrictEqual(
            [fromReset, fromDate].map((error) =>
              error._tag === "RateLimited" ? Duration.toSeconds(error.retryAfter) : -1
            ),
            [90, 120]
          )
        }))
    })

    describe("the retry policy over HTTP", () => {
      scopedLive(
        "a comment read recovers from injected 500s and still yields every comment once",
        () =>
          Effect.gen(function*() {
            const { api, sandbox } = yield* studio({ readErrorRate: 0.4 }, { retry: quickPolicy })
            const read = yield* Stream.runCollect(api.comments({ ...comments, post: { postId: crowd.id }, limit: 3 }))
            assert.deepStrictEqual(Chunk.toArray(read).map((comment) => comment.id), crowdIds)
            const stats = yield* sandbox.stats
            assert.isAbove(stats.responses["500"] ?? 0, 0, "faults were injected")
            assert.strictEqual(stats.responses["200"], 8, "one good answer per page")
          })
      )

      scopedLive(
        "a send recovers from injected 500s through Retry.retrying, delivering once",
        () =>
          Effect.gen(function*() {
            const { api, sandbox } = yield* studio({ sendErrorRate: 0.5 })
            for (const person of [people.anna, people.marco, people.kenji, people.priya]) {
              yield* Retry.retrying(api.sendDm(dm(person)), quickPolicy)
            }
            const stats = yield* sandbox.stats
            assert.isAbove(stats.responses["500"] ?? 0, 0, "faults were injected")
            assert.deepStrictEqual(
              (yield* sandbox.deliveries).map((d) => d.recipientId),
              [people.anna, people.marco, people.kenji, people.priya]
            )
          })
      )

      scopedLive("no answer within the timeout: a read is Transient, a send is in doubt", () =>
        Effect.gen(function*() {
          const { api } = yield* studio({ latency: { minMs: slowAnswer, maxMs: slowAnswer } }, {
            requestTimeout: Duration.millis(100)
          })
          const [readTook, read] = yield* took(Effect.flip(api.me))
          const [sendTook, send] = yield* took(Effect.flip(api.sendDm(dm(people.anna, "Slow"))))
          assert.isBelow(readTook, slowAnswer, "the read did not wait for the answer")
          assert.isBelow(sendTook, slowAnswer, "the send did not wait for the answer")
          assert.deepStrictEqual([read._tag, send._tag], ["Transient", "SendInDoubt"])
          assert.include(read.message, "no answer before the timeout")
          assert.include(send.message, "no answer before the timeout after the request was sent")
        }))

      scopedLive("gives up on a read after maxAttempts 500s", () =>
        Effect.gen(function*() {
          const { api, sandbox } = yield* studio({ readErrorRate: 1 }, { retry: { ...quickPolicy, maxAttempts: 3 } })
          const error = yield* Effect.flip(Stream.runDrain(api.comments({ ...comments, post: { postId: crowd.id } })))
          assert.strictEqual(error._tag, "Transient")
          assert.strictEqual(yield* requestCount(sandbox, "GET /uploadposts/comments"), 3)
        }))

      scopedLive("never retries the daily limit, a refusal or a send in doubt", () =>
        Effect.gen(function*() {
          const cases: ReadonlyArray<readonly [Faults.FaultsPatch, string]> = [
            [{ dailyDmLimit: 0 }, "DailyLimitReached"],
            [{ refusedRecipients: [people.anna] }, "RecipientRefused"],
            [{ resetAfterDeliveryRate: 1 }, "SendInDoubt"]
          ]
          for (const [faults, tag] of cases) {
            const { api, sandbox } = yield* studio(faults)
            const error = yield* Effect.flip(Retry.retrying(api.sendDm(dm(people.anna)), quickPolicy))
            assert.strictEqual(error._tag, tag)
            assert.strictEqual(yield* requestCount(sandbox, "POST /uploadposts/dms/send"), 1, tag)
          }
        }))

      it.scoped("a request-rate 429 waits for Retry-After on the clock, then goes on", () =>
        Effect.gen(function*() {
          const { api, sandbox } = yield* studio({ requestLimit: { requests: 1, windowSeconds: 60 } }, {
            requestTimeout: Duration.minutes(10)
          })
          yield* api.me
          const fiber = yield* Effect.fork(Retry.retrying(api.me, quickPolicy))
          yield* sleepingUntil(Duration.seconds(60))
          assert.strictEqual(yield* requestCount(sandbox, "GET /uploadposts/me"), 2)
          yield* TestClock.adjust(Duration.seconds(59))
          assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "still waiting a second before the reset")
          assert.strictEqual(yield* requestCount(sandbox, "GET /uploadposts/me"), 2)
          yield* TestClock.adjust(Duration.seconds(1))
          const account = yield* Fiber.join(fiber)
          assert.strictEqual(account.plan, "sandbox")
          assert.strictEqual(yield* requestCount(sandbox, "GET /uploadposts/me"), 3)
        }))
    })

    /**
     * Waits (in real time) until some fiber sleeps on the TestClock until `delay` from the clock's start: the retry is
     * then waiting, and adjusting the clock will wake it.
     */
    const sleepingUntil = (delay: Duration.Duration) =>
      Effect.gen(function*() {
        const wake = Duration.toMillis(delay)
        for (let tries = 0; tries < 500; tries++) {
          if (Chunk.some(yield* TestClock.sleeps(), (instant) => instant === wake)) return
          yield* TestServices.provideLive(Effect.sleep(Duration.millis(5)))
        }
        return yield* Effect.die(new Error(`nothing sleeps until ${Duration.format(delay)} on the TestClock`))
      })
  })
}

/** The real client over a test `HttpClient` answering with `handler`: no server, and the TestClock applies. */
const testClient = (handler: Parameters<typeof TestHttpClient.make>[0], settings: Partial<UploadPost.Settings> = {}) =>
  clientOver(TestHttpClient.layer(handler), "http://127.0.0.1:9/api", "sk-test-KEY-1234", settings)

/** A failure with no answer, as a client reports it: the system error code in its cause. */
const connectionFailure = (request: HttpClientRequest.HttpClientRequest, code: string) =>
  new HttpClientError.RequestError({
    request,
    reason: "Transport",
    cause: Object.assign(new Error(`socket: ${code}`), { code })
  })

describe("on a test HttpClient, no server", () => {
  it.scoped("sends the key in the Authorization header, a JSON body, and the query", () =>
    Effect.gen(function*() {
      const seen: Array<HttpClientRequest.HttpClientRequest> = []
      const api = yield* testClient((request) => {
        seen.push(request)
        return TestHttpClient.path(request) === "/uploadposts/dms/send"
          ? json(200, { success: true, message_id: "m_1" })
          : json(200, { success: true, comments: [], pagination: { has_next: false } })
      })
      yield* api.sendDm(dm(people.anna, "Hi \u0000 \"there\""))
      yield* api.commentPage(
        { ...comments, post: { postUrl: "https://instagram.com/p/x?a=1&b=2" }, limit: 7 },
        Option.some("cursor/with+plus")
      )
      const [send, read] = seen
      assert.strictEqual(send?.method, "POST")
      assert.strictEqual(send?.headers["authorization"], "Apikey sk-test-KEY-1234")
      assert.strictEqual(send?.headers["content-type"], "application/json")
      assert.deepStrictEqual(JSON.parse(send === undefined ? "" : TestHttpClient.bodyText(send)), {
        platform: "instagram",
        user: profile,
        recipient_id: people.anna,
        message: "Hi \u0000 \"there\""
      })
      assert.strictEqual(read?.method, "GET")
      assert.deepStrictEqual(
        ["platform", "user", "post_url", "limit", "after"].map((name) =>
          read === undefined ? undefined : TestHttpClient.query(read, name)
        ),
        ["instagram", profile, "https://instagram.com/p/x?a=1&b=2", "7", "cursor/with+plus"]
      )
    }))

  it.scoped("maps every row of the table, for reads and for sends", () =>
    Effect.gen(function*() {
      let current: RawAnswer = json(200, {})
      const api = yield* testClient(() => current)
      yield* mapsEveryRow(api, (answer) => {
        current = answer
      })
    }))

  it.scoped("a request-rate 429 waits as Retry-After (seconds or a date) or X-RateLimit-Reset says, else a minute", () =>
    Effect.gen(function*() {
      let headers: Record<string, string> = {}
      const api = yield* testClient(() => json(429, { message: "Too many requests" }, headers))
      const waits: Array<number> = []
      // Dates and reset times are on the TestClock, wherever an earlier test left it.
      const start = yield* Clock.currentTimeMillis
      for (
        const given of [{ "retry-after": "5" }, { "retry-after": new Date(start + 120_000).toUTCString() }, {
          "x-ratelimit-reset": String(start / 1000 + 90)
        }, {}]
      ) {
        headers = given
        const error = yield* Effect.flip(api.sendDm(dm(people.anna)))
        waits.push(error._tag === "RateLimited" ? Duration.toSeconds(error.retryAfter) : -1)
      }
      assert.deepStrictEqual(waits, [5, 120, 90, 60])
    }))

  it.scoped("a 5xx is Transient with its status, for reads and sends, after one request each", () =>
    Effect.gen(function*() {
      let status = 500
      let requests = 0
      const api = yield* testClient(() => {
        requests++
        return json(status, { message: "upstream failed" })
      })
      for (const code of [500, 502, 503, 504]) {
        status = code
        for (const effect of [api.me, api.sendDm(dm(people.anna))] as const) {
          const error = yield* Effect.flip<unknown, UploadPostError.UploadPostError, never>(effect)
          assert.deepStrictEqual(
            [error._tag, error._tag === "Transient" ? error.status : undefined],
            ["Transient", code]
          )
        }
      }
      assert.strictEqual(requests, 8)
    }))

  it.scoped("malformed JSON: a read fails with the problem and an excerpt, a send is in doubt, the key never shows", () =>
    Effect.gen(function*() {
      const api = yield* testClient(() => ({ status: 200, body: `{"success": true, "echo": "sk-test-KEY-1234", "co` }))
      const read = yield* Effect.flip(Stream.runDrain(api.comments({ ...comments, post: { postId: "1" } })))
      assert.strictEqual(read._tag, "MalformedResponse")
      if (read._tag === "MalformedResponse") {
        assert.strictEqual(read.status, 200)
        assert.include(read.excerpt, `"echo": "[API key]"`)
      }
      const send = yield* Effect.flip(api.sendDm(dm(people.anna)))
      assert.strictEqual(send._tag, "SendInDoubt")
      for (const text of [read.message, send.message, JSON.stringify(read), JSON.stringify(send)]) {
        assert.notInclude(text, "sk-test-KEY-1234")
      }
    }))

  it.scoped("ids too large for a number stay exact", () =>
    Effect.gen(function*() {
      const api = yield* testClient(() => ({
        status: 200,
        body: `{"success":true,"comments":[{"id":17858893269001101234,"text":"guide",` +
          `"user":{"id":17841400000000000123,"username":"big"}}],"pagination":{"has_next":false}}`
      }))
      const read = Chunk.toArray(yield* Stream.runCollect(api.comments({ ...comments, post: { postId: "1" } })))
      assert.deepStrictEqual(read.map((comment) => [comment.id, comment.userId]), [
        ["17858893269001101234", "17841400000000000123"]
      ])
    }))

  it.scoped("no answer within the timeout: a read is Transient, a send is in doubt, on the TestClock", () =>
    Effect.gen(function*() {
      let abandoned = 0
      const api = yield* testClient(
        () => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => abandoned++))),
        { requestTimeout: Duration.seconds(30) }
      )
      const read = yield* Effect.fork(Effect.flip(api.me))
      const send = yield* Effect.fork(Effect.flip(api.sendDm(dm(people.anna))))
      yield* TestClock.adjust(Duration.millis(29_999))
      assert.isTrue(Option.isNone(yield* Fiber.poll(read)), "a read still waits a millisecond before the timeout")
      assert.isTrue(Option.isNone(yield* Fiber.poll(send)), "a send still waits a millisecond before the timeout")
      yield* TestClock.adjust(Duration.millis(1))
      const [readError, sendError] = [yield* Fiber.join(read), yield* Fiber.join(send)]
      assert.deepStrictEqual([readError._tag, sendError._tag], ["Transient", "SendInDoubt"])
      assert.include(readError.message, "no answer before the timeout")
      assert.include(sendError.message, "no answer before the timeout after the request was sent")
      assert.strictEqual(abandoned, 2, "both requests were interrupted")
    }))

  it.scoped("no connection: refused is Transient even for a send, a reset leaves a send in doubt", () =>
    Effect.gen(function*() {
      let code = "ECONNREFUSED"
      const api = yield* testClient((request) => Effect.fail(connectionFailure(request, code)))
      const refused = yield* Effect.flip(api.sendDm(dm(people.anna)))
      assert.strictEqual(refused._tag, "Transient")
      assert.include(refused.message, "ECONNREFUSED")
      code = "ECONNRESET"
      const reset = yield* Effect.flip(api.sendDm(dm(people.anna)))
      assert.strictEqual(reset._tag, "SendInDoubt")
      assert.include(reset.message, "ECONNRESET")
      assert.strictEqual((yield* Effect.flip(api.me))._tag, "Transient")
    }))
})

describe("middleware on the client", () => {
  it.scoped("a mapRequest on the test client changes every request UploadPost makes", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const handler = (request: HttpClientRequest.HttpClientRequest) => {
        seen.push(`${request.method} ${TestHttpClient.path(request)} ${request.headers["x-trace"] ?? "unmarked"}`)
        return json(500, { message: "down" })
      }
      const marked = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, HttpClient.mapRequest(HttpClientRequest.setHeader("x-trace", "t-1")))
      ).pipe(Layer.provide(TestHttpClient.layer(handler)))
      const api = yield* clientOver(marked, "http://127.0.0.1:9/api", "k")
      yield* Effect.either(api.me)
      yield* Effect.either(api.sendDm(dm(people.anna)))
      assert.deepStrictEqual(seen, ["GET /uploadposts/me t-1", "POST /uploadposts/dms/send t-1"])
    }))

  it.scoped("a mapRequest on KeepAliveHttpClient sees every request the sandbox receives", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make({ data, now, seed: 7, windows: "open" })
      const seen: Array<string> = []
      const watched = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(
          HttpClient.HttpClient,
          HttpClient.mapRequest((request) => {
            seen.push(`${request.method} ${TestHttpClient.path(request)}`)
            return request
          })
        )
      ).pipe(Layer.provide(KeepAliveHttpClient.layer()))
      const api = yield* clientOver(watched, sandbox.baseUrl, sandbox.apiKey)
      yield* Stream.runDrain(api.comments({ ...comments, post: { postId: crowd.id }, limit: 10 }))
      yield* api.sendDm(dm(people.anna))
      yield* api.privateReply({ user: profile, commentId: "17858893269001201", message: "Guide" })
      yield* api.publicReply({ platform: "instagram", user: profile, commentId: "17858893269001201", message: "DM!" })
      yield* api.conversations({ platform: "instagram", user: profile })
      yield* api.media({ platform: "instagram", user: profile })
      yield* api.me
      yield* Effect.flip(api.sendDm({ ...dm(people.anna), user: "someone-else" }))
      const counted: Record<string, number> = {}
      for (const endpoint of seen) counted[endpoint] = (counted[endpoint] ?? 0) + 1
      assert.deepStrictEqual(counted, (yield* sandbox.stats).requests)
      assert.strictEqual(seen.length, 10, "3 comment pages, 2 DMs, 2 replies, conversations, media, me")
    }))
})

describe("spans of KeepAliveHttpClient", () => {
  /**
   * A read and a send through the client, with a tracer of the program's own (one that notes the spans it makes) or
   * with the default one: the names of the spans, and whether the program's HTTP spans are turned off.
   */
  const traced = (ownTracer: boolean) =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make({ data, now, seed: 7, windows: "open" })
      const native = yield* Effect.tracer
      const spans: Array<string> = []
      const recording = Tracer.make({
        span: (name, parent, context, links, startTime, kind, options) => {
          spans.push(name)
          return native.span(name, parent, context, links, startTime, kind, options)
        },
        context: native.context
      })
      const program = Effect.gen(function*() {
        const api = yield* clientOver(KeepAliveHttpClient.layer(), sandbox.baseUrl, sandbox.apiKey)
        yield* api.me
        yield* api.sendDm(dm(people.anna))
        return (yield* FiberRef.get(HttpClient.currentTracerDisabledWhen))(HttpClientRequest.get(sandbox.baseUrl))
      })
      const off = yield* ownTracer ? Effect.withTracer(program, recording) : program
      return { spans: spans.filter((name) => name.startsWith("http.client")), off }
    })

  it.scoped("a program with a tracer of its own sees each request as a span", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* traced(true), { spans: ["http.client GET", "http.client POST"], off: false })
    }))

  it.scoped("with the default tracer, whose spans nobody sees, requests are not spans", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* traced(false), { spans: [], off: true })
    }))
})

describe("the timeout with middleware on KeepAliveHttpClient", () => {
  // The client applies the timeout itself only when it is not wrapped; wrapped, the timeout goes around it.
  it.scopedLive("no answer within the timeout: a read is Transient, a send is in doubt", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make({
        data,
        now,
        faults: { latency: { minMs: slowAnswer, maxMs: slowAnswer } },
        seed: 7,
        windows: "open"
      })
      let seen = 0
      const watched = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, HttpClient.tapRequest(() => Effect.sync(() => void seen++)))
      ).pipe(Layer.provide(KeepAliveHttpClient.layer()))
      const api = yield* clientOver(watched, sandbox.baseUrl, sandbox.apiKey, { requestTimeout: Duration.millis(100) })
      const [readTook, read] = yield* took(Effect.flip(api.me))
      const [sendTook, send] = yield* took(Effect.flip(api.sendDm(dm(people.anna))))
      assert.isBelow(readTook, slowAnswer, "the read did not wait for the answer")
      assert.isBelow(sendTook, slowAnswer, "the send did not wait for the answer")
      assert.deepStrictEqual([read._tag, send._tag, seen], ["Transient", "SendInDoubt", 2])
    }))
})

describe("over FetchHttpClient", () => {
  it.scoped("reads, sends and maps errors against the sandbox", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make({ data, now, seed: 7, windows: "open" })
      const api = yield* clientOver(FetchHttpClient.layer, sandbox.baseUrl, sandbox.apiKey)
      const read = yield* Stream.runCollect(api.comments({ ...comments, post: { postId: crowd.id }, limit: 10 }))
      assert.deepStrictEqual(Chunk.toArray(read).map((comment) => comment.id), crowdIds)
      const delivered = yield* api.sendDm(dm(people.anna, "Over fetch"))
      assert.deepStrictEqual((yield* sandbox.deliveries).map((d) => [d.messageId, d.message]), [
        [delivered.messageId, "Over fetch"]
      ])
      const invalid = yield* Effect.flip(api.sendDm({ ...dm(people.anna), user: "someone-else" }))
      assert.strictEqual(invalid._tag, "InvalidRequest")
      const port = yield* Effect.promise(closedPort)
      const refused = yield* clientOver(FetchHttpClient.layer, `http://127.0.0.1:${port}/api`, "k")
      const error = yield* Effect.flip(refused.sendDm(dm(people.anna)))
      assert.strictEqual(error._tag, "Transient", "a refused connection proves the DM never left")
    }))
})

describe("configuration", () => {
  it.effect("refuses plain http to a host other than this machine", () =>
    Effect.gen(function*() {
      const build = (baseUrl: string) =>
        Effect.exit(Effect.scoped(Layer.build(UploadPost.UploadPostConfig.layer({
          baseUrl,
          apiKey: Redacted.make("k")
        }))))
      const remote = yield* build("http://api.upload-post.com/api")
      assert.isTrue(Exit.isFailure(remote))
      const message = Exit.match(remote, { onFailure: (cause) => String(cause), onSuccess: () => "" })
      assert.include(message, "plain http to api.upload-post.com")
      assert.isTrue(Exit.isSuccess(yield* build("http://127.0.0.1:8787/api")))
      assert.isTrue(Exit.isSuccess(yield* build("https://api.upload-post.com/api")))
      assert.deepStrictEqual(
        yield* Effect.either(UploadPost.checkBaseUrl("https://api.upload-post.com/api/", "baseUrl")),
        Either.right("https://api.upload-post.com/api")
      )
      assert.isTrue(Either.isLeft(yield* Effect.either(UploadPost.checkBaseUrl("ftp://example.com", "baseUrl"))))
    }))

  /** The message of the configuration error a layer fails to build with, or "" when it builds. */
  const buildError = <E>(config: Layer.Layer<UploadPost.UploadPostConfig, E>) =>
    Effect.map(
      Effect.exit(Effect.scoped(Layer.build(config))),
      Exit.match({ onFailure: (cause) => Cause.pretty(cause), onSuccess: () => "" })
    )

  it.effect("settings given in code are named as given in errors, never by an environment variable", () =>
    Effect.gen(function*() {
      const inCode = (baseUrl: string, apiKey: string) =>
        buildError(UploadPost.UploadPostConfig.layer({ baseUrl, apiKey: Redacted.make(apiKey) }))
      for (
        const message of [
          yield* inCode("http://api.upload-post.com/api", "k"),
          yield* inCode("not a url", "k"),
          yield* inCode("https://api.upload-post.com/api", "k\u0000ey")
        ]
      ) {
        assert.notStrictEqual(message, "")
        assert.notInclude(message, "UPLOAD_POST_")
      }
      assert.include(yield* inCode("http://api.upload-post.com/api", "k"), "baseUrl: plain http to api.upload-post.com")
      assert.include(yield* inCode("not a url", "k"), "baseUrl: \"not a url\" is not a URL")
      assert.include(yield* inCode("https://api.upload-post.com/api", "k\u0000ey"), "apiKey contains a control")
    }))

  it.effect("settings from the environment are named by their variables", () =>
    Effect.gen(function*() {
      const fromEnv = (env: Record<string, string>) =>
        buildError(UploadPost.UploadPostConfig.fromEnv).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
        )
      assert.include(
        yield* fromEnv({ UPLOAD_POST_API_KEY: "k", UPLOAD_POST_BASE_URL: "http://api.upload-post.com/api" }),
        "UPLOAD_POST_BASE_URL: plain http to api.upload-post.com"
      )
      assert.include(yield* fromEnv({ UPLOAD_POST_API_KEY: "k e y" }), "UPLOAD_POST_API_KEY contains a space")
      assert.include(yield* fromEnv({}), "UPLOAD_POST_API_KEY is not set")
    }))

  it.scoped("a key from the environment that the API refuses is named by its variable", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make({ data, now })
      const env = new Map([["UPLOAD_POST_API_KEY", "sk-wrong"], ["UPLOAD_POST_BASE_URL", sandbox.baseUrl]])
      const api = yield* UploadPost.UploadPost.fromEnv.pipe(
        Layer.provide(KeepAliveHttpClient.layer()),
        Layer.build,
        Effect.map(Context.get(UploadPost.UploadPost)),
        Effect.withConfigProvider(ConfigProvider.fromMap(env))
      )
      const error = yield* Effect.flip(api.me)
      assert.strictEqual(error._tag, "Unauthorized")
      assert.include(error.message, "Check UPLOAD_POST_API_KEY;")
    }))
})
