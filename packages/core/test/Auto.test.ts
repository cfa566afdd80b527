/**
 * `delivery: auto` on test services: a scripted Upload-Post (comments, conversations, sends) behind the real client, a
 * SQLite ledger in memory, and the TestClock. The choice per person, the re-check just before the request, the order
 * of a pass, expiry, opt-out words, people judged again, and the notice for a changed delivery.
 */
import type { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, TestClock } from "effect"
import * as Campaign from "../src/Campaign.js"
import * as Inbound from "../src/campaign/Inbound.js"
import * as Step from "../src/campaign/Step.js"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as Ledger from "../src/Ledger.js"
import * as Pacer from "../src/Pacer.js"
import type * as Run from "../src/Run.js"
import * as StopSignal from "../src/StopSignal.js"
import { formatTimestamp } from "../src/UploadPostSchema.js"
import * as Watch from "../src/Watch.js"
import { services } from "./support/scriptedClient.js"
import { smallCampaign } from "./support/smallCampaign.js"
import * as TestHttpClient from "./support/testHttpClient.js"

const now = Date.UTC(2026, 2, 28, 12)
const hour = 3_600_000
const day = 24 * hour
const account = { id: "17841400000000000", username: "studio" }

interface Comment {
  readonly id: string
  readonly userId: string
  readonly ago: number
  readonly text?: string
}

interface Message {
  readonly from: string
  readonly ago: number
  readonly text: string
}

/** The platform as these tests script it: its comments and conversations can change between runs. */
interface World {
  comments: Array<Comment>
  messages: Array<Message>
  /** Requests made, in order: `read:conversations`, `dm:<user>`, `reply:<comment>`. */
  readonly requests: Array<string>
  /** When each send was made (TestClock time, ms after `now`). */
  readonly sentAt: Array<number>
  /** People whose DM the platform refuses for the messaging window, whatever the conversations show. */
  readonly outsideWindow: Set<string>
  readonly layer: Layer.Layer<HttpClient.HttpClient>
}

const ok = (body: unknown): TestHttpClient.Answer => ({ status: 200, body: JSON.stringify(body) })

const makeWorld = (comments: Array<Comment>, messages: Array<Message>): World => {
  const world: World = {
    comments,
    messages,
    requests: [],
    sentAt: [],
    outsideWindow: new Set(),
    layer: TestHttpClient.layer((request) =>
      Effect.map(TestClock.currentTimeMillis, (at): TestHttpClient.Answer => {
        const path = new URL(request.url).pathname
        if (path.endsWith("/uploadposts/comments")) {
          return ok({
            success: true,
            comments: world.comments.map((comment) => ({
              id: comment.id,
              text: comment.text ?? "guide please",
              timestamp: formatTimestamp(new Date(at - comment.ago)),
              user: { id: comment.userId, username: `user_${comment.userId}` }
            })),
            pagination: { next_cursor: null, has_next: false }
          })
        }
        if (path.endsWith("/dms/conversations")) {
          world.requests.push("read:conversations")
          return ok({
            success: true,
            conversations: world.messages.map((message, index) => ({
              id: `t_${message.from}`,
              participants: { data: [{ id: message.from, username: `user_${message.from}` }, account] },
              messages: {
                data: [{
                  id: `in-${index}`,
                  created_time: formatTimestamp(new Date(now - message.ago)),
                  from: { id: message.from, username: `user_${message.from}` },
                  to: { data: [account] },
                  message: message.text
                }]
              }
            }))
          })
        }
        const body = JSON.parse(TestHttpClient.bodyText(request) || "{}") as {
          recipient_id?: string
          comment_id?: string
        }
        world.sentAt.push(at - now)
        if (path.endsWith("/dms/send")) {
          world.requests.push(`dm:${body.recipient_id}`)
          if (world.outsideWindow.has(body.recipient_id ?? "")) {
            const error = "(#10) This message is sent outside of allowed window."
            return { status: 400, body: JSON.stringify({ success: false, error }) }
          }
          return ok({ success: true, recipient_id: body.recipient_id, message_id: `m-${world.requests.length}` })
        }
        world.requests.push(`reply:${body.comment_id}`)
        return ok({ success: true, recipient_id: "x", message_id: `m-${world.requests.length}` })
      })
    )
  }
  return world
}

/** Ada (u1), whose comment c1 on p1 asks for the guide `ago` milliseconds before `now`. */
const target = (ago: number, extra: Partial<Step.Target> = {}): Step.Target => ({
  campaign: "c",
  platform: "instagram",
  userId: "u1",
  step: "first_message",
  username: "ada",
  postId: "p1",
  commentId: "c1",
  commentText: "guide",
  commentTime: new Date(now - ago),
  keyword: "guide",
  ...extra
})

const spec = (extra: Partial<CampaignSpec.Input> = {}) =>
  smallCampaign({ message: "Hi @{{username}}, here is the guide", pace: { per_hour: 3600, concurrency: 1 }, ...extra })

/** A run of the campaign at the TestClock's time, unpaced unless a pacer is given, with its events. */
const run = (campaign: CampaignSpec.CampaignSpec, pacer: Layer.Layer<Pacer.Pacer> = Pacer.layerUnlimited) =>
  Effect.gen(function*() {
    const events: Array<Run.Event> = []
    const summary = yield* Campaign.run(campaign, {
      reconcile: false,
      onEvent: (event) => Effect.sync(() => void events.push(event))
    }).pipe(Effect.provide(pacer))
    return { summary, events }
  })

const firstMessages = (campaign: string) =>
  Effect.flatMap(Ledger.Ledger, (ledger) => ledger.counts(campaign, "first_message"))

/** The six kinds of people `auto` tells apart. */
const sixPeople = () =>
  makeWorld(
    [
      { id: "c1", userId: "u1", ago: 3 * hour },
      { id: "c2", userId: "u2", ago: day },
      { id: "c3", userId: "u3", ago: 8 * day },
      { id: "c4", userId: "u4", ago: 8 * day },
      { id: "c5", userId: "u5", ago: hour },
      { id: "c6", userId: "u6", ago: hour }
    ],
    [
      { from: "u1", ago: 2 * hour, text: "hi, can I have it?" },
      { from: "u3", ago: 30 * hour, text: "hello" },
      { from: "u5", ago: hour, text: " Stop \n" },
      // Inside the 24 hours but not the margin: a DM could land after the window closes.
      { from: "u6", ago: 23.5 * hour, text: "hey" }
    ]
  )

describe("delivery auto", () => {
  it.scoped("picks per person: a DM inside the window, else a private reply within 7 days, else skipped or opted out", () => {
    const world = sixPeople()
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const campaign = yield* spec()
      assert.strictEqual(campaign.delivery, "auto", "a file without delivery means auto")
      const { events, summary } = yield* run(campaign)
      assert.deepStrictEqual(
        [...world.requests].sort(),
        ["dm:u1", "read:conversations", "reply:c2", "reply:c6"],
        "one conversations read for the pass; no request for the skipped or the opted-out"
      )
      assert.strictEqual(summary.outcome, "completed")
      const c = summary.counts
      assert.deepStrictEqual([c.matched, c.sent, c.refused, c.skipped, c.expired, c.suppressed], [6, 3, 0, 2, 0, 1])
      assert.deepStrictEqual(summary.skipped, { window_closed: 1, comment_too_old: 1 })
      assert.deepStrictEqual(summary.paths, { dm: 1, private_reply: 2 })
      const counts = yield* firstMessages(campaign.name)
      assert.strictEqual(Object.values(counts).reduce((a, b) => a + b, 0), 6, "every person in one state")
      assert.deepStrictEqual([counts.sent, counts.skipped, counts.suppressed], [3, 2, 1])
      const skipped = events.flatMap((event) => event._tag === "Skipped" ? [[event.userId, event.state]] : [])
      assert.deepStrictEqual(skipped.sort(), [["u3", "skipped"], ["u4", "skipped"], ["u5", "suppressed"]])
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a DM whose window closes while it waits for its slot becomes a private reply, never refused", () => {
    const world = makeWorld([{ id: "c1", userId: "u1", ago: 2 * hour }], [{ from: "u1", ago: 22.5 * hour, text: "hi" }])
    // Every slot comes two hours after it is asked for: the window (with its margin) ends half an hour from now.
    const slow = Layer.succeed(Pacer.Pacer, {
      take: Effect.as(Effect.sleep(Duration.hours(2)), { answered: Effect.void })
    })
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      // One send allowed: the person chosen again still counts once.
      const campaign = yield* spec({ max_sends: 1 })
      const fiber = yield* Effect.fork(run(campaign, slow))
      yield* TestClock.adjust(Duration.hours(5))
      const { summary } = yield* Fiber.join(fiber)
      assert.deepStrictEqual(world.requests, ["read:conversations", "reply:c1"])
      assert.deepStrictEqual([summary.counts.sent, summary.counts.refused, summary.counts.pending], [1, 0, 0])
      assert.deepStrictEqual(summary.paths, { private_reply: 1 })
      const entries = yield* Effect.flatMap(Ledger.Ledger, (ledger) => ledger.inDoubt(campaign.name))
      assert.deepStrictEqual(entries, [])
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a DM the platform refuses for the window becomes a private reply, not a refusal", () => {
    const world = makeWorld([{ id: "c1", userId: "u1", ago: hour }], [{ from: "u1", ago: hour, text: "hi" }])
    world.outsideWindow.add("u1")
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const { summary } = yield* run(yield* spec())
      assert.deepStrictEqual(world.requests, ["read:conversations", "dm:u1", "reply:c1"])
      assert.deepStrictEqual([summary.counts.sent, summary.counts.refused], [1, 0])
      assert.deepStrictEqual(summary.paths, { private_reply: 1 })
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("goes nearest deadline first: DMs by the end of their window, private replies by their 7 days", () => {
    const world = makeWorld(
      [
        { id: "c1", userId: "u1", ago: hour },
        { id: "c2", userId: "u2", ago: 6 * day },
        { id: "c3", userId: "u3", ago: hour },
        { id: "c4", userId: "u4", ago: 3 * day },
        { id: "c5", userId: "u5", ago: hour }
      ],
      [
        { from: "u1", ago: 2 * hour, text: "a" },
        { from: "u3", ago: 20 * hour, text: "b" },
        { from: "u5", ago: 10 * hour, text: "c" }
      ]
    )
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      yield* run(yield* spec())
      // Deadlines from now: u3 3 h, u5 13 h, u1 21 h (windows less the margin), u4 4 days, u2 1 day.
      assert.deepStrictEqual(world.requests, ["read:conversations", "dm:u3", "dm:u5", "dm:u1", "reply:c2", "reply:c4"])
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a skipped person is judged again when they comment again or write to the account", () => {
    const world = makeWorld(
      [{ id: "c3", userId: "u3", ago: 8 * day }, { id: "c4", userId: "u4", ago: 9 * day }],
      [{ from: "u3", ago: 30 * hour, text: "hello" }]
    )
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const campaign = yield* spec()
      const first = yield* run(campaign)
      assert.deepStrictEqual(first.summary.skipped, { window_closed: 1, comment_too_old: 1 })
      assert.deepStrictEqual(world.requests, ["read:conversations"])
      // A day later u4 comments again and u3 writes to the account.
      yield* TestClock.adjust(Duration.days(1))
      world.comments = [{ id: "c9", userId: "u4", ago: hour }, ...world.comments]
      world.messages = [{ from: "u3", ago: -day + hour, text: "still there?" }]
      const second = yield* run(campaign)
      assert.deepStrictEqual(world.requests.slice(1).sort(), ["dm:u3", "read:conversations", "reply:c9"])
      assert.deepStrictEqual([second.summary.counts.sent, second.summary.counts.skipped], [2, 0])
      // Settled people stay settled: a third run sends nothing.
      yield* run(campaign)
      assert.strictEqual(world.requests.filter((request) => !request.startsWith("read")).length, 2)
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a person's newest matching comment is the one answered, across the pass and across runs", () => {
    // u1's older comment comes first in the pass (as when it is on the first of two posts); the newer one wins.
    const world = makeWorld([{ id: "c1", userId: "u1", ago: 9 * day }, { id: "c2", userId: "u1", ago: hour }], [])
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const campaign = yield* spec()
      const first = yield* run(campaign)
      assert.deepStrictEqual(world.requests, ["read:conversations", "reply:c2"])
      assert.deepStrictEqual([first.summary.counts.sent, first.summary.counts.skipped], [1, 0])
      yield* run(campaign)
      assert.deepStrictEqual(world.requests.filter((request) => !request.startsWith("read")), ["reply:c2"])
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a file that changes the delivery gets a notice; the new rule applies to the people not reached yet", () => {
    const world = makeWorld([{ id: "c1", userId: "u1", ago: hour }], [])
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const dm = yield* spec({ delivery: "dm", max_sends: 0 })
      const first = yield* run(dm)
      assert.deepStrictEqual(first.summary.notices, [], "a campaign's first version gets no notice")
      const auto = yield* spec()
      const { events, summary } = yield* run(auto)
      assert.strictEqual(summary.notices.length, 1)
      assert.include(summary.notices[0], `started with "dm" (version 1)`)
      assert.include(summary.notices[0], `this file says "auto" (version 2)`)
      assert.strictEqual(summary.outcome, "completed", "a notice is not a problem")
      assert.isTrue(events.some((event) => event._tag === "Notice"))
      // The person not reached under `dm` (held by max_sends) gets the new rule: no window, so a private reply.
      assert.deepStrictEqual(world.requests, ["read:conversations", "reply:c1"])
      const versions = yield* Effect.flatMap(Ledger.Ledger, (ledger) => ledger.campaignVersions(auto.name))
      assert.deepStrictEqual(versions.map((version) => version.version), [1, 2])
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a campaign that reached people before its delivery was recorded gets a notice once, then none", () => {
    const world = makeWorld([{ id: "c1", userId: "u1", ago: hour }, { id: "c2", userId: "u2", ago: hour }], [])
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const campaign = yield* spec()
      // As a comment-dm before versions left it: a person sent by DM, none of the campaign's versions recorded.
      const ledger = yield* Ledger.Ledger
      yield* ledger.registerCampaign({ name: campaign.name, platform: "instagram", profileUser: "studio", posts: [] })
      yield* ledger.discover([target(hour, { campaign: campaign.name })])
      const key = { campaign: campaign.name, platform: "instagram", userId: "u1", step: "first_message" } as const
      assert.isTrue(yield* ledger.claim(key, { message: "Hi", path: "dm", runner: "old", lease: "1 minute" }))
      assert.isTrue(yield* ledger.settle(key, "old", Ledger.Settlement.Sent({ messageId: "m0", at: new Date(now) })))
      yield* TestClock.adjust(Duration.minutes(1))
      const first = yield* run(campaign)
      assert.strictEqual(first.summary.notices.length, 1)
      assert.include(first.summary.notices[0], `reached people by "dm"`)
      yield* TestClock.adjust(Duration.minutes(1))
      const second = yield* run(campaign)
      assert.deepStrictEqual(second.summary.notices, [])
      assert.deepStrictEqual(world.requests.filter((request) => !request.startsWith("read")), ["reply:c2"])
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a watcher reads the conversations once per poll, and DMs whoever wrote since the last poll", () => {
    const world = makeWorld([{ id: "c1", userId: "u1", ago: 10 * day }], [])
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const stop = yield* Deferred.make<void>()
      const campaign = yield* spec()
      const fiber = yield* Effect.fork(
        Watch.watch(campaign, { every: Duration.minutes(1) }).pipe(
          Effect.provide(Layer.merge(Pacer.layerUnlimited, StopSignal.layer({ interrupt: Deferred.await(stop) })))
        )
      )
      yield* TestClock.adjust(Duration.seconds(30))
      assert.deepStrictEqual(world.requests, ["read:conversations"], "skipped: comment_too_old, no window")
      // u1 writes to the account; the next poll's read sees it and judges them again.
      world.messages = [{ from: "u1", ago: -Duration.toMillis(Duration.seconds(40)), text: "hello?" }]
      yield* TestClock.adjust(Duration.minutes(2))
      yield* Deferred.succeed(stop, undefined)
      const summary = yield* Fiber.join(fiber)
      const reads = world.requests.filter((request) => request === "read:conversations").length
      assert.strictEqual(reads, 3, "one read for each of the three polls")
      assert.deepStrictEqual(world.requests.filter((request) => !request.startsWith("read")), ["dm:u1"])
      assert.deepStrictEqual([summary.counts.sent, summary.counts.skipped], [1, 0])
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("elsewhere than Instagram auto means dm, and reads no conversations", () => {
    const world = makeWorld([{ id: "c1", userId: "u1", ago: 9 * day }], [])
    return Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const campaign = yield* spec({ platform: "facebook" })
      assert.strictEqual(CampaignSpec.deliveryOf(campaign), "dm")
      yield* run(campaign)
      assert.deepStrictEqual(world.requests, ["dm:u1"])
    }).pipe(Effect.provide(services(world.layer)))
  })
})

describe("auto's choice for one person", () => {
  const wrote = (ago: number, text = "hi") =>
    Inbound.snapshotOf([{
      id: "t_u1",
      participantIds: ["u1"],
      messages: [{ id: "m", createdTime: new Date(now - ago), fromId: "u1", toIds: [account.id], text }]
    }], now)

  it("opt-out words are whole messages, folded for case, width, invisible characters and whitespace", () => {
    for (const text of ["STOP", " stop\n", "Unsubscribe", "ＲＥＭＯＶＥ", "st\u200bop", "  REMOVE  "]) {
      assert.isTrue(Inbound.isOptOut(text), text)
      const choice = Step.autoChoice(wrote(hour, text), target(hour), now)
      assert.strictEqual(choice._tag === "Settle" && choice.settlement._tag, "Suppressed", text)
    }
    for (const text of ["stop please", "STOP!", "don't stop", "", "\u0000stop\u0000x"]) {
      assert.isFalse(Inbound.isOptOut(text), text)
    }
  })

  it("only the latest message counts: a later message after STOP opens the window again", () => {
    const snapshot = Inbound.snapshotOf([{
      id: "t_u1",
      participantIds: ["u1"],
      messages: [
        { id: "m2", createdTime: new Date(now - hour), fromId: "u1", toIds: [], text: "actually yes please" },
        { id: "m1", createdTime: new Date(now - 2 * hour), fromId: "u1", toIds: [], text: "STOP" }
      ]
    }], now)
    assert.deepStrictEqual(Step.autoChoice(snapshot, target(hour), now), { _tag: "Send", path: "dm" })
  })

  it("a deadline that passed while the person waited ends expired; one already past when found is a skip", () => {
    const old = target(7 * day + hour)
    const waited = { ...old, firstSeenAt: new Date(now - 2 * hour) }
    const expired = Step.autoChoice(Inbound.nothingSeen, waited, now)
    assert.strictEqual(expired._tag === "Settle" && expired.settlement._tag, "Expired")
    assert.deepStrictEqual(
      Step.autoChoice(Inbound.nothingSeen, old, now),
      { _tag: "Settle", settlement: Ledger.Settlement.Skipped({ reason: "comment_too_old" }) }
    )
    assert.deepStrictEqual(
      Step.autoChoice(wrote(25 * hour), old, now),
      { _tag: "Settle", settlement: Ledger.Settlement.Skipped({ reason: "window_closed" }) }
    )
  })

  it("the window's margin: a message 22 h 59 min ago still allows a DM, 23 h 1 min ago does not", () => {
    assert.deepStrictEqual(Step.autoChoice(wrote(23 * hour - 60_000), target(hour), now), { _tag: "Send", path: "dm" })
    assert.deepStrictEqual(Step.autoChoice(wrote(23 * hour + 60_000), target(hour), now), {
      _tag: "Send",
      path: "private_reply"
    })
    assert.deepStrictEqual(
      Step.autoChoice(wrote(hour), target(hour, { dmRefused: true }), now),
      { _tag: "Send", path: "private_reply" },
      "a DM the platform refused for the window is not chosen again"
    )
  })
})
