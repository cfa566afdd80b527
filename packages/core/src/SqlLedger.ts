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
 * waits for it off the event loop (see {@link CommitSync}).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlConnection from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Arr from "effect/Array"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as internalMigrations from "./internal/ledgerMigrations.js"
import {
  candidateRow,
  decodeClaimHolders,
  decodeConversationReads,
  decodeCounts,
  decodeEntries,
  decodeReadMarks,
  decodeStates,
  decodeUnrecorded
} from "./internal/ledgerRow.js"
import { storable } from "./internal/storable.js"
import type { Candidate, Counts, DeliveryState, RecipientKey, Unrecorded } from "./Ledger.js"
import { Ledger, LedgerError, noCounts, Settlement } from "./Ledger.js"

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

/** A guarded single-row write waiting for the next group commit; it succeeds with whether its row was updated. */
interface GroupedWrite {
  readonly key: RecipientKey
  /** Answered only once the commit is on disk (claims, confirmations), not as soon as it is committed. */
  readonly untilDurable: boolean
  /** The statement compiled for the client's dialect: the group runs it on its own connection. */
  readonly text: string
  readonly params: ReadonlyArray<unknown>
  readonly done: Deferred.Deferred<boolean, SqlError>
}

/** A write committed but not yet synced, with whether its row was updated. */
interface Committed {
  readonly write: GroupedWrite
  readonly updated: boolean
}

/**
 * Waits until the event loop has run the callbacks that are ready (answers that arrived during the last commit,
 * whose fibers then write too), so that their writes join the group.
 */
const afterPendingEvents: Effect.Effect<void> = Effect.async((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/** Rows are written in key order within a group, so two groups of two processes never wait for each other's rows. */
const byKey = (a: GroupedWrite, b: GroupedWrite): number =>
  compare(a.key.campaign, b.key.campaign) || compare(a.key.platform, b.key.platform) ||
  compare(a.key.userId, b.key.userId)

const compare = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

/** Where a page of entries ends: entries are ordered by (first_seen_at, platform, user_id). */
interface Cursor {
  readonly firstSeenAt: number
  readonly platform: string
  readonly userId: string
}

/** The ledger over the context's SqlClient; its group-commit writer lives as long as the scope. */
export const make = (options: Options = {}): Effect.Effect<Ledger, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    // Column names are written as stored, whatever name transforms the client was configured with.
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const commitSync = Option.getOrUndefined(yield* Effect.serviceOption(CommitSync))
    const pageSize = options.pageSize ?? 500
    const batchSize = options.batchSize ?? 500

    const writes = yield* Queue.unbounded<GroupedWrite>()
    /** Committed writes that wait for the next sync (only with a `CommitSync`), with whether each row was updated. */
    const committed = yield* Queue.unbounded<Committed>()
    /** Whether something was committed since the last sync began. */
    let unsynced = false

    /** Commits the writes waiting now, together; a group is never abandoned half-way, even at shutdown. */
    const commitGroup = Effect.gen(function*() {
      const first = yield* Queue.take(writes)
      yield* afterPendingEvents
      const group = [first, ...(yield* Queue.takeAll(writes))].sort(byKey)
      const outcome = yield* Effect.exit(
        Effect.scoped(Effect.flatMap(sql.reserve, (connection) => inTransaction(connection, group)))
      ).pipe(Effect.uninterruptible)
      // A failed group is rolled back as a whole: every caller in it fails.
      if (Exit.isFailure(outcome)) {
        return group.forEach((write) => Deferred.unsafeDone(write.done, Exit.failCause(outcome.cause)))
      }
      unsynced = commitSync !== undefined
      group.forEach((write, index) => {
        const updated = outcome.value[index] ?? false
        // Committed, not yet on disk: answered after the next sync, while the following groups commit.
        if (write.untilDurable && commitSync !== undefined) return Queue.unsafeOffer(committed, { write, updated })
        Deferred.unsafeDone(write.done, Exit.succeed(updated))
      })
    })

    /**
     * One sync for every write committed before it starts (settlements committed since the last sync included);
     * when the sync fails, every caller waiting for it fails.
     */
    const syncWrites = (waiting: ReadonlyArray<Committed>, commitSync: Effect.Effect<void, SqlError>) =>
      Effect.gen(function*() {
        unsynced = false
        const synced = yield* Effect.exit(commitSync)
        for (const { updated, write } of waiting) Deferred.unsafeDone(write.done, Exit.as(synced, updated))
      })

    /**
     * Runs a group's statements in one transaction on a reserved connection, which no other statement uses meanwhile.
     * Straight on the connection rather than through `sql.withTransaction` and a statement each: a span, a scope and
     * a connection acquisition per statement cost more than the statement itself.
     */
    const inTransaction = (connection: SqlConnection.Connection, group: ReadonlyArray<GroupedWrite>) =>
      Effect.gen(function*() {
        yield* connection.execute("BEGIN", [], undefined)
        const outcome = yield* Effect.exit(
          Effect.gen(function*() {
            const updated: Array<boolean> = []
            for (const write of group) {
              updated.push((yield* connection.execute(write.text, write.params, undefined)).length > 0)
            }
            yield* connection.execute("COMMIT", [], undefined)
            return updated
          })
        )
        // A failed statement or commit leaves nothing of the group: the transaction is rolled back.
        if (Exit.isFailure(outcome)) yield* Effect.ignore(connection.execute("ROLLBACK", [], undefined))
        return yield* outcome
      })

    yield* Effect.forkScoped(Effect.forever(commitGroup))
    if (commitSync !== undefined) {
      const syncWaiting = Effect.gen(function*() {
        const first = yield* Queue.take(committed)
        const rest = yield* Queue.takeAll(committed)
        yield* syncWrites([first, ...rest], commitSync).pipe(Effect.uninterruptible)
      })
      yield* Effect.forkScoped(Effect.forever(syncWaiting))
    }
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        // Whatever was committed reaches the disk before the ledger closes, and its callers are answered truly.
        const left = Chunk.toArray(yield* Queue.takeAll(committed))
        if (commitSync !== undefined && (left.length > 0 || unsynced)) yield* syncWrites(left, commitSync)
        const waiting = yield* Queue.takeAll(writes)
        yield* Effect.forEach(waiting, (write) => Deferred.interrupt(write.done), { discard: true })
      })
    )

    /**
     * Runs a guarded single-row write in the next group commit and waits for that commit, and with `untilDurable`
     * also for its sync to disk. The wait cannot be interrupted: a write that is committed is always reported to its
     * caller (a claim is never won unknowingly).
     */
    const grouped = (
      key: RecipientKey,
      untilDurable: boolean,
      statement: Statement.Statement<unknown>
    ) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<boolean, SqlError>()
        const [text, params] = statement.compile()
        yield* Queue.offer(writes, { key, untilDurable, text, params, done })
        return yield* Deferred.await(done)
      }).pipe(Effect.uninterruptible)

    // User ids come from the platform: they are matched as `discover` stored them (see `storable`).
    const whereKey = (key: RecipientKey) =>
      sql`campaign = ${key.campaign} AND platform = ${key.platform} AND user_id = ${storable(key.userId)}`

    const insertCandidates = (rows: ReadonlyArray<ReturnType<typeof candidateRow>>) =>
      sql`INSERT INTO recipients ${sql.insert(rows)}
        ON CONFLICT (campaign, platform, user_id) DO NOTHING RETURNING user_id`.pipe(
        Effect.map((added) => added.length)
      )

    /**
     * Records candidates batch by batch; a batch the database refuses is recorded person by person, so that one row
     * it cannot hold keeps nobody else out. The refused people are kept in `unrecorded` with the database's words;
     * when even that fails, the database itself is failing, and so does the call.
     */
    const record = (candidates: ReadonlyArray<Candidate>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        let added = 0
        const unrecorded: Array<Unrecorded> = []
        for (const batch of Arr.chunksOf(candidates, batchSize)) {
          const rows = batch.map((candidate) => candidateRow(candidate, now))
          const whole = yield* Effect.either(sql.withTransaction(insertCandidates(rows)))
          if (whole._tag === "Right") {
            added += whole.right
            continue
          }
          for (const row of rows) {
            const one = yield* Effect.either(insertCandidates([row]))
            if (one._tag === "Right") {
              added += one.right
              continue
            }
            const reason = new LedgerError({ operation: "record this person", cause: one.left }).message
            yield* sql`INSERT INTO unrecorded (campaign, platform, user_id, username, reason, seen_at)
              VALUES (${row.campaign}, ${row.platform}, ${row.user_id}, ${row.username}, ${reason}, ${now})
              ON CONFLICT (campaign, platform, user_id) DO UPDATE SET reason = excluded.reason,
                username = excluded.username, seen_at = excluded.seen_at`.pipe(Effect.mapError(() => one.left))
            unrecorded.push({ userId: row.user_id, username: row.username ?? undefined, reason })
          }
        }
        return { added, unrecorded }
      }).pipe(failWith(`record ${candidates.length} matching commenters`))

    const page = (campaign: string, state: DeliveryState | undefined, cursor: Option.Option<Cursor>) => {
      const conditions = [sql`campaign = ${campaign}`]
      if (state !== undefined) conditions.push(sql`state = ${state}`)
      if (Option.isSome(cursor)) {
        const { firstSeenAt, platform, userId } = cursor.value
        conditions.push(sql`(first_seen_at, platform, user_id) > (${firstSeenAt}, ${platform}, ${userId})`)
      }
      return sql`SELECT * FROM recipients WHERE ${sql.and(conditions)}
        ORDER BY first_seen_at, platform, user_id LIMIT ${pageSize}`.pipe(Effect.flatMap(decodeEntries))
    }

    // Keyset pagination: rows that change state while the stream is read neither shift nor repeat later pages.
    const pages = (campaign: string, state: DeliveryState | undefined, operation: string) =>
      Stream.paginateChunkEffect(Option.none<Cursor>(), (cursor) =>
        page(campaign, state, cursor).pipe(
          Effect.map((entries) => {
            const last = Arr.last(entries)
            const next = entries.length < pageSize ? Option.none() : Option.map(last, (entry) =>
              Option.some<Cursor>({
                firstSeenAt: entry.firstSeenAt.getTime(),
                platform: entry.platform,
                userId: entry.userId
              }))
            return [Chunk.unsafeFromArray(entries), next] as const
          }),
          failWith(operation)
        ))

    return Ledger.of({
      registerCampaign: (info) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* sql`INSERT INTO campaigns (name, platform, profile_user, posts, created_at, updated_at)
            VALUES (${info.name}, ${info.platform}, ${info.profileUser}, ${JSON.stringify(info.posts)}, ${now}, ${now})
            ON CONFLICT (name) DO UPDATE SET platform = excluded.platform, profile_user = excluded.profile_user,
              posts = excluded.posts, updated_at = excluded.updated_at`
        }).pipe(failWith(`register campaign ${info.name}`)),

      states: (campaign, platform, step, userIds) =>
        Effect.forEach(
          // Schema v1 holds the first message only.
          step === "first_message" ? Arr.chunksOf(userIds, batchSize) : [],
          (batch) =>
            sql`SELECT user_id, state FROM recipients
              WHERE campaign = ${campaign} AND platform = ${platform} AND user_id IN ${sql.in(batch.map(storable))}`
              .pipe(Effect.flatMap(decodeStates))
        ).pipe(
          Effect.map((batches) => {
            const stored = new Map(batches.flatMap((rows) => rows.map((row) => [row.user_id, row.state])))
            // Answered by the ids as the caller knows them, also those stored in their storable form.
            const states = new Map<string, DeliveryState>()
            for (const userId of userIds) {
              const state = stored.get(userId) ?? stored.get(storable(userId))
              if (state !== undefined) states.set(userId, state)
            }
            return states
          }),
          failWith(`read the states of ${userIds.length} people in campaign ${campaign}`)
        ),

      discover: (candidates) =>
        Effect.gen(function*() {
          if (candidates.length === 0) return 0
          const now = yield* Clock.currentTimeMillis
          let added = 0
          for (const batch of Arr.chunksOf(candidates, batchSize)) {
            added += yield* insertCandidates(batch.map((candidate) => candidateRow(candidate, now)))
          }
          return added
        }).pipe(sql.withTransaction, failWith(`record ${candidates.length} matching commenters`)),

      record,

      unrecorded: (campaign) =>
        sql`SELECT user_id, username, reason FROM unrecorded u WHERE u.campaign = ${campaign}
          AND NOT EXISTS (SELECT 1 FROM recipients r
            WHERE r.campaign = u.campaign AND r.platform = u.platform AND r.user_id = u.user_id)
          ORDER BY seen_at, user_id`.pipe(
          Effect.flatMap(decodeUnrecorded),
          failWith(`read the people campaign ${campaign} could not record`)
        ),

      markConversationsRead: (campaign, read) =>
        sql`INSERT INTO conversation_reads (campaign, conversations, read_at)
          VALUES (${campaign}, ${read.conversations}, ${read.readAt.getTime()})
          ON CONFLICT (campaign) DO UPDATE SET conversations = excluded.conversations, read_at = excluded.read_at`
          .pipe(Effect.asVoid, failWith(`record the conversations read for campaign ${campaign}`)),

      conversationsRead: (campaign) =>
        sql`SELECT conversations, read_at FROM conversation_reads WHERE campaign = ${campaign}`.pipe(
          Effect.flatMap(decodeConversationReads),
          Effect.map(Arr.head),
          failWith(`read the last conversations read of campaign ${campaign}`)
        ),

      claim: (key, { lease, message, runner }) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          return yield* grouped(
            key,
            true,
            sql`UPDATE recipients SET state = 'claimed', message = ${storable(message)},
              claimed_by = ${runner}, claimed_at = ${now}, lease_until = ${now + leaseMillis(lease)},
              attempts = attempts + 1, reason = NULL, message_id = NULL, settled_at = NULL, updated_at = ${now}
            WHERE ${whereKey(key)} AND state = 'pending' RETURNING user_id`
          )
        }).pipe(failWith(`claim ${describeKey(key)}`)),

      confirmClaim: (key, runner, lease) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          return yield* grouped(
            key,
            true,
            sql`UPDATE recipients SET lease_until = ${now + leaseMillis(lease)}, updated_at = ${now}
            WHERE ${whereKey(key)} AND state = 'claimed' AND claimed_by = ${runner} AND lease_until > ${now}
            RETURNING user_id`
          )
        }).pipe(failWith(`confirm the claim on ${describeKey(key)}`)),

      settle: (key, runner, settlement) =>
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
            Unconfirmed: ({ reason }) => sql`state = 'unconfirmed', reason = ${storable(reason)}, settled_at = ${now}`
          })
          return yield* grouped(
            key,
            // A settlement need not be on disk before the runner goes on: lost in a power loss, it leaves the person
            // claimed, and recovery treats that like a send cut off mid-way. It reaches the disk with the next sync.
            false,
            sql`UPDATE recipients SET ${outcome}, lease_until = NULL, updated_at = ${now}
            WHERE ${whereKey(key)} AND state = 'claimed' AND claimed_by = ${runner} RETURNING user_id`
          )
        }).pipe(failWith(`record the outcome for ${describeKey(key)}`)),

      recoverClaims: (campaign, recover = {}) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const leaseTime = recover.now?.getTime() ?? now
          const leftover = recover.runner === undefined
            ? sql`lease_until < ${leaseTime}`
            : sql.or([sql`lease_until < ${leaseTime}`, sql`claimed_by = ${recover.runner}`])
          const claims = yield* sql`SELECT * FROM recipients
            WHERE campaign = ${campaign} AND state = 'claimed' AND ${leftover}`.pipe(Effect.flatMap(decodeEntries))
          let recovered = 0
          // One guarded statement per claim (there are at most a few per runner) instead of a transaction, so that
          // no lock is held between statements; `attempts` identifies the claim, which a new claim would change.
          for (const claim of claims) {
            const reason = `claimed by ${claim.claimedBy ?? "an unknown runner"} at ${
              claim.claimedAt?.toISOString() ?? "an unknown time"
            }; the process stopped before the outcome was recorded`
            const rows = yield* sql`UPDATE recipients SET state = 'in_doubt', reason = ${reason}, lease_until = NULL,
                updated_at = ${now}
              WHERE ${whereKey(claim)} AND state = 'claimed' AND attempts = ${claim.attempts} AND ${leftover}
              RETURNING user_id`
            recovered += rows.length
          }
          return recovered
        }).pipe(failWith(`recover leftover claims of campaign ${campaign}`)),

      claimHolders: (campaign) =>
        sql`SELECT DISTINCT claimed_by FROM recipients WHERE campaign = ${campaign} AND state = 'claimed'
          ORDER BY claimed_by`.pipe(
          Effect.flatMap(decodeClaimHolders),
          Effect.map((rows) => rows.map((row) => row.claimed_by)),
          failWith(`read the runners holding claims in campaign ${campaign}`)
        ),

      renewLeases: (campaign, runner, lease) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const rows = yield* sql`UPDATE recipients SET lease_until = ${now + leaseMillis(lease)}, updated_at = ${now}
            WHERE campaign = ${campaign} AND state = 'claimed' AND claimed_by = ${runner} RETURNING user_id`
          return rows.length
        }).pipe(failWith(`renew the claims of ${runner} in campaign ${campaign}`)),

      readMark: (campaign, post) =>
        sql`SELECT * FROM post_reads WHERE campaign = ${campaign} AND post = ${post}`.pipe(
          Effect.flatMap(decodeReadMarks),
          Effect.map(Arr.head),
          failWith(`read how far campaign ${campaign} has read post ${post}`)
        ),

      markRead: (mark) =>
        sql`INSERT INTO post_reads (campaign, post, newest_ids, match_key, read_at)
          VALUES (${mark.campaign}, ${mark.post}, ${JSON.stringify(mark.newestIds)}, ${mark.matchKey},
            ${mark.readAt.getTime()})
          ON CONFLICT (campaign, post) DO UPDATE SET newest_ids = excluded.newest_ids, match_key = excluded.match_key,
            read_at = excluded.read_at`.pipe(
          Effect.asVoid,
          failWith(`record how far campaign ${mark.campaign} has read post ${mark.post}`)
        ),

      inDoubt: (campaign) =>
        sql`SELECT * FROM recipients WHERE campaign = ${campaign} AND state = 'in_doubt'
          ORDER BY first_seen_at, platform, user_id`.pipe(
          Effect.flatMap(decodeEntries),
          failWith(`read the people in doubt in campaign ${campaign}`)
        ),

      resolveInDoubt: (key, resolution) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const outcome = resolution._tag === "Sent"
            ? sql`state = 'sent', message_id = ${
              storable(resolution.messageId)
            }, reason = NULL, settled_at = ${resolution.at.getTime()}`
            : sql`state = 'pending', reason = ${storable(resolution.reason)}`
          const rows = yield* sql`UPDATE recipients SET ${outcome}, updated_at = ${now}
            WHERE ${whereKey(key)} AND state = 'in_doubt' RETURNING user_id`
          return rows.length > 0
        }).pipe(failWith(`resolve ${describeKey(key)}`)),

      counts: (campaign, step) =>
        // Naming every state lets both dialects count from the (state, campaign) index alone.
        sql`SELECT state, COUNT(*) AS n FROM recipients
          WHERE state IN ('pending', 'claimed', 'sent', 'refused', 'in_doubt') AND campaign = ${campaign}
          GROUP BY state`.pipe(
          Effect.flatMap(decodeCounts),
          Effect.map((rows): Counts => {
            const counts = noCounts()
            if (step === "first_message") { for (const row of rows) counts[row.state] = row.n }
            return counts
          }),
          failWith(`count the people of campaign ${campaign}`)
        ),

      entries: (campaign) => pages(campaign, undefined, `read the ledger of campaign ${campaign}`),

      pendingEntries: (campaign, step) =>
        step === "first_message"
          ? pages(campaign, "pending", `read the pending people of campaign ${campaign}`)
          : Stream.empty
    })
  })

/** The ledger over the context's SqlClient; the tables must exist (see {@link migrate}). */
export const layer: Layer.Layer<Ledger, never, SqlClient.SqlClient> = Layer.scoped(Ledger, make())

/** {@link layer} with other page and batch sizes. */
export const layerWith = (options: Options): Layer.Layer<Ledger, never, SqlClient.SqlClient> =>
  Layer.scoped(Ledger, make(options))
