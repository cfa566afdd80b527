/**
 * The steps after the first message on test services: a scripted Upload-Post (comments, conversations that change
 * between runs, DMs, private and public replies, a daily limit) behind the real client, a SQLite ledger in memory and
 * the TestClock. The campaign keys, the follow-up woken by a message, the public reply and its own pace, the order the
 * daily cap goes in, and each step's states summing to its base.
 */
import type { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import type { Layer } from "effect"
import { Chunk, Duration, Effect, Fiber, Schema, TestClock } from "effect"
import * as Campaign from "../src/Campaign.js"
import * as PublicReply from "../src/campaign/PublicReply.js"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as Ledger from "../src/Ledger.js"
import * as Pacer from "../src/Pacer.js"
import type * as Run from "../src/Run.js"
import { formatTimestamp } from "../src/UploadPostSchema.js"
import { services } from "./support/scriptedClient.js"
import { smallCampaign } from "./support/smallCampaign.js"
import * as TestHttpClient from "./support/testHttpClient.js"

const start = Date.UTC(2026, 2, 28, 12)
const hour = 3_600_000
const day = 24 * hour
const account = { id: "17841400000000000", username: "studio" }

interface Message {
  readonly from: string
  /** Epoch milliseconds. */
  readonly at: number
  readonly text: string
}

/** The platform as these tests script it. */
interface World {
  /** Commenter ids; each comments `c<id>` "guide please" an hour before `start`. */
  people: Array<string>
  messages: Array<Message>
  /** Sends the platform still accepts today; then 429 "Daily DM limit exceeded.". */
  dailyLeft: number
  /** Comments whose public reply gets an answer that cannot be read (the reply may have gone out). */
  readonly garbled: Set<string>
  /** Requests made, in order: `dm:<user>`, `reply:<comment>`, `public:<comment>`. */
  readonly requests: Array<string>
  /** When each public reply was made (ms after `start`). */
  readonly publicAt: Array<number>
  readonly layer: Layer.Layer<HttpClient.HttpClient>
}

const ok = (body: unknown): TestHttpClient.Answer => ({ status: 200, body: JSON.stringify(body) })

const makeWorld = (people: Array<string>): World => {
  const world: World = {
    people,
    messages: [],
    dailyLeft: Number.POSITIVE_INFINITY,
    garbled: new Set(),
    requests: [],
    publicAt: [],
    layer: TestHttpClient.layer((request) =>
      Effect.map(TestClock.currentTimeMillis, (at): TestHttpClient.Answer => {
        const path = new URL(request.url).pathname
        if (path.endsWith("/uploadposts/comments")) {
          return ok({
            success: true,
            comments: world.people.map((id) => ({
              id: `c${id}`,
              text: "guide please",
              timestamp: formatTimestamp(new Date(start - hour)),
              user: { id, username: `user_${id}` }
            })),
            pagination: { next_cursor: null, has_next: false }
          })
        }
        if (path.endsWith("/dms/conversations")) {
          return ok({
            success: true,
            conversations: world.messages.map((message, index) => ({
              id: `t_${message.from}_${index}`,
              participants: { data: [{ id: message.from, username: `user_${message.from}` }, account] },
              messages: {
                data: [{
                  id: `in-${index}`,
                  created_time: formatTimestamp(new Date(message.at)),
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
        if (world.dailyLeft <= 0) {
          return { status: 429, body: JSON.stringify({ success: false, error: "Daily DM limit exceeded." }) }
        }
        world.dailyLeft--
        const id = `m-${world.requests.length}`
        if (path.endsWith("/dms/send")) {
          world.requests.push(`dm:${body.recipient_id}`)
          return ok({ success: true, recipient_id: body.recipient_id, message_id: id })
        }
        if (path.endsWith("/comments/public-reply")) {
          world.requests.push(`public:${body.comment_id}`)
          world.publicAt.push(at - start)
          if (world.garbled.has(body.comment_id ?? "")) return { status: 200, body: "<html>proxy" }
          return ok({ success: true, id: `r-${world.requests.length}` })
        }
        world.requests.push(`reply:${body.comment_id}`)
        return ok({ success: true, recipient_id: "x", message_id: id })
      })
    )
  }
  return world
}

/** The test campaign; a key given as undefined is left out. */
const spec = (extra: Partial<CampaignSpec.Input> = {}) =>
  smallCampaign(Object.fromEntries(
    Object.entries({
      message: "Hi @{{username}}",
      delivery: "private_reply",
      pace: { per_hour: 3600, concurrency: 1 },
      follow_up: { message: "Here is the link, @{{username}}", when: ["link", "yes"] },
      public_reply: { message: ["Sent you a DM 📩", "Check your inbox ✉️"], per_hour: 3600 },
      ...extra
    }).filter(([, value]) => value !== undefined)
  ))

/** One turn of the event loop in real time: what a timer or a setImmediate scheduled before it has run. */
const realTurn = Effect.async<void>((resume) => {
  const timer = setTimeout(() => void setImmediate(() => resume(Effect.void)), 0)
  return Effect.sync(() => clearTimeout(timer))
})

/**
 * Waits until the run's work in real time is done: nothing it does changes for a few turns of the event loop. The
 * ledger's group-commit writer is a scoped fiber, which TestClock.adjust does not watch, and it waits a setImmediate
 * before each commit; adjust only checks its own fibers across a setTimeout(0), which on a loaded machine fires first,
 * so it moved the clock past the next slot while a claim was being committed and that request went out a slot late.
 */
const settled = (world: World, events: ReadonlyArray<Run.Event>) =>
  Effect.gen(function*() {
    const state = () =>
      Effect.map(TestClock.sleeps(), (sleeps) =>
        `${Chunk.join(Chunk.map(sleeps, String), ",")}/${world.requests.length}/${events.length}`)
    let last = yield* state()
    for (let still = 0; still < 3;) {
      yield* realTurn
      const now = yield* state()
      still = now === last ? still + 1 : 0
      last = now
    }
  })

/**
 * A run at the TestClock's time (the campaign unpaced), the clock moved on until it ends: by `tick` at a time, to
 * each pending sleep in turn, and only once the run has done what it does at the time before (see {@link settled}).
 */
const run = (world: World, campaign: CampaignSpec.CampaignSpec, tick: Duration.DurationInput = Duration.seconds(10)) =>
  Effect.gen(function*() {
    const events: Array<Run.Event> = []
    const fiber = yield* Effect.fork(
      Campaign.run(campaign, { reconcile: false, onEvent: (event) => Effect.sync(() => void events.push(event)) })
        .pipe(Effect.provide(Pacer.layerUnlimited))
    )
    // Public replies keep their own pace: the clock moves on by their slots.
    for (let i = 0; i < 50 && fiber.unsafePoll() === null; i++) {
      const end = (yield* TestClock.currentTimeMillis) + Duration.toMillis(tick)
      for (;;) {
        yield* settled(world, events)
        const next = Chunk.reduce(yield* TestClock.sleeps(), end, (a, b) => Math.min(a, b))
        yield* TestClock.setTime(Math.max(next, yield* TestClock.currentTimeMillis))
        if (next >= end) break
      }
    }
    return { summary: yield* Fiber.join(fiber), events }
  })

const total = (counts: Ledger.Counts | undefined) => Object.values(counts ?? {}).reduce((a, b) => a + b, 0)

const nonZero = (counts: Ledger.Counts | undefined) =>
  Object.fromEntries(Object.entries(counts ?? {}).filter(([, count]) => count > 0))

describe("campaign keys follow_up and public_reply", () => {
  it.effect("accept a bare message or a list, with defaults", () =>
    Effect.gen(function*() {
      const bare = yield* smallCampaign({ follow_up: "Here you go", public_reply: ["A", "B"], pace: { per_hour: 12 } })
      assert.strictEqual(bare.followUp?.messages.length, 1)
      assert.strictEqual(bare.followUp?.within, 7 * day)
      assert.strictEqual(bare.followUp?.when, undefined)
      assert.strictEqual(bare.publicReply?.messages.length, 2)
      assert.strictEqual(CampaignSpec.publicReplyPerHour(bare), 2, "a fifth of pace.per_hour")
      const slow = yield* smallCampaign({ public_reply: "A", pace: { per_hour: 3 } })
      assert.strictEqual(CampaignSpec.publicReplyPerHour(slow), 1, "at least one an hour")
      const full = yield* smallCampaign({
        follow_up: { message: ["x {{username}}", "y"], within: "48h", when: ["link"] },
        public_reply: { message: "z", per_hour: 7 }
      })
      assert.strictEqual(full.followUp?.within, 48 * hour)
      assert.deepStrictEqual(full.followUp?.when, ["link"])
      assert.strictEqual(CampaignSpec.publicReplyPerHour(full), 7)
      // The file round-trips through its encoded form (the ledger keeps versions that way).
      const encoded = yield* Effect.orDie(Schema.encode(CampaignSpec.CampaignSpec)(full))
      assert.deepStrictEqual(encoded.follow_up, { message: ["x {{username}}", "y"], within: "2d", when: ["link"] })
      const fromCode = yield* CampaignSpec.fromCode({
        name: "s",
        platform: "instagram",
        user: "studio",
        posts: ["p1"],
        message: "Hi",
        followUp: { message: "x", within: "3d" },
        publicReply: { message: "y", perHour: 9 }
      })
      assert.strictEqual(fromCode.followUp?.within, 3 * day)
      assert.strictEqual(fromCode.publicReply?.perHour, 9)
    }))

  it.effect("refuse bad values with the key's path", () =>
    Effect.gen(function*() {
      const problems = (extra: Partial<CampaignSpec.Input>) =>
        Effect.map(Effect.flip(smallCampaign(extra)), (error) => error.issues.map((i) => `${i.path}: ${i.message}`))
      const within = yield* problems({ follow_up: { message: "x", within: "7 days" } })
      assert.match(within.join("\n"), /^follow_up\.within: expected a duration/m)
      const zero = yield* problems({ follow_up: { message: "x", within: "0d" } })
      assert.match(zero.join("\n"), /^follow_up\.within: /m)
      const when = yield* problems({ follow_up: { message: "x", when: ["ok", " "] } })
      assert.match(when.join("\n"), /^follow_up\.when\[1\]: keyword is empty/m)
      const regex = yield* problems({
        match: { mode: "regex", keywords: ["gu.de"] },
        follow_up: { message: "x", when: ["(a"] }
      })
      assert.match(regex.join("\n"), /^follow_up\.when\[0\]: regex "\(a" is refused/m)
      const template = yield* problems({ public_reply: { message: ["ok", "Hi {{nme}}"] } })
      assert.match(template.join("\n"), /^public_reply\.message\[1\]: /m)
      const empty = yield* problems({ public_reply: [] })
      assert.match(empty.join("\n"), /^public_reply\.message: expected at least one message variant/m)
      const pace = yield* problems({ public_reply: { message: "x", per_hour: 0 } })
      assert.match(pace.join("\n"), /^public_reply\.per_hour: expected a positive integer/m)
      const typo = yield* problems({ follow_up: { message: "x", witin: "1d" } as never })
      assert.match(typo.join("\n"), /^follow_up: unknown key "witin" \(did you mean "within"\?\)/m)
      const long = yield* problems({ follow_up: "x".repeat(1001) })
      assert.match(long.join("\n"), /^follow_up\.message: its fixed text alone is too long/m)
      const hostile = yield* problems({
        follow_up: { message: "  ", within: "9999999d" },
        public_reply: null as never
      })
      assert.match(hostile.join("\n"), /^follow_up\.message: is empty/m)
      assert.match(hostile.join("\n"), /^follow_up\.within: expected a duration/m)
      assert.match(
        hostile.join("\n"),
        /^public_reply: expected an object with message and per_hour, or a message, got null/m
      )
      const missing = yield* problems({ follow_up: {} as never })
      assert.match(missing.join("\n"), /^follow_up\.message: required key is missing/m)
      const notAnObject = yield* problems({ public_reply: 3 as never })
      assert.match(notAnObject.join("\n"), /^public_reply: expected an object with message and per_hour/m)
    }))
})

describe("steps after the first message", () => {
  it.scoped("a public reply after each first message sent, and a follow-up once a person writes back", () => {
    const world = makeWorld(["1", "2", "3", "4"])
    return Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const campaign = yield* spec()
      const first = yield* run(world, campaign)
      assert.deepStrictEqual(world.requests, [
        "reply:c1",
        "reply:c2",
        "reply:c3",
        "reply:c4",
        "public:c1",
        "public:c2",
        "public:c3",
        "public:c4"
      ])
      // Their own pace: one a second at 3,600 an hour, whatever the campaign's.
      assert.deepStrictEqual(world.publicAt.map((at, i) => at - (world.publicAt[0] ?? 0) - i * 1000), [0, 0, 0, 0])
      assert.strictEqual(first.summary.outcome, "completed", "awaiting a reply is settled for now")
      assert.deepStrictEqual(nonZero(first.summary.steps.follow_up), { awaiting_reply: 4 })
      assert.deepStrictEqual(nonZero(first.summary.steps.public_reply), { sent: 4 })
      assert.deepStrictEqual(
        [first.summary.counts.sent, first.summary.counts.matched],
        [4, 4],
        "counts: first messages"
      )

      // An hour later: 1 asks for the link, 2 says something `when` does not take, 3 opts out; 4 stays silent.
      const now = yield* TestClock.currentTimeMillis
      world.messages.push(
        { from: "1", at: now + hour, text: "Yes please, the LINK" },
        { from: "2", at: now + hour, text: "thanks!" },
        { from: "3", at: now + hour, text: "stop" }
      )
      yield* TestClock.adjust(Duration.hours(2))
      world.requests.length = 0
      const second = yield* run(world, campaign)
      assert.deepStrictEqual(world.requests, ["dm:1"], "one follow-up, to the person whose message matches")
      assert.deepStrictEqual(nonZero(second.summary.steps.follow_up), { sent: 1, awaiting_reply: 3 })
      const told = second.events.flatMap((event) => event._tag === "Sent" ? [[event.userId, event.step]] : [])
      assert.deepStrictEqual(told, [["1", "follow_up"]])

      // Again: nobody gets a second follow-up or public reply.
      world.requests.length = 0
      yield* run(world, campaign)
      assert.deepStrictEqual(world.requests, [])

      // A week after the private replies, the people who never wrote (in time, or a matching message) end no_reply.
      yield* TestClock.adjust(Duration.days(7))
      const last = yield* run(world, campaign)
      assert.deepStrictEqual(world.requests, [])
      assert.deepStrictEqual(nonZero(last.summary.steps.follow_up), { sent: 1, no_reply: 3 })
      assert.strictEqual(last.summary.outcome, "completed")
      // Each step's states sum to its base: the sent private replies, and everyone sent.
      assert.strictEqual(total(last.summary.steps.follow_up), last.summary.paths.private_reply)
      assert.strictEqual(total(last.summary.steps.public_reply), last.summary.counts.already_sent)
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a message too late for the follow-up: after `within`, or seen after its 24-hour window closed", () => {
    const world = makeWorld(["1", "2"])
    return Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const campaign = yield* spec({ follow_up: { message: "link", within: "2d" }, public_reply: undefined })
      yield* run(world, campaign)
      const now = yield* TestClock.currentTimeMillis
      world.messages.push({ from: "1", at: now + 3 * day, text: "hello" }, { from: "2", at: now + day, text: "hello" })
      yield* TestClock.adjust(Duration.days(3).pipe(Duration.sum(Duration.hours(2))))
      world.requests.length = 0
      const late = yield* run(world, campaign)
      assert.deepStrictEqual(world.requests, [], "no follow-up: 1 wrote after within, 2's window closed")
      assert.deepStrictEqual(nonZero(late.summary.steps.follow_up), { no_reply: 1, expired: 1 })
      assert.deepStrictEqual(late.summary.steps.public_reply, undefined, "no public_reply key without the step")
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a follow-up only for private replies: a DM campaign's people have none", () => {
    const world = makeWorld(["1"])
    return Effect.gen(function*() {
      yield* TestClock.setTime(start)
      world.messages.push({ from: "1", at: start - hour, text: "hi" })
      const { summary } = yield* run(world, yield* spec({ delivery: "dm" }))
      assert.deepStrictEqual(world.requests, ["dm:1", "public:c1"])
      assert.strictEqual(total(summary.steps.follow_up), 0)
      assert.strictEqual(summary.paths.private_reply, undefined)
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a public reply whose answer cannot be read ends unconfirmed and is never sent again", () => {
    const world = makeWorld(["1", "2"])
    world.garbled.add("c2")
    return Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const campaign = yield* spec({ follow_up: undefined })
      const first = yield* run(world, campaign)
      assert.deepStrictEqual(nonZero(first.summary.steps.public_reply), { sent: 1, unconfirmed: 1 })
      assert.strictEqual(first.summary.outcome, "completed", "unconfirmed is final")
      world.requests.length = 0
      yield* run(world, campaign)
      assert.deepStrictEqual(world.requests, [])
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a public reply claimed by a process that died is unconfirmed, never in doubt", () => {
    const world = makeWorld(["1"])
    return Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const campaign = yield* spec({ follow_up: undefined, public_reply: ["a", "b"], max_sends: 1 })
      yield* run(world, campaign)
      const ledger = yield* Ledger.Ledger
      const key = { campaign: campaign.name, platform: "instagram", userId: "1", step: "public_reply" as const }
      assert.isTrue(yield* ledger.claim(key, { message: "a", runner: "dead", lease: Duration.minutes(1) }))
      assert.strictEqual(yield* ledger.recoverClaims(campaign.name, { runner: "dead" }), 1)
      const counts = yield* ledger.counts(campaign.name, "public_reply")
      assert.deepStrictEqual(nonZero(counts), { unconfirmed: 1 })
      assert.deepStrictEqual(yield* ledger.inDoubt(campaign.name), [])
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a second campaign's public reply to the same comment is skipped as comment_taken", () => {
    const world = makeWorld(["1"])
    return Effect.gen(function*() {
      yield* TestClock.setTime(start)
      yield* run(world, yield* spec({ follow_up: undefined }))
      world.requests.length = 0
      const other = yield* run(world, yield* spec({ name: "autumn", follow_up: undefined, delivery: "dm" }))
      assert.deepStrictEqual(world.requests, ["dm:1"], "the DM goes; the comment's public reply is taken")
      assert.deepStrictEqual(nonZero(other.summary.steps.public_reply), { skipped: 1 })
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("when the daily cap is short: follow-ups first, then first messages, then public replies", () => {
    const world = makeWorld(["1", "2"])
    return Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const campaign = yield* spec({ follow_up: "link" })
      yield* run(world, campaign)
      const now = yield* TestClock.currentTimeMillis
      world.messages.push({ from: "1", at: now + hour, text: "hi" }, { from: "2", at: now + hour, text: "hey" })
      // Comments are listed newest first.
      world.people.unshift("3", "4")
      yield* TestClock.adjust(Duration.hours(2))
      world.requests.length = 0
      world.dailyLeft = 3
      const short = yield* run(world, campaign)
      assert.deepStrictEqual(world.requests, ["dm:1", "dm:2", "reply:c3"])
      assert.strictEqual(short.summary.outcome, "daily_limit")
      assert.deepStrictEqual(nonZero(short.summary.steps.follow_up), { sent: 2, awaiting_reply: 1 })
      assert.deepStrictEqual(nonZero(short.summary.steps.public_reply), { sent: 2, pending: 1 })
      assert.strictEqual(short.summary.counts.pending, 1)

      world.requests.length = 0
      world.dailyLeft = Number.POSITIVE_INFINITY
      const next = yield* run(world, campaign)
      assert.deepStrictEqual(world.requests, ["reply:c4", "public:c3", "public:c4"])
      assert.strictEqual(next.summary.outcome, "completed")
      assert.deepStrictEqual(nonZero(next.summary.steps.public_reply), { sent: 4 })
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("a public reply over the platform's length is refused without a request", () => {
    const world = makeWorld(["1"])
    return Effect.gen(function*() {
      yield* TestClock.setTime(start)
      // The fixed text alone fits; with the name it does not.
      const { summary } = yield* run(world, yield* spec({ public_reply: `${"x".repeat(995)} @{{username}}` }))
      assert.deepStrictEqual(world.requests, ["reply:c1"])
      assert.deepStrictEqual(nonZero(summary.steps.public_reply), { refused: 1 })
      assert.strictEqual(summary.outcome, "completed")
    }).pipe(Effect.provide(services(world.layer)))
  })

  it("the public replies' own pace: slots per_hour apart, none reserved beyond the horizon (a watcher's poll)", () => {
    const throttle = new PublicReply.Throttle(1_000, 1_500)
    assert.deepStrictEqual([throttle.reserve(0), throttle.reserve(0), throttle.reserve(0)], [0, 1_000, undefined])
    assert.strictEqual(throttle.reserve(600), 2_000, "a slot not reserved is not lost")
    assert.strictEqual(throttle.reserve(10_000), 10_000, "an idle pace does not bank slots")
    assert.strictEqual(new PublicReply.Throttle(1_000, Number.POSITIVE_INFINITY).reserve(5), 5)
  })

  it.scoped("at the daily limit, the public replies held back spend no time waiting for their own pace", () => {
    const world = makeWorld(["1", "2", "3", "4", "5", "6"])
    world.dailyLeft = 7
    return Effect.gen(function*() {
      yield* TestClock.setTime(start)
      // One public reply an hour: the first goes at once, the second an hour later meets the limit.
      const campaign = yield* spec({ follow_up: undefined, public_reply: { message: ["a", "b"], per_hour: 1 } })
      const { summary } = yield* run(world, campaign, Duration.minutes(10))
      assert.strictEqual(summary.outcome, "daily_limit")
      assert.deepStrictEqual(nonZero(summary.steps.public_reply), { sent: 1, pending: 5 })
      // Two workers had taken slots (at one and two hours) before the limit; nobody after it waits for one.
      assert.isAtMost(summary.elapsedMillis, 2 * hour + 20 * 60_000)
    }).pipe(Effect.provide(services(world.layer)))
  })

  it.scoped("max_sends counts every request of every step", () => {
    const world = makeWorld(["1", "2"])
    return Effect.gen(function*() {
      yield* TestClock.setTime(start)
      const { summary } = yield* run(world, yield* spec({ max_sends: 3 }))
      assert.deepStrictEqual(world.requests, ["reply:c1", "reply:c2", "public:c1"])
      assert.deepStrictEqual(nonZero(summary.steps.public_reply), { sent: 1, pending: 1 })
      assert.strictEqual(summary.outcome, "incomplete")
    }).pipe(Effect.provide(services(world.layer)))
  })
})
