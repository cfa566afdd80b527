/**
 * The Upload-Post client over real HTTP: against the sandbox for the answers the real service gives, and against a
 * bare node:http server for the ones it must survive (bodies that are not JSON, truncated or of the wrong shape).
 */
import type { DataSet, Faults } from "@comment-dm/sandbox"
import { Sandbox } from "@comment-dm/sandbox"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import {
  Chunk,
  Context,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  Layer,
  Option,
  Redacted,
  type Scope,
  Stream,
  TestClock,
  TestServices
} from "effect"
import * as HttpTransport from "../src/HttpTransport.js"
import * as Retry from "../src/Retry.js"
import * as UploadPost from "../src/UploadPost.js"
import type * as UploadPostError from "../src/UploadPostError.js"
import { crowdPost, guideData, guidePost, linkPost, people, profile } from "./support/e2e-data.js"
import { closedPort, type RawAnswer, type RawHandler, startRawServer } from "./support/e2e-rawServer.js"

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

/** The transport the client under test goes through: every test below runs on each of them. */
class TransportUnderTest extends Context.Tag("test/TransportUnderTest")<
  TransportUnderTest,
  Layer.Layer<HttpTransport.HttpTransport>
>() {}

const transports = [
  {
    name: "over an HttpClient (UploadPost.Default, NodeHttpClient)",
    layer: HttpTransport.fromHttpClient.pipe(Layer.provide(NodeHttpClient.layer))
  },
  { name: "straight over node:http (UploadPost.node)", layer: HttpTransport.layerNode() }
] as const

/** `it.scopedLive` with the transport under test (the `it` of a layer has no live variant). */
const scopedLiveWith =
  (transport: Layer.Layer<HttpTransport.HttpTransport>) =>
  <E>(name: string, self: () => Effect.Effect<void, E, TransportUnderTest | Scope.Scope>) =>
    it.scopedLive(name, () => Effect.provideService(self(), TransportUnderTest, transport))

/** The real client over the transport under test, for the life of the scope. */
const clientFor = (baseUrl: string, apiKey: string, settings: Partial<UploadPost.Settings> = {}) =>
  Effect.flatMap(TransportUnderTest, (transport) =>
    UploadPost.UploadPost.DefaultWithoutDependencies.pipe(
      Layer.provide(UploadPost.UploadPostConfig.layer({ baseUrl, apiKey: Redacted.make(apiKey), ...settings })),
      Layer.provide(transport),
      Layer.build,
      Effect.map(Context.get(UploadPost.UploadPost))
    ))

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

const json = (status: number, body: unknown, headers: Record<string, string> = {}): RawAnswer => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

for (const transport of transports) {
  layer(Layer.succeed(TransportUnderTest, transport.layer))(transport.name, (it) => {
    const scopedLive = scopedLiveWith(transport.layer)
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

      /** Every row of the table, by status and body, for a read (`me`) and a send (`sendDm`). */
      const rows: ReadonlyArray<{
        readonly name: string
        readonly answer: RawAnswer
        readonly read: UploadPostError.UploadPostError["_tag"]
        readonly send: UploadPostError.UploadPostError["_tag"]
      }> = [
        {
          name: "429 daily limit",
          answer: json(429, { success: false, error: "Daily DM limit exceeded." }),
          read: "DailyLimitReached",
          send: "DailyLimitReached"
        },
        {
          name: "429 request rate",
          answer: json(429, { message: "Too many requests" }, { "retry-after": "5" }),
          read: "RateLimited",
          send: "RateLimited"
        },
        {
          name: "400 messaging window",
          answer: json(400, { success: false, error: "(#10) This message is sent outside of allowed window." }),
          read: "InvalidRequest",
          send: "RecipientRefused"
        },
        {
          name: "401",
          answer: json(401, { success: false, message: "Invalid API key" }),
          read: "Unauthorized",
          send: "Unauthorized"
        },
        {
          name: "403",
          answer: json(403, { detail: "Forbidden" }),
          read: "Unauthorized",
          send: "Unauthorized"
        },
        { name: "408", answer: json(408, { error: "Request timeout" }), read: "Transient", send: "Transient" },
        {
          name: "502 not JSON",
          answer: { status: 502, body: "<html>Bad gateway</html>" },
          read: "Transient",
          send: "Transient"
        },
        {
          name: "400 missing fields",
          answer: json(400, { success: false, error_code: "MISSING_FIELDS" }),
          read: "InvalidRequest",
          send: "InvalidRequest"
        },
        {
          name: "422 worded unlike any known refusal",
          answer: json(422, { success: false, error: "Blocked by a policy nobody has documented" }),
          read: "InvalidRequest",
          send: "UnrecognisedRefusal"
        },
        {
          name: "300",
          answer: json(300, { message: "Multiple choices" }),
          read: "MalformedResponse",
          send: "SendInDoubt"
        },
        {
          name: "200 refusing in its body",
          answer: json(200, { success: false, error: "Something went wrong" }),
          read: "MalformedResponse",
          send: "SendInDoubt"
        },
        {
          name: "200 not JSON",
          answer: { status: 200, body: "<html>maintenance</html>" },
          read: "MalformedResponse",
          send: "SendInDoubt"
        },
        {
          name: "200 truncated JSON",
          answer: { status: 200, body: `{"success": true, "message_id": "m_1", "email": "a@b.c", "pl` },
          read: "MalformedResponse",
          send: "SendInDoubt"
        },
        {
          name: "200 ill-typed",
          answer: json(200, { success: true, message_id: 17.5, email: 42 }),
          read: "MalformedResponse",
          send: "SendInDoubt"
        }
      ]

      it.scoped("maps every row of the table, for reads and for sends", () =>
        Effect.gen(function*() {
          let current: RawAnswer = json(200, {})
          const { api } = yield* rawStudio(() => current)
          for (const row of rows) {
            current = row.answer
            const read = yield* Effect.flip(api.me)
            const send = yield* Effect.flip(api.sendDm(dm(people.anna)))
            assert.deepStrictEqual([read._tag, send._tag], [row.read, row.send], row.name)
          }
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
        yield* Effect.either(UploadPost.checkBaseUrl("https://api.upload-post.com/api/")),
        Either.right("https://api.upload-post.com/api")
      )
      assert.isTrue(Either.isLeft(yield* Effect.either(UploadPost.checkBaseUrl("ftp://example.com"))))
    }))
})
