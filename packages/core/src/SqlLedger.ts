/**
 * The ledger over an `@effect/sql` client, in SQL that runs unchanged on SQLite (3.35+) and PostgreSQL.
 *
 * Claims and settlements are single guarded UPDATE statements on the primary key, so the database decides who wins
 * a claim even when several processes share it; `states` and `discover` work in batches so that a run with a
 * hundred thousand matching commenters costs a few hundred statements.
 *
 * Claims, confirmations and settlements are group-committed: those that arrive while a transaction is being
 * committed wait for the next one and are committed together, each still a guarded statement of its own. Every caller
 * waits for the commit that holds its statement before it goes on, so a claim is as durable before its request as if
 * it were committed alone; a durable SQLite ledger pays one sync to disk per group instead of one per statement, and
 * waits for it off the event loop (see {@link CommitSync}). The grouping is `internal/groupCommit.ts`'s; this module
 * holds the statements.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Arr from "effect/Array"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as GroupCommit from "./internal/groupCommit.js"
import * as internalMigrations from "./internal/ledgerMigrations.js"
import {
  candidateRow,
  decodeCampaignVersions,
  decodeCampaignVersionSpecs,
  decodeClaimHolders,
  decodeConversationReads,
  decodeCounts,
  decodeEntries,
  decodeKeepsCommentText,
  decodeReadMarks,
  decodeStates,
  decodeTally,
  decodeUnrecorded
} from "./internal/ledgerRow.js"
import { storable } from "./internal/storable.js"
import * as Tombstone from "./internal/tombstone.js"
import type {
  Counts,
  MessagePath,
  RecipientKey,
  Reopening,
  Service,
  SkipReason,
  StepKind,
  Unrecorded
} from "./Ledger.js"
import { DeliveryState, Ledger, LedgerError, noCounts, reopenableReasons, Settlement } from "./Ledger.js"
import * as Suppression from "./Suppression.js"

export interface Options {
  /** Rows per page when streaming entries. Default 500. */
  readonly pageSize?: number | undefined
  /** People per statement in `states` and `discover`. Default 500, well under both dialects' parameter limits. */
  readonly batchSize?: number | undefined
}

/**
 * How the database client makes a commit durable when the database does not do it on every commit itself: the
 * ledger runs it after each group commit and before it answers any caller of the group. `SqliteLedger` provides it
 * for a file (SQLite then commits with `synchronous = NORMAL` and the WAL file is synced off the event loop); without
 * it, commits are taken as durable when they return (PostgreSQL, or a SQLite client with `synchronous = FULL`).
 */
export class CommitSync extends Context.Tag("@comment-dm/core/SqlLedger/CommitSync")<
  CommitSync,
  Effect.Effect<void, SqlError>
>() {}

/** The ledger's migrations, for `Migrator.fromRecord`, `SqliteMigrator` or `PgMigrator`. */
export const migrations = internalMigrations.migrations

/** A migrator loader over {@link migrations}. */
export const loader = internalMigrations.loader

/** The table that records applied ledger migrations. */
export const migrationsTable = internalMigrations.migrationsTable

/** Creates or upgrades the ledger tables, waiting for another process that is doing the same. */
export const migrate: Effect.Effect<void, LedgerError, SqlClient.SqlClient> = internalMigrations.migrate.pipe(
  Effect.mapError((cause) => new LedgerError({ operation: "create or upgrade the ledger tables", cause }))
)

const describeKey = (key: RecipientKey): string => `${key.campaign}/${key.platform}/${key.userId}/${key.step}`

const failWith = (operation: string) =>
  Effect.mapError((cause: SqlError | ParseResult.ParseError) => new LedgerError({ operation, cause }))

/** A lease in milliseconds; an infinite lease never expires. */
const leaseMillis = (lease: Duration.DurationInput): number => {
  const millis = Duration.toMillis(lease)
  return Number.isFinite(millis) ? millis : Number.MAX_SAFE_INTEGER
}

/** The replies of which a comment gets at most one from a profile. */
type ReplyKind = "private_reply" | "public_reply"

/** Which reply a claim of the step makes, if it makes one. */
const replyKind = (step: StepKind, path: MessagePath | undefined): ReplyKind | undefined =>
  step === "public_reply" ? "public_reply" : step === "first_message" && path === "private_reply" ? path : undefined

/** Where a page of entries ends: entries are ordered by (first_seen_at, platform, user_id, step). */
interface Cursor {
  readonly firstSeenAt: number
  readonly platform: string
  readonly userId: string
  readonly step: string
}

/** What every operation runs on. */
interface Db {
  /** Without name transforms: column names are written as stored. */
  readonly sql: SqlClient.SqlClient
  /** Claims, confirmations and settlements go through it. */
  readonly commit: GroupCommit.GroupCommit
  readonly pageSize: number
  readonly batchSize: number
  /** The ledger's tombstone salt, once read. */
  salt?: string | undefined
}

type Operation<K extends keyof Service> = (db: Db) => Service[K]

/** Rows are written in key order within a group, so two groups of two processes never wait for each other's rows. */
const orderOf = (key: RecipientKey): ReadonlyArray<string> => [key.campaign, key.platform, key.userId, key.step]

// User ids come from the platform: they are matched as `discover` stored them (see `storable`).
const whereKey = (sql: SqlClient.SqlClient, key: RecipientKey) =>
  sql`campaign = ${key.campaign} AND platform = ${key.platform} AND user_id = ${
    storable(key.userId)
  } AND step = ${key.step}`

/** Takes the comment's reply key of the campaign's profile for the person's row, if nobody holds it. */
const takeReplyKey = (sql: SqlClient.SqlClient, key: RecipientKey, kind: ReplyKind, now: number, from: DeliveryState) =>
  sql`INSERT INTO comment_dm_comment_replies (platform, profile, comment_id, kind, campaign, user_id, step, taken_at)
    SELECT r.platform, c.profile_user, r.comment_id, ${kind}, r.campaign, r.user_id, r.step, ${now}
    FROM comment_dm_recipients r JOIN comment_dm_campaigns c ON c.name = r.campaign
    WHERE r.campaign = ${key.campaign} AND r.platform = ${key.platform} AND r.user_id = ${storable(key.userId)}
      AND r.step = ${key.step} AND r.state = ${from}
    ON CONFLICT (platform, profile, comment_id, kind) DO NOTHING`

/** Within an UPDATE of the row: the row holds its comment's reply key. */
const holdsReplyKey = (sql: SqlClient.SqlClient, kind: ReplyKind) =>
  sql`EXISTS (SELECT 1 FROM comment_dm_comment_replies k WHERE k.kind = ${kind}
    AND k.campaign = comment_dm_recipients.campaign AND k.platform = comment_dm_recipients.platform
    AND k.user_id = comment_dm_recipients.user_id AND k.step = comment_dm_recipients.step
    AND k.comment_id = comment_dm_recipients.comment_id)`

/**
 * Within an UPDATE that settles a row: its comment text goes, unless the campaign renders `{{comment}}` or never told
 * (see `CampaignInfo.keepsCommentText`).
 */
const dropCommentText = (sql: SqlClient.SqlClient) =>
  sql`comment_text = CASE WHEN EXISTS (SELECT 1 FROM comment_dm_campaigns c
    WHERE c.name = comment_dm_recipients.campaign AND c.keeps_comment_text = 0) THEN NULL ELSE comment_text END`

/** A skip a person comes back from (they comment again or write) keeps the text: they may be pending again. */
const isFinal = (settlement: Settlement): boolean =>
  settlement._tag === "Skipped"
    ? !reopenableReasons.includes(settlement.reason)
    : settlement._tag !== "Pending" && settlement._tag !== "InDoubt"

/** The rows whose comment text is dropped: settled for good (see {@link isFinal}). */
const settledForGood = (sql: SqlClient.SqlClient) =>
  sql`(state IN ${sql.in(["sent", "refused", "expired", "unconfirmed", "suppressed", "no_reply"])}
    OR (state = 'skipped' AND reason NOT IN ${sql.in(reopenableReasons)}))`

/** A pending row whose comment's reply key another row of the profile holds is skipped: the reply is taken. */
const skipTakenComment = (sql: SqlClient.SqlClient, key: RecipientKey, kind: ReplyKind, now: number) =>
  sql`UPDATE comment_dm_recipients SET state = 'skipped', reason = ${"comment_taken" satisfies SkipReason},
      settled_at = ${now}, updated_at = ${now}, ${dropCommentText(sql)}
    WHERE ${whereKey(sql, key)} AND state = 'pending' AND EXISTS (SELECT 1 FROM comment_dm_comment_replies k
      JOIN comment_dm_campaigns c ON c.profile_user = k.profile
      WHERE c.name = comment_dm_recipients.campaign AND k.platform = comment_dm_recipients.platform
        AND k.comment_id = comment_dm_recipients.comment_id AND k.kind = ${kind})`

const insertCandidates = (sql: SqlClient.SqlClient, rows: ReadonlyArray<ReturnType<typeof candidateRow>>) =>
  sql`INSERT INTO comment_dm_recipients ${sql.insert(rows)}
    ON CONFLICT (campaign, platform, user_id, step) DO NOTHING RETURNING user_id`.pipe(
    Effect.map((added) => added.length)
  )

const registerCampaign: Operation<"registerCampaign"> = ({ sql }) => (info) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const keeps = info.keepsCommentText === undefined ? null : info.keepsCommentText ? 1 : 0
    if (keeps === 0) {
      // The templates stopped using {{comment}} (or never told before): the texts of people settled before go too,
      // before the flag says so, so that a crash in between drops them on the next run.
      const told = yield* sql`SELECT keeps_comment_text AS keeps FROM comment_dm_campaigns WHERE name = ${info.name}`
        .pipe(Effect.flatMap(decodeKeepsCommentText))
      if (told[0]?.keeps !== 0) {
        yield* sql`UPDATE comment_dm_recipients SET comment_text = NULL
          WHERE campaign = ${info.name} AND comment_text IS NOT NULL AND ${settledForGood(sql)}`
      }
    }
    yield* sql`INSERT INTO comment_dm_campaigns
        (name, platform, profile_user, posts, keeps_comment_text, created_at, updated_at)
      VALUES (${info.name}, ${info.platform}, ${info.profileUser}, ${JSON.stringify(info.posts)}, ${keeps}, ${now},
        ${now})
      ON CONFLICT (name) DO UPDATE SET platform = excluded.platform, profile_user = excluded.profile_user,
        posts = excluded.posts, keeps_comment_text = COALESCE(excluded.keeps_comment_text,
          comment_dm_campaigns.keeps_comment_text), updated_at = excluded.updated_at`
  }).pipe(failWith(`register campaign ${info.name}`))

const states: Operation<"states"> = ({ batchSize, sql }) => (campaign, platform, step, userIds) =>
  Effect.forEach(
    Arr.chunksOf(userIds, batchSize),
    (batch) =>
      sql`SELECT user_id, state FROM comment_dm_recipients
        WHERE campaign = ${campaign} AND platform = ${platform} AND step = ${step}
          AND user_id IN ${sql.in(batch.map(storable))}`
        .pipe(Effect.flatMap(decodeStates))
  ).pipe(
    Effect.map((batches) => {
      const stored = new Map(batches.flatMap((rows) => rows.map((row) => [row.user_id, row.state])))
      // Answered by the ids as the caller knows them; the ledger holds them in their storable form (the same
      // string for every id without text a database cannot hold).
      const states = new Map<string, DeliveryState>()
      for (const userId of userIds) {
        const state = stored.get(storable(userId))
        if (state !== undefined) states.set(userId, state)
      }
      return states
    }),
    failWith(`read the states of ${userIds.length} people in campaign ${campaign}`)
  )

const discover: Operation<"discover"> = ({ batchSize, sql }) => (candidates) =>
  Effect.gen(function*() {
    if (candidates.length === 0) return 0
    const now = yield* Clock.currentTimeMillis
    let added = 0
    for (const batch of Arr.chunksOf(candidates, batchSize)) {
      added += yield* insertCandidates(sql, batch.map((candidate) => candidateRow(candidate, now)))
    }
    return added
  }).pipe(sql.withTransaction, failWith(`record ${candidates.length} matching commenters`))

/**
 * Records candidates batch by batch; a batch the database refuses is recorded person by person, so that one row
 * it cannot hold keeps nobody else out. The refused people are kept in `unrecorded` with the database's words;
 * when even that fails, the database itself is failing, and so does the call.
 */
const record: Operation<"record"> = ({ batchSize, sql }) => (candidates) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    let added = 0
    const unrecorded: Array<Unrecorded> = []
    for (const batch of Arr.chunksOf(candidates, batchSize)) {
      const pairs = batch.map((candidate) => [candidate, candidateRow(candidate, now)] as const)
      const rows = pairs.map(([, row]) => row)
      const whole = yield* Effect.either(sql.withTransaction(insertCandidates(sql, rows)))
      if (whole._tag === "Right") {
        added += whole.right
        continue
      }
      for (const [candidate, row] of pairs) {
        const one = yield* Effect.either(insertCandidates(sql, [row]))
        if (one._tag === "Right") {
          added += one.right
          continue
        }
        const reason = new LedgerError({ operation: "record this person", cause: one.left }).message
        yield* sql`INSERT INTO comment_dm_unrecorded (campaign, platform, user_id, username, reason, seen_at)
          VALUES (${row.campaign}, ${row.platform}, ${row.user_id}, ${row.username}, ${reason}, ${now})
          ON CONFLICT (campaign, platform, user_id) DO UPDATE SET reason = excluded.reason,
            username = excluded.username, seen_at = excluded.seen_at`.pipe(Effect.mapError(() => one.left))
        // Answered with the caller's own id, so the caller need not know how the ledger stores it.
        unrecorded.push({ userId: candidate.userId, username: row.username ?? undefined, reason })
      }
    }
    return { added, unrecorded }
  }).pipe(failWith(`record ${candidates.length} matching commenters`))

const unrecorded: Operation<"unrecorded"> = ({ sql }) => (campaign) =>
  sql`SELECT user_id, username, reason FROM comment_dm_unrecorded u WHERE u.campaign = ${campaign}
    AND NOT EXISTS (SELECT 1 FROM comment_dm_recipients r
      WHERE r.campaign = u.campaign AND r.platform = u.platform AND r.user_id = u.user_id)
    ORDER BY seen_at, user_id`.pipe(
    Effect.flatMap(decodeUnrecorded),
    failWith(`read the people campaign ${campaign} could not record`)
  )

const markConversationsRead: Operation<"markConversationsRead"> = ({ sql }) => (campaign, read) =>
  sql`INSERT INTO comment_dm_conversation_reads (campaign, conversations, read_at)
    VALUES (${campaign}, ${read.conversations}, ${read.readAt.getTime()})
    ON CONFLICT (campaign) DO UPDATE SET conversations = excluded.conversations, read_at = excluded.read_at`
    .pipe(Effect.asVoid, failWith(`record the conversations read for campaign ${campaign}`))

const conversationsRead: Operation<"conversationsRead"> = ({ sql }) => (campaign) =>
  sql`SELECT conversations, read_at FROM comment_dm_conversation_reads WHERE campaign = ${campaign}`.pipe(
    Effect.flatMap(decodeConversationReads),
    Effect.map(Arr.head),
    failWith(`read the last conversations read of campaign ${campaign}`)
  )

/**
 * Within a statement on `comment_dm_recipients`: `comment-dm forget` left a tombstone for the row's person, on the
 * profile of its campaign or on every profile (`hash` is the person's, under the ledger's salt).
 */
const tombstoned = (sql: SqlClient.SqlClient, hash: string) =>
  sql`EXISTS (SELECT 1 FROM comment_dm_forgotten f JOIN comment_dm_campaigns c ON c.name = comment_dm_recipients.campaign
    WHERE f.user_hash = ${hash} AND f.platform IN (comment_dm_recipients.platform, ${Tombstone.anyProfile})
      AND f.profile IN (c.profile_user, ${Tombstone.anyProfile}))`

const claim: Operation<"claim"> = (db) => (key, options) =>
  Effect.gen(function*() {
    const { commit, sql } = db
    const { campaignVersion, lease, message, path, runner } = options
    const now = yield* Clock.currentTimeMillis
    // The salt is made once per ledger (by the first claim or forget) and never changes: read once per process.
    db.salt ??= yield* Tombstone.ensureSalt(sql)
    const hash = Tombstone.hashOf(db.salt, key.userId)
    // A person forgotten after a runner looked the tombstones up, and recorded by it all the same, is dropped here
    // (never recorded, as discovery drops them), so that the claim below finds nothing and nobody is messaged.
    const dropForgotten = sql`DELETE FROM comment_dm_recipients
      WHERE ${whereKey(sql, key)} AND state = 'pending' AND ${tombstoned(sql, hash)}`
    const from: DeliveryState = options.inDoubt === true ? "in_doubt" : "pending"
    // A claim without a path keeps the one recorded; only the first message has one.
    const newPath = key.step === "first_message" ? path ?? null : null
    // Whatever the step, a person on the profile's suppression list is settled `suppressed` instead of claimed; the
    // claim checks the list again itself, for a list that changes between the two statements. A private reply in doubt
    // is not claimed for its retry then, and stays in doubt: it may have reached them.
    const suppressListed = Suppression.settleListed(sql, whereKey(sql, key), ["pending"], now)
    const claimRow = sql`UPDATE comment_dm_recipients SET state = 'claimed', message = ${storable(message)},
        path = COALESCE(${newPath}, path), campaign_version = ${campaignVersion ?? null},
        claimed_by = ${runner}, claimed_at = ${now}, lease_until = ${now + leaseMillis(lease)},
        attempts = attempts + 1, reason = NULL, message_id = NULL, settled_at = NULL, updated_at = ${now}
      WHERE ${whereKey(sql, key)} AND state = ${from} AND NOT ${Suppression.listed(sql)}
        AND NOT ${tombstoned(sql, hash)}`
    const reply = replyKind(key.step, path)
    const order = orderOf(key)
    if (reply === undefined) {
      return yield* commit.write({
        order,
        untilDurable: true,
        statements: [dropForgotten, suppressListed, sql`${claimRow} RETURNING user_id`],
        answer: 2
      })
    }
    // A reply takes the comment's key of the profile in the claim's transaction: whoever holds it replies.
    return yield* commit.write({
      order,
      untilDurable: true,
      statements: [
        dropForgotten,
        suppressListed,
        takeReplyKey(sql, key, reply, now, from),
        sql`${claimRow} AND ${holdsReplyKey(sql, reply)} RETURNING user_id`,
        skipTakenComment(sql, key, reply, now)
      ],
      answer: 3
    })
  }).pipe(failWith(`claim ${describeKey(key)}`))

/**
 * A runner's own claim whose person the list holds is settled `suppressed` before the confirmation, which then fails:
 * a person who opted out after their claim is released and never sent.
 */
const confirmClaim: Operation<"confirmClaim"> = ({ commit, sql }) => (key, runner, lease) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const held = sql`${whereKey(sql, key)} AND claimed_by = ${runner}`
    const confirmed = yield* commit.write({
      order: orderOf(key),
      untilDurable: true,
      statements: [
        Suppression.settleListed(sql, held, ["claimed"], now),
        sql`UPDATE comment_dm_recipients SET lease_until = ${now + leaseMillis(lease)}, updated_at = ${now}
        WHERE ${held} AND state = 'claimed' AND lease_until > ${now} AND NOT ${Suppression.listed(sql)}
        RETURNING user_id`
      ],
      answer: 1
    })
    // A person listed between the two statements (each sees the database anew on PostgreSQL) is not confirmed, and the
    // runner will not send: its claim is settled `suppressed` now instead of waiting for recovery.
    if (!confirmed) {
      yield* commit.write({
        order: orderOf(key),
        untilDurable: false,
        statements: [Suppression.settleListed(sql, held, ["claimed"], now)],
        answer: 0
      })
    }
    return confirmed
  }).pipe(failWith(`confirm the claim on ${describeKey(key)}`))

const settle: Operation<"settle"> = ({ commit, sql }) => (key, runner, settlement) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const outcome = Settlement.$match(settlement, {
      Sent: ({ at, messageId }) =>
        sql`state = 'sent', message_id = ${storable(messageId)}, reason = NULL, settled_at = ${at.getTime()}`,
      Refused: ({ reason }) => sql`state = 'refused', reason = ${storable(reason)}, settled_at = ${now}`,
      Pending: ({ reason }) => sql`state = 'pending', reason = ${storable(reason)}`,
      InDoubt: ({ reason }) => sql`state = 'in_doubt', reason = ${storable(reason)}`,
      Skipped: ({ reason }) => sql`state = 'skipped', reason = ${reason}, settled_at = ${now}`,
      Expired: ({ reason }) => sql`state = 'expired', reason = ${storable(reason)}, settled_at = ${now}`,
      Unconfirmed: ({ reason }) => sql`state = 'unconfirmed', reason = ${storable(reason)}, settled_at = ${now}`,
      Suppressed: ({ reason }) => sql`state = 'suppressed', reason = ${storable(reason)}, settled_at = ${now}`
    })
    const settled = isFinal(settlement) ? sql`${outcome}, ${dropCommentText(sql)}` : outcome
    return yield* commit.write({
      order: orderOf(key),
      // A settlement need not be on disk before the runner goes on: lost in a power loss, it leaves the person
      // claimed, and recovery treats that like a send cut off mid-way. It reaches the disk with the next sync.
      untilDurable: false,
      statements: [sql`UPDATE comment_dm_recipients SET ${settled}, lease_until = NULL, updated_at = ${now}
        WHERE ${whereKey(sql, key)} AND state = 'claimed' AND claimed_by = ${runner} RETURNING user_id`]
    })
  }).pipe(failWith(`record the outcome for ${describeKey(key)}`))

const recoverClaims: Operation<"recoverClaims"> = ({ sql }) => (campaign, recover = {}) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const leaseTime = recover.now?.getTime() ?? now
    const leftover = recover.runner === undefined
      ? sql`lease_until < ${leaseTime}`
      : sql.or([sql`lease_until < ${leaseTime}`, sql`claimed_by = ${recover.runner}`])
    const claims = yield* sql`SELECT * FROM comment_dm_recipients
      WHERE campaign = ${campaign} AND state = 'claimed' AND ${leftover}`.pipe(Effect.flatMap(decodeEntries))
    let recovered = 0
    // One guarded statement per claim (there are at most a few per runner) instead of a transaction, so that
    // no lock is held between statements; `attempts` identifies the claim, which a new claim would change.
    for (const claim of claims) {
      const reason = `claimed by ${claim.claimedBy ?? "an unknown runner"} at ${
        claim.claimedAt?.toISOString() ?? "an unknown time"
      }; the process stopped before the outcome was recorded`
      // A public reply cut off mid-way is final: a doubled public comment is worse than a missing one.
      const outcome = claim.step === "public_reply"
        ? sql`state = 'unconfirmed', settled_at = ${now}`
        : sql`state = 'in_doubt'`
      const rows = yield* sql`UPDATE comment_dm_recipients SET ${outcome}, reason = ${reason},
          lease_until = NULL, updated_at = ${now}
        WHERE ${whereKey(sql, claim)} AND state = 'claimed' AND attempts = ${claim.attempts} AND ${leftover}
        RETURNING user_id`
      recovered += rows.length
    }
    return recovered
  }).pipe(failWith(`recover leftover claims of campaign ${campaign}`))

const claimHolders: Operation<"claimHolders"> = ({ sql }) => (campaign) =>
  sql`SELECT DISTINCT claimed_by FROM comment_dm_recipients WHERE campaign = ${campaign} AND state = 'claimed'
    ORDER BY claimed_by`.pipe(
    Effect.flatMap(decodeClaimHolders),
    Effect.map((rows) => rows.map((row) => row.claimed_by)),
    failWith(`read the runners holding claims in campaign ${campaign}`)
  )

const renewLeases: Operation<"renewLeases"> = ({ sql }) => (campaign, runner, lease) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const rows = yield* sql`UPDATE comment_dm_recipients SET lease_until = ${now + leaseMillis(lease)},
        updated_at = ${now}
      WHERE campaign = ${campaign} AND state = 'claimed' AND claimed_by = ${runner} RETURNING user_id`
    return rows.length
  }).pipe(failWith(`renew the claims of ${runner} in campaign ${campaign}`))

const readMark: Operation<"readMark"> = ({ sql }) => (campaign, post) =>
  sql`SELECT * FROM comment_dm_post_reads WHERE campaign = ${campaign} AND post = ${post}`.pipe(
    Effect.flatMap(decodeReadMarks),
    Effect.map(Arr.head),
    failWith(`read how far campaign ${campaign} has read post ${post}`)
  )

const markRead: Operation<"markRead"> = ({ sql }) => (mark) =>
  sql`INSERT INTO comment_dm_post_reads (campaign, post, newest_ids, match_key, read_at, comments)
    VALUES (${mark.campaign}, ${mark.post}, ${JSON.stringify(mark.newestIds)}, ${mark.matchKey},
      ${mark.readAt.getTime()}, ${mark.comments ?? null})
    ON CONFLICT (campaign, post) DO UPDATE SET newest_ids = excluded.newest_ids, match_key = excluded.match_key,
      read_at = excluded.read_at, comments = excluded.comments`.pipe(
    Effect.asVoid,
    failWith(`record how far campaign ${mark.campaign} has read post ${mark.post}`)
  )

const inDoubt: Operation<"inDoubt"> = ({ sql }) => (campaign) =>
  sql`SELECT * FROM comment_dm_recipients WHERE campaign = ${campaign} AND state = 'in_doubt'
    ORDER BY first_seen_at, platform, user_id, step`.pipe(
    Effect.flatMap(decodeEntries),
    failWith(`read the people in doubt in campaign ${campaign}`)
  )

const resolveInDoubt: Operation<"resolveInDoubt"> = ({ sql }) => (key, resolution) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const outcome = resolution._tag === "Sent"
      ? sql`state = 'sent', message_id = ${
        storable(resolution.messageId)
      }, reason = NULL, settled_at = ${resolution.at.getTime()}, ${dropCommentText(sql)}`
      : sql`state = 'pending', reason = ${storable(resolution.reason)}`
    const rows = yield* sql`UPDATE comment_dm_recipients SET ${outcome}, updated_at = ${now}
      WHERE ${whereKey(sql, key)} AND state = 'in_doubt' RETURNING user_id`
    return rows.length > 0
  }).pipe(failWith(`resolve ${describeKey(key)}`))

/** Another runner may add the same next version at once: the loser reads the winner's and tries again. */
const campaignVersion: Operation<"campaignVersion"> = ({ sql }) => (campaign, version) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const spec = JSON.stringify(version.spec) ?? "null"
    for (;;) {
      const latest = yield* sql`SELECT version, fingerprint FROM comment_dm_campaign_versions
        WHERE campaign = ${campaign} ORDER BY version DESC LIMIT 1`.pipe(
        Effect.flatMap(decodeCampaignVersions),
        Effect.map(Arr.head)
      )
      if (Option.isSome(latest) && latest.value.fingerprint === version.fingerprint) return latest.value.version
      const next = Option.match(latest, { onNone: () => 1, onSome: (row) => row.version + 1 })
      const added = yield* sql`INSERT INTO comment_dm_campaign_versions
          (campaign, version, fingerprint, spec, created_at)
        VALUES (${campaign}, ${next}, ${version.fingerprint}, ${spec}, ${now})
        ON CONFLICT (campaign, version) DO NOTHING RETURNING version`
      if (added.length > 0) return next
    }
  }).pipe(failWith(`record a version of campaign ${campaign}`))

const campaignVersions: Operation<"campaignVersions"> = ({ sql }) => (campaign) =>
  sql`SELECT version, spec, created_at FROM comment_dm_campaign_versions WHERE campaign = ${campaign}
    ORDER BY version`.pipe(
    Effect.flatMap(decodeCampaignVersionSpecs),
    failWith(`read the versions of campaign ${campaign}`)
  )

/** What reopening a skipped row sets: pending again, with the newer comment when that is why. */
const reopened = (sql: SqlClient.SqlClient, reopening: Reopening, now: number) => {
  // A pending row keeps why it is pending; a skipped one forgets why it was skipped.
  const pending = sql`state = 'pending', reason = CASE WHEN state = 'pending' THEN reason END, settled_at = NULL,
    updated_at = ${now}`
  if (reopening._tag === "Wrote") return pending
  const row = candidateRow(reopening.comment, now)
  return sql`${pending}, username = COALESCE(${row.username}, username), post_id = ${row.post_id},
    comment_id = ${row.comment_id}, comment_text = ${row.comment_text}, comment_time = ${row.comment_time},
    keyword = ${row.keyword}`
}

/** When a skipped row is reopened: a comment newer than its own, or a message after the skip. */
const reopenedWhen = (sql: SqlClient.SqlClient, reopening: Reopening) =>
  reopening._tag === "Wrote"
    ? sql`settled_at < ${reopening.at.getTime()}`
    : sql`comment_id <> ${storable(reopening.comment.commentId)}
      AND COALESCE(comment_time, 0) < ${reopening.comment.commentTime?.getTime() ?? 0}`

const reopen: Operation<"reopen"> = ({ sql }) => (key, reopening) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    // A newer comment also goes to a pending row: the row keeps the person's newest comment.
    const states = reopening._tag === "Commented"
      ? sql`(state = 'pending' OR (state = 'skipped' AND reason IN ${sql.in(reopenableReasons)}))`
      : sql`state = 'skipped' AND reason IN ${sql.in(reopenableReasons)}`
    const rows = yield* sql`UPDATE comment_dm_recipients SET ${reopened(sql, reopening, now)}
      WHERE ${whereKey(sql, key)} AND ${states} AND ${reopenedWhen(sql, reopening)} RETURNING user_id`
    return rows.length > 0
  }).pipe(failWith(`judge ${describeKey(key)} again`))

const judgeAgain: Operation<"judgeAgain"> = ({ sql }) => (key, keyword) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const verdict = Option.match(keyword, {
      onNone: () =>
        sql`state = 'skipped', reason = ${"campaign_edited" satisfies SkipReason}, settled_at = ${now},
          ${dropCommentText(sql)}`,
      onSome: (matched) => sql`keyword = ${matched}`
    })
    const rows = yield* sql`UPDATE comment_dm_recipients SET ${verdict}, updated_at = ${now}
      WHERE ${whereKey(sql, key)} AND state = 'pending' RETURNING user_id`
    return rows.length > 0
  }).pipe(failWith(`judge ${describeKey(key)} again under the edited campaign`))

const tally: Operation<"tally"> = ({ sql }) => (campaign, step) =>
  sql`SELECT state, path, CASE WHEN state = 'skipped' THEN reason END AS reason, COUNT(*) AS n
    FROM comment_dm_recipients
    WHERE state IN ${sql.in(DeliveryState.literals)} AND campaign = ${campaign} AND step = ${step}
    GROUP BY state, path, CASE WHEN state = 'skipped' THEN reason END`.pipe(
    Effect.flatMap(decodeTally),
    failWith(`count the people of campaign ${campaign} by path and reason`)
  )

const counts: Operation<"counts"> = ({ sql }) => (campaign, step) =>
  // Naming every state lets both dialects count from the (state, campaign) index alone.
  sql`SELECT state, COUNT(*) AS n FROM comment_dm_recipients
    WHERE state IN ${sql.in(DeliveryState.literals)} AND campaign = ${campaign} AND step = ${step}
    GROUP BY state`.pipe(
    Effect.flatMap(decodeCounts),
    Effect.map((rows): Counts => {
      const counts = noCounts()
      for (const row of rows) counts[row.state] = row.n
      return counts
    }),
    failWith(`count the people of campaign ${campaign}`)
  )

/** The platform's message times have whole seconds: a message in the second of the private reply counts as after it. */
const messageTimeGrain = 1_000

const openSteps: Operation<"openSteps"> = ({ sql }) => (campaign, steps) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    let added = 0
    for (const step of steps) {
      const [state, base] = step === "follow_up"
        ? ["awaiting_reply", sql`AND f.path = ${"private_reply" satisfies MessagePath}`]
        : ["pending", sql``]
      const rows = yield* sql`INSERT INTO comment_dm_recipients (campaign, platform, user_id, step, username, post_id,
          comment_id, comment_text, comment_time, keyword, state, attempts, first_seen_at, updated_at)
        SELECT f.campaign, f.platform, f.user_id, ${step}, f.username, f.post_id, f.comment_id, f.comment_text,
          f.comment_time, f.keyword, ${state}, 0, COALESCE(f.settled_at, f.first_seen_at), ${now}
        FROM comment_dm_recipients f
        WHERE f.state = 'sent' AND f.campaign = ${campaign} AND f.step = 'first_message' ${base}
          AND NOT EXISTS (SELECT 1 FROM comment_dm_recipients o WHERE o.campaign = f.campaign
            AND o.platform = f.platform AND o.user_id = f.user_id AND o.step = ${step})
        ON CONFLICT (campaign, platform, user_id, step) DO NOTHING RETURNING user_id`
      added += rows.length
    }
    return added
  }).pipe(sql.withTransaction, failWith(`add the later steps of campaign ${campaign}`))

const wakeFollowUp: Operation<"wakeFollowUp"> = ({ sql }) => (key, at, withinMillis) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const wrote = at.getTime()
    const rows = yield* sql`UPDATE comment_dm_recipients SET state = 'pending', reason = NULL, updated_at = ${now}
      WHERE ${whereKey(sql, key)} AND state = 'awaiting_reply' AND first_seen_at < ${wrote + messageTimeGrain}
        AND first_seen_at >= ${wrote - withinMillis} RETURNING user_id`
    return rows.length > 0
  }).pipe(failWith(`wake the follow-up of ${describeKey(key)}`))

const endAwaiting: Operation<"endAwaiting"> = ({ sql }) => (campaign, repliedBefore) =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const rows = yield* sql`UPDATE comment_dm_recipients SET state = 'no_reply',
        reason = ${"the person did not write to the account within follow_up.within of their private reply"},
        settled_at = ${now}, updated_at = ${now}
      WHERE state = 'awaiting_reply' AND campaign = ${campaign} AND step = ${"follow_up" satisfies StepKind}
        AND first_seen_at < ${repliedBefore.getTime()} RETURNING user_id`
    return rows.length
  }).pipe(failWith(`end the follow-ups of campaign ${campaign} nobody replied to`))

const campaignStart: Operation<"campaignStart"> = ({ sql }) => (campaign) =>
  sql<{ readonly created_at: number | string }>`SELECT created_at FROM comment_dm_campaigns WHERE name = ${campaign}`
    .pipe(
      Effect.map((rows) => Option.map(Arr.head(rows), (row) => new Date(Number(row.created_at)))),
      failWith(`read when campaign ${campaign} first ran`)
    )

const forgotten: Operation<"forgotten"> = (db) => (platform, profile, userIds) =>
  Effect.gen(function*() {
    if (userIds.length === 0) return new Set<string>()
    // The salt never changes once made: read until a `forget` makes it, then kept.
    db.salt ??= yield* Tombstone.readSalt(db.sql)
    if (db.salt === undefined) return new Set<string>()
    return yield* Tombstone.tombstoned(db.sql, db.salt, platform, profile, userIds, db.batchSize)
  }).pipe(failWith(`look ${userIds.length} people up among the forgotten`))

/** Which rows a page reads: a state of one step, or every row. */
type Rows = { readonly state: DeliveryState; readonly step: StepKind } | undefined

const page = ({ pageSize, sql }: Db, campaign: string, rows: Rows, cursor: Option.Option<Cursor>) => {
  const conditions = [sql`campaign = ${campaign}`]
  if (rows !== undefined) conditions.push(sql`state = ${rows.state}`, sql`step = ${rows.step}`)
  if (Option.isSome(cursor)) {
    const { firstSeenAt, platform, step, userId } = cursor.value
    conditions.push(sql`(first_seen_at, platform, user_id, step) > (${firstSeenAt}, ${platform}, ${userId}, ${step})`)
  }
  return sql`SELECT * FROM comment_dm_recipients WHERE ${sql.and(conditions)}
    ORDER BY first_seen_at, platform, user_id, step LIMIT ${pageSize}`.pipe(Effect.flatMap(decodeEntries))
}

// Keyset pagination: rows that change state while the stream is read neither shift nor repeat later pages.
const pages = (db: Db, campaign: string, rows: Rows, operation: string) =>
  Stream.paginateChunkEffect(Option.none<Cursor>(), (cursor) =>
    page(db, campaign, rows, cursor).pipe(
      Effect.map((entries) => {
        const last = Arr.last(entries)
        const next = entries.length < db.pageSize ? Option.none() : Option.map(last, (entry) =>
          Option.some<Cursor>({
            firstSeenAt: entry.firstSeenAt.getTime(),
            platform: entry.platform,
            userId: entry.userId,
            step: entry.step
          }))
        return [Chunk.unsafeFromArray(entries), next] as const
      }),
      failWith(operation)
    ))

const entries: Operation<"entries"> = (db) => (campaign) =>
  pages(db, campaign, undefined, `read the ledger of campaign ${campaign}`)

const pendingEntries: Operation<"pendingEntries"> = (db) => (campaign, step) =>
  pages(db, campaign, { state: "pending", step }, `read the pending people of campaign ${campaign}`)

const suppress: Operation<"suppress"> = ({ sql }) => (scope, people, source) =>
  Effect.provideService(Suppression.add(scope, people, source), SqlClient.SqlClient, sql)

const listed: Operation<"listed"> = ({ batchSize, sql }) => (scope, people) =>
  Effect.provideService(Suppression.listedAmong(scope, people, batchSize), SqlClient.SqlClient, sql)

/**
 * The ledger over the context's SqlClient; its group-commit writer lives as long as the scope, and with a
 * {@link CommitSync} answers claims and confirmations only once their group is synced.
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const sync = Option.getOrUndefined(yield* Effect.serviceOption(CommitSync))
    const commit = yield* GroupCommit.make({ reserve: sql.reserve, sync })
    const db: Db = { sql, commit, pageSize: options.pageSize ?? 500, batchSize: options.batchSize ?? 500 }
    return Ledger.of({
      registerCampaign: registerCampaign(db),
      states: states(db),
      discover: discover(db),
      record: record(db),
      unrecorded: unrecorded(db),
      markConversationsRead: markConversationsRead(db),
      conversationsRead: conversationsRead(db),
      claim: claim(db),
      confirmClaim: confirmClaim(db),
      settle: settle(db),
      recoverClaims: recoverClaims(db),
      claimHolders: claimHolders(db),
      renewLeases: renewLeases(db),
      readMark: readMark(db),
      markRead: markRead(db),
      inDoubt: inDoubt(db),
      resolveInDoubt: resolveInDoubt(db),
      campaignVersion: campaignVersion(db),
      campaignVersions: campaignVersions(db),
      reopen: reopen(db),
      judgeAgain: judgeAgain(db),
      tally: tally(db),
      counts: counts(db),
      campaignStart: campaignStart(db),
      forgotten: forgotten(db),
      entries: entries(db),
      pendingEntries: pendingEntries(db),
      openSteps: openSteps(db),
      wakeFollowUp: wakeFollowUp(db),
      endAwaiting: endAwaiting(db),
      suppress: suppress(db),
      listed: listed(db)
    })
  })

/** The ledger over the context's SqlClient; the tables must exist (see {@link migrate}). */
export const layer: Layer.Layer<Ledger, never, SqlClient.SqlClient> = Layer.scoped(Ledger, make())

/** {@link layer} with other page and batch sizes. */
export const layerWith = (options: Options): Layer.Layer<Ledger, never, SqlClient.SqlClient> =>
  Layer.scoped(Ledger, make(options))
