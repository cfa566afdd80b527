/**
 * The platform's rules as the sandbox models them by default: a DM only within 24 hours of the person's last message
 * to the account, a private reply once per comment and within 7 days of it (and never opening the window), people
 * writing to the account, conversations holding both sides, and the account's own identity and comments.
 */
import type { HttpClient } from "@effect/platform"
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, TestClock } from "effect"
import type { Scope } from "effect"
import { Control, DataSet, Sandbox } from "../src/index.js"
import { dm, now, privateReply, studio } from "./fixtures.js"
import { decode, get, post, readAll } from "./support.js"

const hour = 60 * 60 * 1000
const ago = (millis: number) => new Date(now.getTime() - millis).toISOString()
const outsideWindow = { success: false, error: "(#10) This message is sent outside of allowed window." }

/** The studio's posts; Anna wrote to the account 2 hours before the start, Marco 25 hours before, nobody else. */
const written: DataSet.Listed = {
  ...studio,
  messages: [
    { from: "u2", text: "is the guide out?", timestamp: ago(25 * hour) },
    { from: "u1", text: "hey, guide please", timestamp: ago(2 * hour) }
  ]
}

const withSandbox = <A, E>(
  options: Sandbox.SandboxOptions,
  f: (sandbox: Sandbox.SandboxHandle) => Effect.Effect<A, E, HttpClient.HttpClient | Scope.Scope>
): Effect.Effect<A, E, Scope.Scope> =>
  Sandbox.make({ now, ...options }).pipe(Effect.flatMap(f), Effect.provide(FetchHttpClient.layer))

const Person = Schema.Struct({ id: Schema.String, username: Schema.String })
const Conversations = Schema.Struct({
  success: Schema.Literal(true),
  conversations: Schema.Array(Schema.Struct({
    id: Schema.String,
    participants: Schema.Struct({ data: Schema.Array(Person) }),
    messages: Schema.Struct({
      data: Schema.Array(Schema.Struct({
        id: Schema.String,
        created_time: Schema.String,
        from: Person,
        to: Schema.Struct({ data: Schema.Array(Person) }),
        message: Schema.String
      }))
    })
  }))
})

const conversationsOf = (sandbox: Sandbox.SandboxHandle) =>
  get(sandbox, "/uploadposts/dms/conversations", { platform: "instagram", user: sandbox.profile }).pipe(
    Effect.map(decode(Conversations)),
    Effect.map((body) => body.conversations)
  )

const send = (sandbox: Sandbox.SandboxHandle, recipientId: string, message = "Here is your guide") =>
  post(sandbox, "/uploadposts/dms/send", { ...dm(recipientId, message), user: sandbox.profile })

describe("the 24-hour messaging window (faithful by default)", () => {
  it.scoped("a DM reaches only someone who wrote to the account in the last 24 hours; others get Meta's window error", () =>
    withSandbox({ data: written }, (sandbox) =>
      Effect.gen(function*() {
        const anna = yield* send(sandbox, "u1")
        assert.strictEqual(anna.status, 200)
        for (const recipient of ["u2", "u3", "not-a-commenter"]) {
          const refused = yield* send(sandbox, recipient)
          assert.deepStrictEqual([refused.status, refused.body], [400, outsideWindow], recipient)
        }
        // Anna wrote 2 hours before the start: her window is open for 21 h 59 min more, then closed.
        yield* TestClock.adjust("21 hours")
        yield* TestClock.adjust("59 minutes")
        assert.strictEqual((yield* send(sandbox, "u1")).status, 200)
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual((yield* send(sandbox, "u1")).body, outsideWindow)
        assert.deepStrictEqual((yield* sandbox.deliveries).map((d) => d.recipientId), ["u1", "u1"])
      })))

  it.scoped("a person writing to the account opens their window and shows in their conversation", () =>
    withSandbox({ data: written }, (sandbox) =>
      Effect.gen(function*() {
        assert.deepStrictEqual((yield* send(sandbox, "u3")).body, outsideWindow)
        const message = yield* sandbox.personWrites({ userId: "u3", text: "hi" })
        assert.deepStrictEqual({ ...message, id: "" }, {
          id: "",
          userId: "u3",
          username: "olga",
          text: "hi",
          timestamp: "2026-03-28T12:00:00+0000"
        })
        yield* TestClock.adjust("1 hour")
        assert.strictEqual((yield* send(sandbox, "u3", "thanks for writing")).status, 200)
        const [olga] = yield* conversationsOf(sandbox)
        assert.strictEqual(olga?.id, "t_u3")
        assert.deepStrictEqual(
          olga?.messages.data.map((m) => [m.message, m.from.id, m.to.data[0]?.id, m.created_time]),
          [
            ["thanks for writing", sandbox.account.id, "u3", "2026-03-28T13:00:00+0000"],
            ["hi", "u3", sandbox.account.id, "2026-03-28T12:00:00+0000"]
          ]
        )
        // The window runs 24 hours from the message, not from the account's answer.
        yield* TestClock.adjust("23 hours")
        assert.deepStrictEqual((yield* send(sandbox, "u3")).body, outsideWindow)
      })))

  it.scoped("the control over HTTP makes a person write, with a text of the test's choosing", () =>
    withSandbox({ data: written }, (sandbox) =>
      Effect.gen(function*() {
        const remote = yield* Control.remote({ baseUrl: sandbox.baseUrl, apiKey: sandbox.apiKey })
        const stop = yield* remote.personWrites({ userId: "u4", text: "STOP" })
        assert.strictEqual(stop.username, "kenji")
        const newcomer = yield* remote.personWrites({ userId: "u-new", text: "hello", username: "new.one" })
        assert.strictEqual(newcomer.username, "new.one")
        assert.strictEqual((yield* send(sandbox, "u4")).status, 200)
        assert.strictEqual((yield* send(sandbox, "u-new")).status, 200)
        const conversations = yield* conversationsOf(sandbox)
        const kenji = conversations.find((c) => c.id === "t_u4")
        assert.deepStrictEqual(kenji?.messages.data.map((m) => [m.message, m.from.id]), [
          ["Here is your guide", sandbox.account.id],
          ["STOP", "u4"]
        ])
        const bad = yield* Effect.flip(remote.personWrites({ userId: "", text: "x" }))
        assert.strictEqual(bad._tag, "ControlRequestFailed")
      })))

  it.scoped("conversations list messages from the person and from the account, newest conversation first", () =>
    withSandbox({ data: written }, (sandbox) =>
      Effect.gen(function*() {
        const before = yield* conversationsOf(sandbox)
        // Only the people who wrote: Anna (2 hours ago) before Marco (25 hours ago).
        assert.deepStrictEqual(before.map((c) => c.id), ["t_u1", "t_u2"])
        const [anna, marco] = before
        assert.deepStrictEqual(anna?.participants.data, [{ id: "u1", username: "anna" }, {
          id: sandbox.account.id,
          username: sandbox.account.handle
        }])
        assert.deepStrictEqual(anna?.messages.data.map((m) => [m.message, m.from.id, m.created_time]), [
          ["hey, guide please", "u1", "2026-03-28T10:00:00+0000"]
        ])
        assert.deepStrictEqual(marco?.messages.data[0]?.created_time, "2026-03-27T11:00:00+0000")

        yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c3"))).status, 200)
        yield* TestClock.adjust("1 minute")
        yield* sandbox.personWrites({ userId: "u2", text: "still there?" })
        const after = yield* conversationsOf(sandbox)
        assert.deepStrictEqual(after.map((c) => c.id), ["t_u2", "t_u3", "t_u1"])
        assert.deepStrictEqual(after[0]?.messages.data.map((m) => [m.message, m.from.id]), [
          ["still there?", "u2"],
          ["is the guide out?", "u2"]
        ])
        assert.deepStrictEqual(after[1]?.messages.data.map((m) => [m.message, m.from.id]), [
          ["Here is your guide", sandbox.account.id]
        ])
      })))
})

describe("private replies (faithful by default)", () => {
  it.scoped("once per comment, whoever sends it; within 7 days of the comment; and they do not open the window", () =>
    withSandbox({ data: written }, (sandbox) =>
      Effect.gen(function*() {
        const first = yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c3", "from campaign A"))
        assert.strictEqual(first.status, 200)
        // Another campaign (another runner, another tool on the same profile) tries the same comment.
        const second = yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c3", "from campaign B"))
        assert.deepStrictEqual([second.status, second.body], [400, {
          success: false,
          error: "(#10900) Activity already replied to"
        }])
        const old = yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c-old"))
        assert.deepStrictEqual([old.status, old.body], [400, {
          success: false,
          error: "(#10903) This comment is too old for a private reply"
        }])
        // Olga got a private reply but never wrote: a DM to her is still outside the window.
        assert.deepStrictEqual((yield* send(sandbox, "u3")).body, outsideWindow)
        // A comment becomes too old 7 days after it was written (c4: 3 days before the start).
        yield* TestClock.adjust("3 days")
        assert.strictEqual((yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c4"))).status, 200)
        assert.deepStrictEqual(
          (yield* sandbox.deliveries).map((d) => [d.kind, d.commentId, d.message]),
          [["private_reply", "c3", "from campaign A"], ["private_reply", "c4", "Here is your guide"]]
        )
      })))
})

describe("who wrote before the start", () => {
  it.scoped("generated people: about 15% wrote in the last 24 hours, by the seed; the others never or long ago", () =>
    Effect.gen(function*() {
      const data = DataSet.generate({ comments: 4000, people: 2000 })
      const recentOf = (seed: number) =>
        withSandbox({ data, seed }, (sandbox) =>
          Effect.gen(function*() {
            const conversations = yield* conversationsOf(sandbox)
            const last = conversations.map((c) => ({
              id: c.participants.data[0]?.id ?? "",
              at: Date.parse((c.messages.data[0]?.created_time ?? "").replace("+0000", "Z"))
            }))
            assert.isTrue(last.every((c) => c.at < now.getTime()), "all before the start")
            const recent = last.filter((c) => now.getTime() - c.at < 24 * hour)
            const old = last.filter((c) => now.getTime() - c.at >= 2 * 24 * hour)
            assert.strictEqual(recent.length + old.length, last.length)
            assert.approximately(recent.length / 2000, 0.15, 0.03)
            assert.approximately(old.length / 2000, 0.1, 0.03)
            // The API agrees with the conversations: the recent writers are reachable by DM, the others are not.
            const silent = ["17841500000000000", "17841500000000001", "17841500000000002", "17841500000000003"]
              .find((id) => !last.some((c) => c.id === id))
            for (const person of [recent[0]?.id, old[0]?.id, silent]) {
              assert.isDefined(person)
            }
            assert.strictEqual((yield* send(sandbox, recent[0]?.id ?? "")).status, 200)
            assert.deepStrictEqual((yield* send(sandbox, old[0]?.id ?? "")).body, outsideWindow)
            assert.deepStrictEqual((yield* send(sandbox, silent ?? "")).body, outsideWindow)
            return recent.map((c) => c.id).sort()
          }))
      const first = yield* recentOf(5)
      assert.deepStrictEqual(yield* recentOf(5), first)
      assert.notDeepEqual(yield* recentOf(6), first)
    }))

  it.scoped("listed data without messages: a seeded share of the commenters wrote", () =>
    Effect.gen(function*() {
      const comments = Array.from({ length: 400 }, (_, i): DataSet.Comment => ({
        id: `c${i}`,
        text: "guide",
        timestamp: ago(hour + i * 1000),
        user: { id: `person-${i}`, username: `person.${i}` }
      }))
      const data: DataSet.Listed = { _tag: "Listed", profile: "studio", posts: [{ id: "p1", comments }] }
      yield* withSandbox({ data, seed: 2 }, (sandbox) =>
        Effect.gen(function*() {
          const conversations = yield* conversationsOf(sandbox)
          const recent = conversations.filter((c) =>
            now.getTime() - Date.parse((c.messages.data[0]?.created_time ?? "").replace("+0000", "Z")) < 24 * hour
          )
          assert.approximately(recent.length / 400, 0.15, 0.05)
          assert.isAbove(conversations.length - recent.length, 0, "some wrote long ago")
          assert.isBelow(conversations.length, 400 * 0.4, "most never wrote")
        }))
    }))

  it.scoped("listed data with messages: exactly those people wrote, also after a generated post is added", () =>
    withSandbox({ data: written }, (sandbox) =>
      Effect.gen(function*() {
        yield* Effect.orDie(sandbox.addPost({ id: "p-many", generatedComments: 3000 }))
        assert.deepStrictEqual((yield* conversationsOf(sandbox)).map((c) => c.id), ["t_u1", "t_u2"])
        assert.deepStrictEqual((yield* send(sandbox, "17841500000000001")).body, outsideWindow)
      })))

  it.scoped("with open windows every commenter wrote an hour before the start and DMs are accepted days later", () =>
    withSandbox(
      { data: studio, windows: "open", faults: { refusedRecipients: ["u2"] } },
      (sandbox) =>
        Effect.gen(function*() {
          yield* TestClock.adjust("3 days")
          assert.strictEqual((yield* send(sandbox, "u3")).status, 200)
          assert.deepStrictEqual((yield* send(sandbox, "u2")).body, outsideWindow, "refused recipients stay refused")
          const conversations = yield* conversationsOf(sandbox)
          assert.deepStrictEqual(conversations.map((c) => c.id).slice(1).sort(), ["t_u1", "t_u2", "t_u4", "t_u5"])
          assert.strictEqual(conversations[1]?.messages.data[0]?.created_time, "2026-03-28T11:00:00+0000")
        })
    ))
})

describe("the account itself", () => {
  const Profile = Schema.Struct({
    success: Schema.Literal(true),
    profile: Schema.Struct({
      username: Schema.String,
      created_at: Schema.String,
      social_accounts: Schema.Record({
        key: Schema.String,
        value: Schema.Struct({
          username: Schema.String,
          handle: Schema.String,
          display_name: Schema.String,
          reauth_required: Schema.Boolean
        })
      })
    })
  })

  it.scoped("GET /uploadposts/users/{profile} tells the account's user id and handle, and whether it needs a login", () =>
    withSandbox(
      { data: { ...written, account: { id: "17841400000000999", handle: "studio.official" } } },
      (sandbox) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(sandbox.account, { id: "17841400000000999", handle: "studio.official" })
          const answer = yield* get(sandbox, "/uploadposts/users/studio")
          assert.strictEqual(answer.status, 200)
          const { profile } = decode(Profile)(answer)
          assert.strictEqual(profile.username, "studio")
          assert.deepStrictEqual(profile.social_accounts["instagram"], {
            username: "17841400000000999",
            handle: "studio.official",
            display_name: "studio.official",
            reauth_required: false
          })
          yield* sandbox.setFaults({ reauthRequired: true })
          const again = decode(Profile)(yield* get(sandbox, "/uploadposts/users/studio"))
          assert.isTrue(again.profile.social_accounts["instagram"]?.reauth_required)
          const unknown = yield* get(sandbox, "/uploadposts/users/someone-else")
          assert.deepStrictEqual([unknown.status, unknown.body], [404, {
            success: false,
            message: "User profile not found"
          }])
          const unauthorized = yield* get(sandbox, "/uploadposts/users/studio", {}, "wrong")
          assert.strictEqual(unauthorized.status, 401)
          const me = yield* get(sandbox, "/uploadposts/me")
          assert.deepStrictEqual(me.body, { success: true, email: "studio@sandbox.upload-post.local", plan: "sandbox" })
        })
    ))

  it.scoped("the account's own comments are listed, with its id and handle, in generated data and the demo", () =>
    Effect.gen(function*() {
      const data = DataSet.generate({ comments: 2000, ownCommentShare: 0.02 })
      yield* withSandbox({ data }, (sandbox) =>
        Effect.gen(function*() {
          const comments = yield* readAll(sandbox, DataSet.postId(0), 50)
          const own = comments.filter((c) => c.user?.id === sandbox.account.id)
          assert.approximately(own.length / 2000, 0.02, 0.01)
          assert.isTrue(own.every((c) => c.user?.username === sandbox.account.handle))
          assert.isTrue(own.some((c) => /guide/i.test(c.text)), "some of them name the keyword")
        }))
      yield* withSandbox({}, (sandbox) =>
        Effect.gen(function*() {
          const comments = yield* readAll(sandbox, DataSet.postId(0), 50)
          assert.isAbove(comments.filter((c) => c.user?.id === sandbox.account.id).length, 0, "the demo has some")
        }))
      const plain = DataSet.generate({ comments: 2000 })
      yield* withSandbox({ data: plain }, (sandbox) =>
        Effect.gen(function*() {
          const comments = yield* readAll(sandbox, DataSet.postId(0), 50)
          assert.isFalse(comments.some((c) => c.user?.id === sandbox.account.id), "none unless asked for")
        }))
    }))
})
