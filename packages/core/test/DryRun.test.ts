/**
 * The dry-run layers with test services only: a scripted `HttpClient` instead of HTTP, a SQLite ledger in memory and
 * the TestClock. The ledger layer reads the real ledger and keeps its changes in memory; the sender makes no request;
 * the caller's pace and daily budget are not used. A whole `Campaign.run` over them tells who would get which message
 * and leaves the ledger as it was.
 */
import type { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Option, Redacted, Stream } from "effect"
import * as Campaign from "../src/Campaign.js"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as DailyBudget from "../src/DailyBudget.js"
import * as DryRun from "../src/DryRun.js"
import * as Ledger from "../src/Ledger.js"
import * as Pacer from "../src/Pacer.js"
import type * as Run from "../src/Run.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as UploadPost from "../src/UploadPost.js"
import * as TestHttpClient from "./support/testHttpClient.js"

const campaign = "spring"
const platform = "instagram"
const runner = "host/1/test"
const lease = { runner, lease: "2 minutes", message: "Hi" } as const

const candidate = (userId: string): Ledger.Candidate => ({
  campaign,
  platform,
  userId,
  step: "first_message",
  username: `user_${userId}`,
  postId: "p1",
  commentId: `c-${userId}`,
  commentText: "guide please",
  commentTime: undefined,
  keyword: "guide"
})
const key = (userId: string): Ledger.RecipientKey => ({ campaign, platform, userId, step: "first_message" })

/** A stored ledger with u1 sent, u2 pending, u3 in doubt, and a read mark on p1. */
const storedLedger = Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  yield* ledger.registerCampaign({ name: campaign, platform, profileUser: "studio", posts: ["p1"] })
  yield* ledger.record(["u1", "u2", "u3"].map(candidate))
  yield* ledger.claim(key("u1"), lease)
  yield* ledger.settle(key("u1"), runner, Ledger.Settlement.Sent({ messageId: "m1", at: new Date(0) }))
  yield* ledger.claim(key("u3"), lease)
  yield* ledger.settle(key("u3"), runner, Ledger.Settlement.InDoubt({ reason: "timed out" }))
  yield* ledger.markRead({ campaign, post: "p1", newestIds: ["c-u1"], matchKey: "k", readAt: new Date(0) })
  return ledger
})

/** What the stored ledger holds for the campaign: every row's state, and the read mark. */
const snapshot = (ledger: Ledger.Service) =>
  Effect.zip(
    Effect.map(Stream.runCollect(ledger.entries(campaign)), (rows) =>
      Chunk.toReadonlyArray(rows).map((row) => [row.userId, row.state, row.reason ?? ""])),
    Effect.map(
      ledger.readMark(campaign, "p1"),
      Option.map((mark) =>
        mark.newestIds
      )
    )
  )

describe("DryRun.ledger", () => {
  it.scoped("reads the stored ledger and keeps every change in memory", () =>
    Effect.gen(function*() {
      const stored = yield* storedLedger
      const before = yield* snapshot(stored)
      const dry = DryRun.ledger(stored)

      assert.deepStrictEqual(yield* dry.record([candidate("u1"), candidate("u4")]), { added: 1, unrecorded: [] })
      assert.isTrue(yield* dry.claim(key("u2"), lease), "a stored pending person is claimed in memory")
      assert.isFalse(yield* dry.claim(key("u2"), lease), "once")
      assert.isFalse(yield* dry.claim(key("u1"), lease), "a person sent is not claimable")
      assert.isTrue(yield* dry.claim(key("u4"), lease), "a person found now is")
      assert.isTrue(yield* dry.confirmClaim(key("u4"), runner, "2 minutes"))
      assert.isFalse(yield* dry.settle(key("u4"), "another runner", Ledger.Settlement.Refused({ reason: "no" })))
      assert.isTrue(yield* dry.settle(key("u4"), runner, Ledger.Settlement.Sent({ messageId: "", at: new Date(0) })))
      assert.isFalse(yield* dry.confirmClaim(key("u4"), runner, "2 minutes"), "a settled claim is no claim")

      const states = yield* dry.states(campaign, platform, "first_message", ["u1", "u2", "u3", "u4", "u5"])
      assert.deepStrictEqual([...states].sort(), [["u1", "sent"], ["u2", "claimed"], ["u3", "in_doubt"], [
        "u4",
        "sent"
      ]])
      const counts = yield* dry.counts(campaign, "first_message")
      assert.deepStrictEqual([counts.sent, counts.pending, counts.claimed, counts.in_doubt], [2, 0, 1, 1])

      // Nothing to recover, resolve or resume from, and nothing written.
      yield* dry.registerCampaign({ name: "other", platform, profileUser: "studio", posts: [] })
      yield* dry.markRead({ campaign, post: "p1", newestIds: ["c-u4"], matchKey: "k", readAt: new Date(1) })
      assert.strictEqual(yield* dry.recoverClaims(campaign, { runner }), 0)
      assert.strictEqual(yield* dry.renewLeases(campaign, runner, "2 minutes"), 0)
      assert.deepStrictEqual(yield* dry.inDoubt(campaign), [])
      assert.isTrue(Option.isNone(yield* dry.readMark(campaign, "p1")), "a rehearsal reads every page")
      assert.deepStrictEqual(yield* snapshot(stored), before)
      assert.deepStrictEqual((yield* stored.counts(campaign, "first_message")).pending, 1)
    }).pipe(Effect.provide(SqliteLedger.layerMemory())))

  it.scoped("lists the stored pending people it has not settled", () =>
    Effect.gen(function*() {
      const stored = yield* storedLedger
      yield* stored.record([candidate("u5")])
      const dry = DryRun.ledger(stored)
      const pending = () =>
        Effect.map(
          Stream.runCollect(dry.pendingEntries(campaign, "first_message")),
          (rows) => Chunk.toReadonlyArray(rows).map((row) => row.userId)
        )
      assert.deepStrictEqual(yield* pending(), ["u2", "u5"])
      yield* dry.claim(key("u2"), lease)
      yield* dry.settle(key("u2"), runner, Ledger.Settlement.Refused({ reason: "no" }))
      assert.deepStrictEqual(yield* pending(), ["u5"])
    }).pipe(Effect.provide(SqliteLedger.layerMemory())))
})

/**
 * Serves one page of comments for any post (or the daily-limit answer for the posts in `limited`), and counts every
 * other request (a send among them).
 */
const scripted = (limited: ReadonlyArray<string> = []) => {
  const others: Array<string> = []
  const comment = (userId: string, text: string) => ({
    id: `c-${userId}`,
    text,
    timestamp: "2026-03-28T10:15:00+0000",
    user: { id: userId, username: `user_${userId}` }
  })
  const page = JSON.stringify({
    success: true,
    comments: [comment("u1", "guide again"), comment("u4", "GUIDE"), comment("u5", "nice")],
    pagination: { next_cursor: null, has_next: false }
  })
  const layer = TestHttpClient.layer((request) => {
    if (request.method === "GET" && request.url.endsWith("/uploadposts/comments")) {
      if (limited.includes(TestHttpClient.query(request, "post_id") ?? "")) {
        return { status: 429, body: JSON.stringify({ success: false, message: "Daily limit reached" }) }
      }
      return { status: 200, body: page }
    }
    others.push(`${request.method} ${request.url}`)
    return { status: 500, body: "{}" }
  })
  return { others, layer }
}

const client = (http: Layer.Layer<HttpClient.HttpClient>) =>
  UploadPost.UploadPost.Default.pipe(
    Layer.provide(UploadPost.UploadPostConfig.layer({ baseUrl: "http://127.0.0.1:9", apiKey: Redacted.make("key") })),
    Layer.provide(http)
  )

/** A pace and a budget that fail the run if it asks them: a dry run must use neither. */
const callersServices = Layer.merge(
  Layer.succeed(Pacer.Pacer, { take: Effect.dieMessage("the caller's pace was used") }),
  DailyBudget.layer({
    status: Effect.dieMessage("the caller's daily budget was asked"),
    markExhausted: Effect.dieMessage("the caller's daily budget was told"),
    markLifted: Effect.dieMessage("the caller's daily budget was told"),
    recordSent: Effect.dieMessage("the caller's daily budget counted a send")
  })
)

const springSpec = (posts: ReadonlyArray<string>) =>
  CampaignSpec.make({
    name: campaign,
    platform,
    user: "studio",
    posts,
    match: { keywords: ["guide"] },
    message: "Hi @{{username}}",
    // With `auto` a rehearsal also reads the conversations, to tell each person's path.
    delivery: "dm"
  })

/** A dry run of the campaign over the scripted client, with the events it told. */
const rehearse = (spec: CampaignSpec.CampaignSpec, transport: Layer.Layer<HttpClient.HttpClient>) =>
  Effect.gen(function*() {
    const events: Array<Run.Event> = []
    const summary = yield* Campaign.run(spec, {
      onEvent: (event) => Effect.sync(() => void events.push(event))
    }).pipe(
      Effect.provide(DryRun.layer),
      Effect.provide(callersServices),
      Effect.provide(client(transport))
    )
    return { summary, events }
  })

describe("Campaign.run over DryRun.layer", () => {
  it.scoped(
    "tells who would get which message (people met and people left pending), sends nothing, writes nothing, and " +
      "uses neither the caller's pace nor its daily budget",
    () =>
      Effect.gen(function*() {
        const { layer, others } = scripted()
        const stored = yield* storedLedger
        const before = yield* snapshot(stored)
        const { events, summary } = yield* rehearse(yield* springSpec(["p1"]), layer)
        assert.strictEqual(summary.outcome, "dry_run")
        const wouldSend = events.flatMap((event) =>
          event._tag === "WouldSend" ? [[event.userId, event.post, event.message]] : []
        )
        // u4 is new on the page; u2 was left pending by an earlier run and is sent to by the next real run.
        assert.deepStrictEqual(wouldSend.sort(), [["u2", "p1", "Hi @user_u2"], ["u4", "p1", "Hi @user_u4"]])
        assert.deepStrictEqual(
          [summary.counts.matched, summary.counts.new, summary.counts.already_sent, summary.counts.would_send],
          [2, 1, 1, 2]
        )
        assert.deepStrictEqual([summary.counts.sent, summary.counts.pending, summary.counts.in_doubt], [0, 0, 0])
        assert.deepStrictEqual(others, [], "no request but the comments read")
        assert.deepStrictEqual(yield* snapshot(stored), before)
      }).pipe(Effect.provide(SqliteLedger.layerMemory()))
  )
})

describe("Campaign.run over DryRun.layer, at the daily limit", () => {
  it.scoped(
    "a read answered with the daily limit holds everyone as a real run would: nobody would be sent",
    () =>
      Effect.gen(function*() {
        const { layer, others } = scripted(["p0"])
        const stored = yield* storedLedger
        const before = yield* snapshot(stored)
        // The limited post is read first, so the answer comes before anyone is found.
        const { events, summary } = yield* rehearse(yield* springSpec(["p0", "p1"]), layer)
        // A real run stops sending at that answer and reads on; its rehearsal holds the same people: u4 found on p1,
        // and u2 left pending by an earlier run.
        assert.strictEqual(summary.outcome, "dry_run")
        assert.deepStrictEqual(events.map((event) => event._tag), ["Started", "DailyLimit", "PageRead"])
        assert.deepStrictEqual([summary.counts.would_send, summary.counts.sent, summary.counts.new], [0, 0, 1])
        assert.deepStrictEqual(others, [], "no request but the comments reads")
        assert.deepStrictEqual(yield* snapshot(stored), before)
      }).pipe(Effect.provide(SqliteLedger.layerMemory()))
  )
})
