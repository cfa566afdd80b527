import type * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, layer } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import { Context, Duration, Effect, Layer, TestClock } from "effect"
import * as Heartbeat from "../src/Heartbeat.js"
import { Ledger, type MessagePath, type RecipientKey, Settlement } from "../src/Ledger.js"
import * as PgLedger from "../src/PgLedger.js"
import * as ReportData from "../src/ReportData.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as SqlLedger from "../src/SqlLedger.js"
import * as Template from "../src/Template.js"
import { candidate, claimBy, newCampaign, platform } from "./support/ledgerSuite.js"
import { findPostgres, startPostgres } from "./support/postgres.js"

const hour = 3_600_000
const day = 24 * hour
const now = new Date(Date.UTC(2026, 11, 6, 12, 0))
/** The first send: 10:15 UTC on the 1st. */
const firstSend = Date.UTC(2026, 11, 1, 10, 15)

const runner = "report-test"

/** Claims a person's step and settles it as given. */
const settled = (key: RecipientKey, settlement: Settlement, path?: MessagePath) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    assert.isTrue(yield* ledger.claim(key, { ...claimBy(runner), path }))
    assert.isTrue(yield* ledger.settle(key, runner, settlement))
  })

const key = (campaign: string, index: number, step: RecipientKey["step"] = "first_message"): RecipientKey => ({
  campaign,
  platform,
  userId: candidate(campaign, index).userId,
  step
})

/**
 * A campaign of eleven people: three sent (a DM, two private replies over four hours), one refused, one skipped, one
 * in doubt, and five pending (two close to the private reply's deadline, one past it, one recent, one postponed).
 */
const campaignOfEleven = Effect.gen(function*() {
  const ledger = yield* Ledger
  const campaign = newCampaign("report")
  yield* ledger.registerCampaign({ name: campaign, platform, profileUser: campaign, posts: ["1"] })
  const commented = (index: number, age: number, keyword: string) =>
    candidate(campaign, index, { commentTime: new Date(now.getTime() - age), keyword })
  yield* ledger.discover([
    commented(0, hour, "guide"),
    commented(1, day, "guide"),
    commented(2, day, "guide"),
    commented(3, day, "guide"),
    commented(4, 9 * day, "guide"),
    commented(5, 6 * day, "link"),
    commented(6, 8 * day, "link"),
    commented(7, day, "link"),
    commented(8, day, "guide"),
    commented(9, 5 * day + 12 * hour, "link"),
    candidate(campaign, 10, { commentTime: undefined, keyword: "guide" })
  ])
  yield* settled(key(campaign, 0), Settlement.Sent({ messageId: "m0", at: new Date(firstSend) }), "dm")
  yield* settled(
    key(campaign, 1),
    Settlement.Sent({ messageId: "m1", at: new Date(firstSend + 30 * 60_000) }),
    "private_reply"
  )
  yield* settled(
    key(campaign, 2),
    Settlement.Sent({ messageId: "m2", at: new Date(firstSend + 3 * hour) }),
    "private_reply"
  )
  yield* settled(key(campaign, 3), Settlement.Refused({ reason: "(#10) outside of allowed window" }), "dm")
  yield* settled(key(campaign, 4), Settlement.Skipped({ reason: "comment_too_old" }))
  yield* settled(key(campaign, 8), Settlement.InDoubt({ reason: "claimed by a runner at 10:00 that stopped" }), "dm")
  yield* settled(key(campaign, 9), Settlement.Pending({ reason: "Daily DM limit exceeded." }), "private_reply")
  return campaign
})

const contract = (it: Vitest.MethodsNonLive<Ledger | SqlClient.SqlClient>) => {
  it.effect("counts every step's people by state, path and the reasons of outcomes, in the database", () =>
    Effect.gen(function*() {
      const campaign = yield* campaignOfEleven
      const rows = yield* ReportData.outcomes(campaign)
      const sorted = rows.map((row) => [row.step, row.state, row.path ?? "-", row.reason ?? "-", row.count].join(" "))
        .sort()
      assert.deepStrictEqual(sorted, [
        "first_message in_doubt dm - 1",
        "first_message pending - - 4",
        "first_message pending private_reply Daily DM limit exceeded. 1",
        "first_message refused dm (#10) outside of allowed window 1",
        "first_message sent dm - 1",
        "first_message sent private_reply - 2",
        "first_message skipped - comment_too_old 1"
      ])
      assert.strictEqual(yield* ReportData.unrecordedCount(campaign), 0)
    }))

  it.effect("adds up the comments read over the campaign's posts, unknown while one post's count is", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("comments")
      const mark = (post: string, comments: number | undefined) =>
        ledger.markRead({ campaign, post, newestIds: ["c1"], matchKey: "k", readAt: now, comments })
      assert.isUndefined(yield* ReportData.commentsRead(campaign), "no post read yet")
      yield* mark("p1", 120)
      yield* mark("p2", 0)
      assert.strictEqual(yield* ReportData.commentsRead(campaign), 120)
      yield* mark("p3", undefined)
      assert.isUndefined(yield* ReportData.commentsRead(campaign), "a mark that did not count")
      yield* mark("p3", 5)
      assert.strictEqual(yield* ReportData.commentsRead(campaign), 125)
    }))

  it.effect("counts sends by the hour up to 48 hours, every hour between included, and by the day beyond", () =>
    Effect.gen(function*() {
      const campaign = yield* campaignOfEleven
      const hourly = yield* ReportData.sendsOverTime(campaign)
      assert.strictEqual(hourly.unit, "hour")
      assert.deepStrictEqual(
        hourly.buckets.map((bucket) => [
          bucket.start.toISOString(),
          bucket.counts.map((c) => `${c.step}/${c.path}:${c.count}`).sort().join(",")
        ]),
        [
          ["2026-12-01T10:00:00.000Z", "first_message/dm:1,first_message/private_reply:1"],
          ["2026-12-01T11:00:00.000Z", ""],
          ["2026-12-01T12:00:00.000Z", ""],
          ["2026-12-01T13:00:00.000Z", "first_message/private_reply:1"]
        ]
      )

      // A public reply three days later spreads the sends over more than 48 hours: days.
      const ledger = yield* Ledger
      yield* ledger.discover([candidate(campaign, 0, { step: "public_reply" })])
      yield* settled(
        key(campaign, 0, "public_reply"),
        Settlement.Sent({ messageId: "p0", at: new Date(firstSend + 3 * day) })
      )
      const daily = yield* ReportData.sendsOverTime(campaign)
      assert.strictEqual(daily.unit, "day")
      assert.deepStrictEqual(
        daily.buckets.map((bucket) => [bucket.start.toISOString(), bucket.counts.reduce((n, c) => n + c.count, 0)]),
        [
          ["2026-12-01T00:00:00.000Z", 3],
          ["2026-12-02T00:00:00.000Z", 0],
          ["2026-12-03T00:00:00.000Z", 0],
          ["2026-12-04T00:00:00.000Z", 1]
        ]
      )
      assert.deepStrictEqual((yield* ReportData.sendsOverTime(newCampaign("nothing-sent"))).buckets, [])
    }))

  it.effect("finds the pending private replies older than 5 days, soonest deadline first, and those past it", () =>
    Effect.gen(function*() {
      const campaign = yield* campaignOfEleven
      const risk = yield* ReportData.privateRepliesAtRisk(campaign, {
        now,
        window: Duration.days(7),
        after: Duration.days(5),
        limit: 1
      })
      assert.strictEqual(risk.count, 2)
      assert.strictEqual(risk.pastDeadline, 1)
      assert.deepStrictEqual(
        risk.people.map((person) => [person.userId, person.username, person.deadline.toISOString()]),
        [
          [candidate(campaign, 5).userId, "person5", new Date(now.getTime() + day).toISOString()]
        ]
      )
    }))

  it.effect("forecasts the pending comments that the pace reaches after their deadline, oldest comment first", () =>
    Effect.gen(function*() {
      const campaign = yield* campaignOfEleven
      // Pending with a comment time, oldest first: 8 days (past the deadline), 6 days (due in 30 minutes, second in
      // line), 5.5 days (due in 12.5 hours, third), 1 day; the one without a comment time is not counted.
      const forecast = (perHour: number) =>
        ReportData.deadlineForecast(campaign, { now, window: Duration.minutes(6 * 24 * 60 + 30), perHour })
      assert.deepStrictEqual(yield* forecast(1), { pending: 4, wouldMiss: 1, alreadyExpired: 1 })
      // At 2 an hour the second in line is sent exactly at its deadline, which is still within it.
      assert.deepStrictEqual(yield* forecast(2), { pending: 4, wouldMiss: 0, alreadyExpired: 1 })
      assert.deepStrictEqual(
        yield* ReportData.deadlineForecast(campaign, { now, window: Duration.days(7), perHour: 1 }),
        { pending: 4, wouldMiss: 0, alreadyExpired: 1 }
      )
    }))

  it.effect("counts the people and the sent of each keyword, and the sent of each variant as Template.pick picks", () =>
    Effect.gen(function*() {
      const campaign = yield* campaignOfEleven
      assert.deepStrictEqual(yield* ReportData.keywords(campaign), [
        { keyword: "guide", matched: 7, sent: 3 },
        { keyword: "link", matched: 4, sent: 0 }
      ])
      const variants = ["a", "b", "c"] as const
      const split = yield* ReportData.variantSplit(campaign, "first_message", variants)
      const expected = variants.map((variant) =>
        [0, 1, 2].filter((index) => Template.pick(variants, campaign, candidate(campaign, index).userId) === variant)
          .length
      )
      assert.deepStrictEqual(split.map((v) => [v.variant, v.sent]), variants.map((v, i) => [v, expected[i]]))
      assert.strictEqual(split.reduce((sum, v) => sum + v.sent, 0), 3)
    }))

  it.effect("the dashboard's reads: the campaigns, a mark that changes with a write, people in doubt, heartbeats", () =>
    Effect.gen(function*() {
      const campaign = yield* campaignOfEleven
      const listed = (yield* ReportData.campaigns).find((c) => c.name === campaign)
      assert.deepStrictEqual(listed, { name: campaign, platform, profile: campaign, spec: undefined })
      const before = yield* ReportData.lastChange(campaign)
      assert.strictEqual(yield* ReportData.lastChange(campaign), before)
      yield* TestClock.adjust("1 minute")
      yield* settled(key(campaign, 7), Settlement.Refused({ reason: "later" }), "dm")
      assert.notStrictEqual(yield* ReportData.lastChange(campaign), before)
      assert.deepStrictEqual((yield* ReportData.inDoubt(campaign, 5)).map((p) => p.userId), [
        candidate(campaign, 8).userId
      ])
      const beat: Heartbeat.Heartbeat = {
        campaign,
        runner: "host/1/abc",
        platform,
        profile: campaign,
        kind: "watch",
        beatAt: new Date(1_000),
        everyMillis: 60_000,
        lastPollAt: undefined,
        nextPollMillis: 120_000,
        pausedUntil: new Date(2_000),
        lastError: "rate limited",
        lastErrorAt: new Date(1_500)
      }
      yield* Heartbeat.write(beat)
      yield* Heartbeat.write({ ...beat, beatAt: new Date(3_000), lastError: undefined, lastErrorAt: undefined })
      assert.deepStrictEqual((yield* Heartbeat.list).filter((b) => b.campaign === campaign), [
        { ...beat, beatAt: new Date(3_000), lastError: undefined, lastErrorAt: undefined }
      ])
      assert.isTrue(Heartbeat.isSlowed(beat))
    }))
}

const sqlite = SqlLedger.layer.pipe(Layer.provideMerge(SqliteLedger.layerClientMemory()))

describe("ReportData on SQLite", () => {
  it.layer(sqlite)((it) => contract(it))
})

class ServerUrl extends Context.Tag("ServerUrl")<ServerUrl, string>() {}

const { install, reason } = findPostgres()

describe.skipIf(install === undefined)(
  `ReportData on PostgreSQL${reason === undefined ? "" : ` (skipped: ${reason})`}`,
  () => {
    const server = Layer.scoped(
      ServerUrl,
      Effect.acquireRelease(Effect.promise(startPostgres), (started) => Effect.promise(started.stop)).pipe(
        Effect.map((started) => started.url)
      )
    )
    layer(server, { timeout: "60 seconds" })((it) => {
      it.layer(
        Layer.unwrapEffect(
          Effect.map(ServerUrl, (url) => SqlLedger.layer.pipe(Layer.provideMerge(PgLedger.layerClient({ url }))))
        )
      )((it) => contract(it))
    })
  }
)
