/**
 * Schema v2 upgrades a ledger of schema v1: the committed v1 fixture (people in every v1 state, read marks, the
 * profile's budget and pace, an unrecorded person, a conversations read) is migrated on SQLite and on PostgreSQL,
 * and everyone keeps what v1 recorded, and the ledger goes on from there.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { Chunk, Context, Effect, Layer, Option, Redacted, Schema, Stream, TestClock } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Ledger, noCounts, Settlement } from "../src/Ledger.js"
import * as PgLedger from "../src/PgLedger.js"
import * as SharedPacer from "../src/SharedPacer.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as SqlLedger from "../src/SqlLedger.js"
import { claimBy, tempDirectory } from "./support/ledgerSuite.js"
import { findPostgres, startPostgres } from "./support/postgres.js"
import { applyV1, type V1Row, v1Rows, v1SqliteFile } from "./support/v1Ledger.js"

const campaign = "spring-guide"
const v1Tables = [
  "campaigns",
  "recipients",
  "profile_budget",
  "profile_pace",
  "post_reads",
  "unrecorded",
  "conversation_reads"
]
const v2Tables = [
  ...v1Tables.map((table) => `comment_dm_${table}`),
  "comment_dm_comment_replies",
  "comment_dm_suppressions",
  "comment_dm_forgotten",
  "comment_dm_campaign_versions"
]
/** The fixture's "now" (see its make.ts), and the day of its budget rows. */
const fixtureTime = Date.UTC(2026, 10, 20, 10, 1, 0)

const Count = Schema.Struct({ n: Schema.Union(Schema.Number, Schema.NumberFromString) })

const rowCount = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`SELECT COUNT(*) AS n FROM ${table}`)).pipe(
    Effect.flatMap(Schema.decodeUnknown(Schema.Array(Count))),
    Effect.map((rows) => rows[0]?.n ?? -1)
  )

const v1Counts = (rows: ReadonlyArray<V1Row>, name: string) => {
  const counts = noCounts()
  for (const row of rows) if (row.campaign === name) counts[row.state]++
  return counts
}

/** What every test checks after the upgrade, on either database. */
const checkUpgrade = (before: ReadonlyArray<V1Row>) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const sql = yield* SqlClient.SqlClient
    assert.sameMembers([...new Set(before.map((row) => row.state))], [
      "pending",
      "claimed",
      "sent",
      "refused",
      "in_doubt"
    ], "the fixture has people in every v1 state")

    // Everyone kept what v1 recorded, as the first message, its path unknown (v1 did not record it).
    for (const name of ["spring-guide", "autumn-guide"]) {
      const after = Chunk.toArray(yield* Stream.runCollect(ledger.entries(name)))
      const expected = before.filter((row) => row.campaign === name)
      assert.strictEqual(after.length, expected.length, name)
      for (const row of expected) {
        const entry = after.find((entry) => entry.userId === row.user_id)
        assert.isDefined(entry, row.user_id)
        assert.deepStrictEqual(
          [
            entry!.step,
            entry!.path,
            entry!.state,
            entry!.reason ?? null,
            entry!.message ?? null,
            entry!.messageId ?? null,
            entry!.attempts,
            entry!.claimedBy ?? null,
            entry!.claimedAt?.getTime() ?? null,
            entry!.leaseUntil?.getTime() ?? null,
            entry!.settledAt?.getTime() ?? null,
            entry!.username ?? null,
            entry!.commentId,
            entry!.commentText,
            entry!.commentTime?.getTime() ?? null,
            entry!.keyword ?? null,
            entry!.firstSeenAt.getTime(),
            entry!.campaignVersion
          ],
          [
            "first_message",
            undefined,
            row.state,
            row.reason,
            row.message,
            row.message_id,
            row.attempts,
            row.claimed_by,
            row.claimed_at,
            row.lease_until,
            row.settled_at,
            row.username,
            row.comment_id,
            row.comment_text,
            row.comment_time,
            row.keyword,
            row.first_seen_at,
            undefined
          ],
          `${name}/${row.user_id}`
        )
      }
      assert.deepStrictEqual(yield* ledger.counts(name, "first_message"), v1Counts(before, name), name)
      assert.deepStrictEqual(yield* ledger.counts(name, "public_reply"), noCounts())
    }

    // The rest of v1's records.
    const mark = Option.getOrUndefined(yield* ledger.readMark(campaign, "17900000000000001"))
    assert.deepStrictEqual([mark?.newestIds, mark?.matchKey], [
      ["18000000000000009", "18000000000000008", "18000000000000007"],
      "v1-fixture"
    ])
    assert.deepStrictEqual((yield* ledger.unrecorded(campaign)).map((person) => person.userId), ["v1-ivy"])
    assert.deepStrictEqual(
      Option.map(yield* ledger.conversationsRead(campaign), (read) => read.conversations),
      Option.some(3)
    )
    yield* TestClock.setTime(fixtureTime)
    const pacer = yield* SharedPacer.make({ profile: "demo", platform: "instagram", count: 200 })
    assert.strictEqual(yield* pacer.sentToday, 3)
    assert.deepStrictEqual(yield* pacer.limitReachedAt, new Date(Date.UTC(2026, 10, 20, 10, 1)))
    // The next slot follows v1's reservation: the pace row came along.
    assert.strictEqual(yield* pacer.reserve, Date.UTC(2026, 10, 20, 10, 1, 18))

    // Every table has its new name, the new ones exist (empty), and the v1 names are free for an application.
    for (const table of v2Tables) assert.isAtLeast(yield* rowCount(table), 0, table)
    for (const table of ["comment_dm_suppressions", "comment_dm_forgotten", "comment_dm_campaign_versions"]) {
      assert.strictEqual(yield* rowCount(table), 0, table)
    }
    for (const table of v1Tables) yield* sql.unsafe(`CREATE TABLE ${table} (id TEXT PRIMARY KEY, note TEXT)`)
    // Every migration applied: v2's and those after it.
    assert.strictEqual(yield* rowCount("comment_dm_migrations"), Object.keys(SqlLedger.migrations).length)

    // And it goes on: the dead runner's claim is recovered, the pending are claimed, the sent and refused are not.
    yield* TestClock.adjust("1 hour")
    assert.strictEqual(yield* ledger.recoverClaims(campaign), 1)
    const states = yield* ledger.states(campaign, "instagram", "first_message", ["v1-hal", "v1-dora", "v1-ben"])
    assert.deepStrictEqual([...states].sort(), [["v1-ben", "sent"], ["v1-dora", "pending"], ["v1-hal", "in_doubt"]])
    const key = (userId: string) => ({ campaign, platform: "instagram", userId, step: "first_message" as const })
    for (const person of ["v1-dora", "v1-emil"]) assert.isTrue(yield* ledger.claim(key(person), claimBy("runner-v2")))
    for (const person of ["v1-anna", "v1-ben", "v1-carl", "v1-fay", "v1-hal"]) {
      assert.isFalse(yield* ledger.claim(key(person), claimBy("runner-v2")), person)
    }
    assert.isTrue(
      yield* ledger.settle(key("v1-dora"), "runner-v2", Settlement.Sent({ messageId: "m", at: new Date() }))
    )
    assert.isTrue(yield* ledger.resolveInDoubt(key("v1-fay"), Settlement.Sent({ messageId: "f", at: new Date() })))
    // A later step of a v1 person is a row of its own.
    assert.strictEqual(
      yield* ledger.discover([{
        campaign,
        platform: "instagram",
        userId: "v1-anna",
        step: "public_reply",
        username: "anna",
        postId: "17900000000000001",
        commentId: "18000000000000001",
        commentText: undefined,
        commentTime: undefined,
        keyword: undefined
      }]),
      1
    )
    assert.strictEqual((yield* ledger.counts(campaign, "public_reply")).pending, 1)
    assert.strictEqual((yield* ledger.counts(campaign, "first_message")).sent, 4)
  })

describe("schema v1 -> v2 on SQLite", () => {
  it.scoped("the committed v1 ledger file upgrades in place and keeps everyone's record", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const filename = Path.join(directory, "ledger.sqlite")
      Fs.copyFileSync(v1SqliteFile, filename)
      const before = yield* v1Rows.pipe(Effect.provide(SqliteClient.layer({ filename })))
      assert.strictEqual(before.length, 9)
      yield* checkUpgrade(before).pipe(
        Effect.provide(Layer.provideMerge(SqlLedger.layer, SqliteLedger.layerClient({ filename })))
      )
    }))

  it.scoped("the v1 rows applied after the v1 migrations upgrade the same way", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const filename = Path.join(directory, "ledger.sqlite")
      const before = yield* Effect.zipRight(applyV1, v1Rows).pipe(Effect.provide(SqliteClient.layer({ filename })))
      yield* checkUpgrade(before).pipe(
        Effect.provide(Layer.provideMerge(SqlLedger.layer, SqliteLedger.layerClient({ filename })))
      )
    }))
})

class ServerUrl extends Context.Tag("ServerUrl")<ServerUrl, string>() {}

const server = Layer.scoped(
  ServerUrl,
  Effect.acquireRelease(Effect.promise(startPostgres), (started) => Effect.promise(started.stop)).pipe(
    Effect.map((started) => started.url)
  )
)

const { install, reason } = findPostgres()

describe.skipIf(install === undefined)(
  `schema v1 -> v2 on PostgreSQL${reason === undefined ? "" : ` (${reason})`}`,
  () => {
    layer(server, { timeout: "60 seconds" })((it) => {
      it.scoped("the v1 rows applied after the v1 migrations upgrade and keep everyone's record", () =>
        Effect.gen(function*() {
          const url = new URL(yield* ServerUrl)
          const admin = Context.get(
            yield* Layer.build(PgClient.layer({ url: Redacted.make(url.toString()) })),
            SqlClient.SqlClient
          )
          const name = `upgrade_${crypto.randomUUID().replaceAll("-", "")}`
          yield* admin.unsafe(`CREATE DATABASE ${name}`)
          url.pathname = `/${name}`
          const v1Client = Context.get(
            yield* Layer.build(PgClient.layer({ url: Redacted.make(url.toString()) })),
            SqlClient.SqlClient
          )
          const before = yield* Effect.zipRight(applyV1, v1Rows).pipe(
            Effect.provideService(SqlClient.SqlClient, v1Client)
          )
          yield* checkUpgrade(before).pipe(
            Effect.provide(Layer.provideMerge(SqlLedger.layer, PgLedger.layerClient({ url: url.toString() })))
          )
        }))
    })
  }
)
