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

/** The tables of schema v1, which schema v2 renames with the `comment_dm_` prefix. */
const v1Tables = ["campaigns", "profile_budget", "profile_pace", "post_reads", "unrecorded", "conversation_reads"]

/** Every v1 table gets the prefix (on PostgreSQL its primary key's constraint and index too). */
const prefixV1Tables = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (const table of v1Tables) {
    yield* sql.unsafe(`ALTER TABLE ${table} RENAME TO comment_dm_${table}`)
    yield* sql.onDialectOrElse({
      pg: () =>
        sql.unsafe(`ALTER TABLE comment_dm_${table} RENAME CONSTRAINT ${table}_pkey TO comment_dm_${table}_pkey`),
      orElse: () => Effect.void
    })
  }
})

/**
 * The recipients, rebuilt with the step in the key (SQLite cannot change a primary key). A v1 row is a first message
 * whose path v1 did not record: it stays unknown (NULL) until the row is claimed again.
 */
const rebuildRecipients = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE comment_dm_recipients (
    campaign TEXT NOT NULL,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    step TEXT NOT NULL CHECK (step IN ('first_message', 'follow_up', 'public_reply')),
    path TEXT CHECK (path IS NULL OR (step = 'first_message' AND path IN ('dm', 'private_reply'))),
    username TEXT,
    post_id TEXT NOT NULL,
    comment_id TEXT NOT NULL,
    comment_text TEXT,
    comment_time BIGINT,
    keyword TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'claimed', 'sent', 'refused', 'skipped', 'expired', 'in_doubt',
      'suppressed', 'awaiting_reply', 'no_reply', 'unconfirmed')),
    reason TEXT,
    message TEXT,
    message_id TEXT,
    campaign_version INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_at BIGINT,
    claimed_by TEXT,
    lease_until BIGINT,
    settled_at BIGINT,
    first_seen_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (campaign, platform, user_id, step)
  )`
  yield* sql`INSERT INTO comment_dm_recipients (campaign, platform, user_id, step, path, username, post_id, comment_id,
      comment_text, comment_time, keyword, state, reason, message, message_id, attempts, claimed_at, claimed_by,
      lease_until, settled_at, first_seen_at, updated_at)
    SELECT campaign, platform, user_id, 'first_message', NULL, username, post_id, comment_id, comment_text, comment_time,
      keyword, state, reason, message, message_id, attempts, claimed_at, claimed_by, lease_until, settled_at,
      first_seen_at, updated_at
    FROM recipients`
  yield* sql`DROP TABLE recipients`
  // As in v1, with the step: counts, recovery and the pending scan of a step; state first for SQLite's planner.
  yield* sql`CREATE INDEX comment_dm_recipients_state_campaign
    ON comment_dm_recipients (state, campaign, step, first_seen_at, platform, user_id)`
  // The export, which pages over every row in first-seen order.
  yield* sql`CREATE INDEX comment_dm_recipients_campaign_first_seen
    ON comment_dm_recipients (campaign, first_seen_at, platform, user_id, step)`
})

/** The tables v1 did not have: comment replies taken, the suppression list, forgotten people, campaign versions. */
const createV2Tables = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // Who took a comment's one private (or public) reply of the profile: a claim inserts it, the owner's claims find it.
  yield* sql`CREATE TABLE comment_dm_comment_replies (
    platform TEXT NOT NULL,
    profile TEXT NOT NULL,
    comment_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('private_reply', 'public_reply')),
    campaign TEXT NOT NULL,
    user_id TEXT NOT NULL,
    step TEXT NOT NULL,
    taken_at BIGINT NOT NULL,
    PRIMARY KEY (platform, profile, comment_id, kind)
  )`
  // The profile's suppression list: people who opted out (a DM, a comment) or were added by hand or import. A person
  // may be known by id, by username, or both.
  yield* sql`CREATE TABLE comment_dm_suppressions (
    platform TEXT NOT NULL,
    profile TEXT NOT NULL,
    user_id TEXT,
    username TEXT,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (user_id IS NOT NULL OR username IS NOT NULL)
  )`
  yield* sql`CREATE UNIQUE INDEX comment_dm_suppressions_user ON comment_dm_suppressions (platform, profile, user_id)`
  yield* sql`CREATE INDEX comment_dm_suppressions_username ON comment_dm_suppressions (platform, profile, username)`
  // Forgotten people: only a hash of their id, so that a forgotten person is not recorded again.
  yield* sql`CREATE TABLE comment_dm_forgotten (
    platform TEXT NOT NULL,
    profile TEXT NOT NULL,
    user_hash TEXT NOT NULL,
    forgotten_at BIGINT NOT NULL,
    PRIMARY KEY (platform, profile, user_hash)
  )`
  // Each version of a campaign file the ledger ran, as JSON with its fingerprint; a row names the one it was claimed
  // under (the claimed text itself is in its message).
  yield* sql`CREATE TABLE comment_dm_campaign_versions (
    campaign TEXT NOT NULL,
    version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    spec TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (campaign, version)
  )`
  yield* sql`CREATE INDEX comment_dm_campaign_versions_fingerprint ON comment_dm_campaign_versions (campaign, fingerprint)`
})

/**
 * Schema v2, in one step, so that the steps after the first message, the suppression list, `forget` and campaign
 * versions need no schema of their own:
 * - every table gets the `comment_dm_` prefix, so that an embedding application can have its own `campaigns`
 *   (on PostgreSQL the primary keys' constraint and index names too, which share the tables' namespace);
 * - a person has a row per step: the step joins the recipients' primary key; the rows of v1 are first messages
 *   whose path (DM or private reply) is unknown, since v1 did not record it, with no campaign version;
 * - the comment text may be absent (a person forgotten, or a step that has no comment of its own);
 * - `comment_dm_comment_replies` holds one row per (platform, profile, comment, reply kind): the first private reply
 *   and the first public reply to a comment take it in the claim's transaction, so that no comment gets two of either
 *   from the profile, whichever campaign asks;
 * - the suppression list, the tombstones of forgotten people and the campaign versions get tables.
 * The recipients table is rebuilt (SQLite cannot change a primary key); the others are renamed.
 */
const schemaV2 = Effect.all([prefixV1Tables, rebuildRecipients, createV2Tables], { discard: true })

/**
 * Whether a campaign's templates use `{{comment}}` (1) or not (0), so that settling a person drops their comment text
 * when nothing renders it; NULL until a run tells it (a campaign never told keeps the texts).
 */
const addCommentTextRetention = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE comment_dm_campaigns ADD COLUMN keeps_comment_text INTEGER`
})

/**
 * How many comments of a post the campaign has read, all reads together, kept with the post's read mark for the
 * report's funnel; NULL for a mark written before it was counted.
 */
const addCommentsRead = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE comment_dm_post_reads ADD COLUMN comments BIGINT`
})

/**
 * The ledger's own secrets by name: `forget_salt`, the salt of the tombstones' hashes (comment_dm_forgotten), made by
 * the first `forget` and kept with the ledger, so that a hash names nobody without it.
 */
const createLedgerSecrets = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE comment_dm_ledger_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
  )`
})

/**
 * The heartbeats of the processes that follow a campaign (`watch`): one row per campaign and runner, rewritten every
 * few seconds with its health, for the dashboard. An index for the dashboard's "has anything changed" question, so that
 * it recomputes a campaign's figures only when a row of it was written.
 */
const createHeartbeats = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE comment_dm_heartbeats (
    campaign TEXT NOT NULL,
    runner TEXT NOT NULL,
    platform TEXT NOT NULL,
    profile TEXT NOT NULL,
    kind TEXT NOT NULL,
    beat_at BIGINT NOT NULL,
    every_ms BIGINT NOT NULL,
    last_poll_at BIGINT,
    next_poll_ms BIGINT,
    paused_until BIGINT,
    last_error TEXT,
    last_error_at BIGINT,
    PRIMARY KEY (campaign, runner)
  )`
  yield* sql`CREATE INDEX comment_dm_recipients_campaign_updated ON comment_dm_recipients (campaign, updated_at)`
})

/**
 * The request budget of each API key (see `RequestBudget`), shared by the processes on the ledger: the requests taken
 * per second (epoch seconds) and profile (`''`: what the API counted beyond ours), and a hold after a request-rate
 * 429. A key is named by a digest, never by itself.
 */
const createRequestBudget = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE comment_dm_request_log (
    key_digest TEXT NOT NULL,
    profile TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    weight BIGINT NOT NULL,
    PRIMARY KEY (key_digest, profile, bucket)
  )`
  yield* sql`CREATE INDEX comment_dm_request_log_key_bucket ON comment_dm_request_log (key_digest, bucket)`
  yield* sql`CREATE TABLE comment_dm_request_keys (
    key_digest TEXT PRIMARY KEY NOT NULL,
    held_until BIGINT NOT NULL
  )`
})

/**
 * Post leases (`PostLeases`): which `serve` process reads which post of a campaign, and the processes that share a
 * campaign's posts, each row held until `lease_until` unless renewed. Created on SQLite too, where nothing uses them
 * yet, so that both dialects keep one migration history.
 */
const createPostLeases = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE comment_dm_post_leases (
    campaign TEXT NOT NULL,
    post_id TEXT NOT NULL,
    holder TEXT,
    lease_until BIGINT NOT NULL,
    PRIMARY KEY (campaign, post_id)
  )`
  yield* sql`CREATE TABLE comment_dm_post_holders (
    campaign TEXT NOT NULL,
    holder TEXT NOT NULL,
    lease_until BIGINT NOT NULL,
    PRIMARY KEY (campaign, holder)
  )`
})

/** The ledger's migrations, for `Migrator.fromRecord`, `SqliteMigrator` and `PgMigrator`. */
export const migrations: Record<string, Effect.Effect<void, SqlError, SqlClient.SqlClient>> = {
  "0001_create_ledger": createLedger,
  "0002_create_profile_pace": createProfilePace,
  "0003_create_post_reads": createPostReads,
  "0004_create_unrecorded": createUnrecorded,
  "0005_create_conversation_reads": createConversationReads,
  "0006_schema_v2": schemaV2,
  "0007_comment_text_retention": addCommentTextRetention,
  "0008_report_comments_read": addCommentsRead,
  "0009_forget_salt": createLedgerSecrets,
  "0010_dashboard_heartbeats": createHeartbeats,
  "0011_request_budget": createRequestBudget,
  "0012_post_leases": createPostLeases
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
  yield* Migrator.make({})({ loader, table: migrationsTable }).pipe(
    // The migrator dies when a migration fails: a ledger that cannot be migrated is an error to report, with its cause.
    Effect.catchAllDefect((defect) =>
      defect instanceof Migrator.MigrationError ? Effect.fail(defect) : Effect.die(defect)
    )
  )
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
