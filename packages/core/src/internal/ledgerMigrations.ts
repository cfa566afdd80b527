import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

/**
 * Portable DDL: TEXT ids, epoch-millisecond BIGINT timestamps, CHECK constraints and plain indexes read the same on
 * SQLite and PostgreSQL.
 */
const createLedger = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE campaigns (
    name TEXT PRIMARY KEY NOT NULL,
    platform TEXT NOT NULL,
    profile_user TEXT NOT NULL,
    posts TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
  yield* sql`CREATE TABLE recipients (
    campaign TEXT NOT NULL,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    username TEXT,
    post_id TEXT NOT NULL,
    comment_id TEXT NOT NULL,
    comment_text TEXT NOT NULL,
    comment_time BIGINT,
    keyword TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'sent', 'refused', 'in_doubt')),
    reason TEXT,
    message TEXT,
    message_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_at BIGINT,
    claimed_by TEXT,
    lease_until BIGINT,
    settled_at BIGINT,
    first_seen_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (campaign, platform, user_id)
  )`
  // Serves counts, recovery and the pending scan, which pages in first-seen order within a state. State comes first
  // so that SQLite's planner, without statistics, never prefers it to the primary key for batched state lookups.
  yield* sql`CREATE INDEX recipients_state_campaign ON recipients (state, campaign, first_seen_at, platform, user_id)`
  // Serves the export, which pages over every row in first-seen order.
  yield* sql`CREATE INDEX recipients_campaign_first_seen ON recipients (campaign, first_seen_at, platform, user_id)`
  // Shared per-profile sending budgets, so that several runners and campaigns of one profile respect one daily cap.
  yield* sql`CREATE TABLE profile_budget (
    profile TEXT NOT NULL,
    platform TEXT NOT NULL,
    day TEXT NOT NULL,
    sent_count INTEGER NOT NULL DEFAULT 0,
    window_start BIGINT,
    window_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (profile, platform, day)
  )`
})

/**
 * The send pace shared by the runners of a profile: one row per (profile, platform) holding the next free send slot
 * (epoch milliseconds), and, per day of `profile_budget`, when the platform said the daily DM limit was reached.
 */
const createProfilePace = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE profile_pace (
    profile TEXT NOT NULL,
    platform TEXT NOT NULL,
    next_slot BIGINT NOT NULL,
    PRIMARY KEY (profile, platform)
  )`
  yield* sql`ALTER TABLE profile_budget ADD COLUMN limit_reached_at BIGINT`
})

/**
 * Per campaign and post, the ids of the newest comments of the last read that reached the post's end (a JSON array,
 * newest first), so that a resume reads only the pages above them.
 */
const createPostReads = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE post_reads (
    campaign TEXT NOT NULL,
    post TEXT NOT NULL,
    newest_ids TEXT NOT NULL,
    match_key TEXT NOT NULL,
    read_at BIGINT NOT NULL,
    PRIMARY KEY (campaign, post)
  )`
})

/**
 * Matching people the database refused to record (their row failed to insert), with its reason, so that `status`
 * counts them as unaccounted instead of not knowing of them. A person recorded later is in `recipients` too and is
 * then no longer counted here.
 */
const createUnrecorded = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE unrecorded (
    campaign TEXT NOT NULL,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    username TEXT,
    reason TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (campaign, platform, user_id)
  )`
})

/** Per campaign, how many conversations the last conversations answer that reconciliation read held, and when. */
const createConversationReads = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE conversation_reads (
    campaign TEXT PRIMARY KEY NOT NULL,
    conversations INTEGER NOT NULL,
    read_at BIGINT NOT NULL
  )`
})

/** The ledger's migrations, for `Migrator.fromRecord`, `SqliteMigrator` and `PgMigrator`. */
export const migrations: Record<string, Effect.Effect<void, SqlError, SqlClient.SqlClient>> = {
  "0001_create_ledger": createLedger,
  "0002_create_profile_pace": createProfilePace,
  "0003_create_post_reads": createPostReads,
  "0004_create_unrecorded": createUnrecorded,
  "0005_create_conversation_reads": createConversationReads
}

export const loader: Migrator.Loader = Migrator.fromRecord(migrations)

export const migrationsTable = "comment_dm_migrations"

const latestMigrationId = Math.max(...Object.keys(migrations).map((name) => Number.parseInt(name, 10)))

/** Another process is applying the migrations and has not committed yet. */
class MigrationsInProgress extends Data.TaggedError("MigrationsInProgress")<{ readonly latest: number }> {
  override get message(): string {
    return `another process is creating the ledger tables (migration ${this.latest} of ${latestMigrationId} applied)`
  }
}

/**
 * A newer comment-dm has migrated the ledger beyond what this one knows: using it could misread its rows or break
 * what the newer version relies on, so this version refuses it (hosts are often upgraded one at a time).
 */
export class LedgerSchemaTooNew extends Data.TaggedError("LedgerSchemaTooNew")<{ readonly latest: number }> {
  override get message(): string {
    return `the ledger's schema is version ${this.latest}, newer than version ${latestMigrationId}, the newest this ` +
      "comment-dm knows: a newer comment-dm has upgraded it; upgrade comment-dm here too before using this ledger"
  }
}

const LatestRow = Schema.Array(Schema.Struct({
  latest: Schema.NullOr(Schema.Union(Schema.Number, Schema.NumberFromString))
}))

/**
 * Applies the migrations with the dialect-neutral migrator and waits until they are committed.
 *
 * Fails on a ledger that a newer version has migrated further (the migrator alone would use it silently).
 *
 * When two processes open a fresh SQLite file at once, the loser of the race skips the migrations as "already
 * running" while the winner's transaction is still open, so it checks the recorded migrations before going on.
 */
export const migrate: Effect.Effect<
  void,
  Migrator.MigrationError | SqlError | ParseResult.ParseError | MigrationsInProgress | LedgerSchemaTooNew,
  SqlClient.SqlClient
> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* Migrator.make({})({ loader, table: migrationsTable })
  const rows = yield* sql`SELECT MAX(migration_id) AS latest FROM ${sql(migrationsTable)}`.withoutTransform.pipe(
    Effect.flatMap(Schema.decodeUnknown(LatestRow))
  )
  const latest = rows[0]?.latest ?? 0
  if (latest > latestMigrationId) return yield* new LedgerSchemaTooNew({ latest })
  if (latest < latestMigrationId) return yield* new MigrationsInProgress({ latest })
}).pipe(
  Effect.retry({
    while: (error) => error._tag === "MigrationsInProgress",
    schedule: Schedule.spaced("25 millis").pipe(Schedule.upTo("10 seconds"))
  })
)
