import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { dm, privateReply, withStudio } from "./fixtures.js"
import { decode, get, post } from "./support.js"

const Sent = Schema.Struct({
  success: Schema.Literal(true),
  recipient_id: Schema.String,
  message_id: Schema.String
})

describe("POST /uploadposts/dms/send", () => {
  it.scoped("sends a DM and records the delivery", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        const answer = yield* post(sandbox, "/uploadposts/dms/send", dm("u1", "Hi @anna"))
        assert.strictEqual(answer.status, 200)
        const sent = decode(Sent)(answer)
        assert.deepStrictEqual(answer.body, {
          success: true,
          recipient_id: "u1",
          message_id: sent.message_id,
          message: "DM sent successfully"
        })
        const deliveries = yield* sandbox.deliveries
        assert.deepStrictEqual(deliveries, [{
          kind: "dm",
          recipientId: "u1",
          message: "Hi @anna",
          messageId: sent.message_id,
          at: "2026-03-28T12:00:00.000Z",
          receivedAt: "2026-03-28T12:00:00.000Z"
        }])
      }), "open"))

  it.scoped("answers missing fields and a wrong account with the documented texts", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        for (const body of [{}, { platform: "instagram", user: "studio", recipient_id: "u1" }, "not json"]) {
          const answer = yield* post(sandbox, "/uploadposts/dms/send", body)
          assert.strictEqual(answer.status, 400)
          assert.deepStrictEqual(answer.body, {
            success: false,
            error: "Missing required fields: platform, user, recipient_id, message"
          })
        }
        const wrongAccount = yield* post(sandbox, "/uploadposts/dms/send", { ...dm("u1"), user: "other" })
        assert.strictEqual(wrongAccount.status, 400)
        assert.deepStrictEqual(wrongAccount.body, { success: false, error: "Invalid account" })
        assert.deepStrictEqual(yield* sandbox.deliveries, [])
      })))

  it.scoped("refuses recipients outside the messaging window and unreachable ones", () =>
    withStudio({ refusedRecipients: ["u2"], unreachableRecipients: ["u4"] }, (sandbox) =>
      Effect.gen(function*() {
        const refused = yield* post(sandbox, "/uploadposts/dms/send", dm("u2"))
        assert.strictEqual(refused.status, 400)
        assert.deepStrictEqual(refused.body, {
          success: false,
          error: "(#10) This message is sent outside of allowed window."
        })
        const unreachable = yield* post(sandbox, "/uploadposts/dms/send", dm("u4"))
        assert.strictEqual(unreachable.status, 400)
        assert.deepStrictEqual(unreachable.body, {
          success: false,
          error: "(#551) This person isn't available right now."
        })
        assert.deepStrictEqual(yield* sandbox.deliveries, [])
        // The messaging window governs DMs only: a private reply still reaches the person.
        const reply = yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c2"))
        assert.strictEqual(reply.status, 200)
      }), "open"))

  it.scoped("answers injected internal errors with a 500 and delivers nothing", () =>
    withStudio({ sendErrorRate: 1 }, (sandbox) =>
      Effect.gen(function*() {
        for (
          const [path, body] of [["/uploadposts/dms/send", dm("u1")], [
            "/uploadposts/comments/reply",
            privateReply("c1")
          ]] as const
        ) {
          const answer = yield* post(sandbox, path, body)
          assert.strictEqual(answer.status, 500)
          assert.deepStrictEqual(answer.body, { success: false, error: "An internal server error occurred." })
        }
        assert.deepStrictEqual(yield* sandbox.deliveries, [])
        const stats = yield* sandbox.stats
        assert.strictEqual(stats.dailyCount, 0)
      })))

  it.scoped("records the delivery and then destroys the connection when a reset is injected", () =>
    withStudio({ resetAfterDeliveryRate: 1 }, (sandbox) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(post(sandbox, "/uploadposts/dms/send", dm("u1", "reset me")))
        assert.strictEqual(error._tag, "RequestError")
        const deliveries = yield* sandbox.deliveries
        assert.deepStrictEqual(deliveries.map((d) => [d.kind, d.recipientId, d.message]), [["dm", "u1", "reset me"]])
        const stats = yield* sandbox.stats
        assert.strictEqual(stats.responses["reset"], 1)
        yield* sandbox.setFaults({ resetAfterDeliveryRate: 0 })
        const after = yield* post(sandbox, "/uploadposts/dms/send", dm("u2"))
        assert.strictEqual(after.status, 200)
      }), "open"))
})

describe("POST /uploadposts/comments/reply", () => {
  it.scoped("sends one private reply per comment", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        const first = yield* post(sandbox, "/uploadposts/comments/reply", {
          ...privateReply("c1"),
          buttons: [{ title: "Get it", url: "https://example.com/g" }]
        })
        assert.strictEqual(first.status, 200)
        const sent = decode(Sent)(first)
        assert.strictEqual(sent.recipient_id, "u1")
        const again = yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c1"))
        assert.strictEqual(again.status, 400)
        assert.deepStrictEqual(again.body, { success: false, error: "(#10900) Activity already replied to" })
        const deliveries = yield* sandbox.deliveries
        assert.deepStrictEqual(deliveries.map((d) => [d.kind, d.recipientId, d.commentId, d.messageId]), [
          ["private_reply", "u1", "c1", sent.message_id]
        ])
      })))

  it.scoped("refuses comments older than 7 days and authors who cannot be reached", () =>
    withStudio({ unreachableRecipients: ["u4"] }, (sandbox) =>
      Effect.gen(function*() {
        const old = yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c-old"))
        assert.strictEqual(old.status, 400)
        assert.deepStrictEqual(old.body, {
          success: false,
          error: "(#10903) This comment is too old for a private reply"
        })
        for (const comment of ["c4", "c-gone"]) {
          const answer = yield* post(sandbox, "/uploadposts/comments/reply", privateReply(comment))
          assert.strictEqual(answer.status, 400)
          assert.deepStrictEqual(answer.body, {
            success: false,
            error: "(#551) This person isn't available right now."
          })
        }
        assert.deepStrictEqual(yield* sandbox.deliveries, [])
      })))

  it.scoped("answers other platforms, unknown comments and too many buttons with a 400", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        const facebook = yield* post(sandbox, "/uploadposts/comments/reply", {
          ...privateReply("c1"),
          platform: "facebook"
        })
        assert.deepStrictEqual([facebook.status, facebook.body], [400, {
          success: false,
          error: "Private replies are only supported on Instagram"
        }])
        const unknown = yield* post(sandbox, "/uploadposts/comments/reply", privateReply("nope"))
        assert.deepStrictEqual([unknown.status, unknown.body], [400, { success: false, error: "Comment not found" }])
        const button = { title: "Go", url: "https://example.com" }
        const tooMany = yield* post(sandbox, "/uploadposts/comments/reply", {
          ...privateReply("c1"),
          buttons: [button, button, button, button]
        })
        assert.strictEqual(tooMany.status, 400)
        const missing = yield* post(sandbox, "/uploadposts/comments/reply", { platform: "instagram", user: "studio" })
        assert.deepStrictEqual(missing.body, {
          success: false,
          error: "Missing required fields: platform, user, comment_id, message"
        })
      })))
})

describe("POST /uploadposts/comments/public-reply", () => {
  it.scoped("posts a public reply and records it", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        const answer = yield* post(sandbox, "/uploadposts/comments/public-reply", privateReply("c2", "Check your DMs"))
        assert.strictEqual(answer.status, 200)
        const { id } = decode(Schema.Struct({ success: Schema.Literal(true), id: Schema.String }))(answer)
        const deliveries = yield* sandbox.deliveries
        assert.deepStrictEqual(deliveries.map((d) => [d.kind, d.recipientId, d.commentId, d.messageId, d.message]), [
          ["public_reply", "u2", "c2", id, "Check your DMs"]
        ])
      })))
})

describe("daily DM limit", () => {
  it.scoped("counts DMs, private and public replies, refuses past the limit and starts over on reset", () =>
    withStudio({ dailyDmLimit: 2 }, (sandbox) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* post(sandbox, "/uploadposts/dms/send", dm("u1"))).status, 200)
        assert.strictEqual((yield* post(sandbox, "/uploadposts/comments/public-reply", privateReply("c1"))).status, 200)
        for (
          const [path, body] of [
            ["/uploadposts/dms/send", dm("u2")],
            ["/uploadposts/comments/reply", privateReply("c2")],
            ["/uploadposts/comments/public-reply", privateReply("c2")]
          ] as const
        ) {
          const answer = yield* post(sandbox, path, body)
          assert.strictEqual(answer.status, 429, path)
          assert.deepStrictEqual(answer.body, { success: false, error: "Daily DM limit exceeded." })
        }
        assert.strictEqual((yield* sandbox.deliveries).length, 2)
        assert.strictEqual((yield* sandbox.stats).dailyCount, 2)
        yield* sandbox.resetDaily
        assert.strictEqual((yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c2"))).status, 200)
        assert.strictEqual((yield* sandbox.deliveries).length, 3)
      }), "open"))
})

describe("GET /uploadposts/dms/conversations", () => {
  const Conversations = Schema.Struct({
    success: Schema.Literal(true),
    conversations: Schema.Array(Schema.Struct({
      id: Schema.String,
      participants: Schema.Struct({
        data: Schema.Array(Schema.Struct({ id: Schema.String, username: Schema.String }))
      }),
      messages: Schema.Struct({
        data: Schema.Array(Schema.Struct({
          id: Schema.String,
          created_time: Schema.String,
          from: Schema.Struct({ id: Schema.String, username: Schema.String }),
          to: Schema.Struct({ data: Schema.Array(Schema.Struct({ id: Schema.String, username: Schema.String })) }),
          message: Schema.String
        }))
      })
    }))
  })
  const list = { platform: "instagram", user: "studio" }

  it.scoped("lists one conversation per person messaged, DMs and private replies, newest first", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        yield* post(sandbox, "/uploadposts/dms/send", dm("u1", "first"))
        yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c3", "to olga"))
        yield* post(sandbox, "/uploadposts/dms/send", dm("u1", "second"))
        yield* post(sandbox, "/uploadposts/comments/public-reply", privateReply("c2", "public, not a DM"))
        const { conversations } = decode(Conversations)(yield* get(sandbox, "/uploadposts/dms/conversations", list))
        // The people messaged first, most recent activity first; then the other commenters, who only wrote.
        assert.deepStrictEqual(conversations.slice(0, 2).map((c) => c.id), ["t_u1", "t_u3"])
        assert.deepStrictEqual(conversations.slice(2).map((c) => c.id).sort(), ["t_u2", "t_u4", "t_u5"])
        const [anna, olga, ...silent] = conversations
        const asked = "Hi! Could you send me the guide?"
        assert.deepStrictEqual(anna?.messages.data.map((m) => m.message), ["second", "first", asked])
        assert.deepStrictEqual(anna?.messages.data[2]?.from, { id: "u1", username: "anna" })
        assert.strictEqual(anna?.messages.data[2]?.created_time, "2026-03-28T11:00:00+0000")
        for (const conversation of silent) {
          assert.deepStrictEqual(conversation.messages.data.map((m) => [m.message, m.from.id]), [
            [asked, conversation.participants.data[0]?.id]
          ])
        }
        assert.deepStrictEqual(anna?.participants.data[0], { id: "u1", username: "anna" })
        assert.deepStrictEqual(olga?.messages.data[0]?.to.data, [{ id: "u3", username: "olga" }])
        assert.strictEqual(olga?.messages.data[0]?.from.username, "studio")
        assert.strictEqual(anna?.messages.data[0]?.created_time, "2026-03-28T12:00:00+0000")
        const deliveries = yield* sandbox.deliveries
        assert.strictEqual(anna?.messages.data[0]?.id, deliveries[2]?.messageId)
      }), "open"))

  it.scoped("keeps only the most recent 25 messages of a conversation", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        for (let i = 1; i <= 30; i++) {
          yield* post(sandbox, "/uploadposts/dms/send", dm("u1", `message ${i}`))
        }
        const { conversations } = decode(Conversations)(yield* get(sandbox, "/uploadposts/dms/conversations", list))
        const messages = conversations[0]?.messages.data.map((m) => m.message) ?? []
        assert.strictEqual(messages.length, 25)
        assert.strictEqual(messages[0], "message 30")
        assert.strictEqual(messages[24], "message 6")
      }), "open"))

  it.scoped("answers missing parameters with a 400 and a failing endpoint with a 500", () =>
    withStudio({ conversationsFailing: true }, (sandbox) =>
      Effect.gen(function*() {
        const missing = yield* get(sandbox, "/uploadposts/dms/conversations", { platform: "instagram" })
        assert.deepStrictEqual([missing.status, missing.body], [400, {
          success: false,
          error: "Missing required query parameters: platform, user"
        }])
        const failing = yield* get(sandbox, "/uploadposts/dms/conversations", list)
        assert.deepStrictEqual([failing.status, failing.body], [500, {
          success: false,
          error: "An internal server error occurred."
        }])
      })))

  it.scoped("answers reads with injected 500s at the configured rate", () =>
    withStudio({ readErrorRate: 1 }, (sandbox) =>
      Effect.gen(function*() {
        const answer = yield* get(sandbox, "/uploadposts/comments", { ...list, post_id: "p1" })
        assert.deepStrictEqual([answer.status, answer.body], [500, {
          success: false,
          error: "An internal server error occurred."
        }])
      })))
})
