/**
 * Forgetting a person, and pruning what the ledger keeps of settled people: the ledger's maintenance, over its SQL
 * client (SQLite or PostgreSQL), apart from the engine.
 *
 * `forget` removes a person's username, comment and message texts from every table and replaces their user id by a
 * pseudonym (rows stay, so that `status` still accounts for everyone), leaves a tombstone (a salted hash of the id,
 * the salt kept in the ledger) that makes discovery drop them in every campaign from then on, and on SQLite runs
 * with `secure_delete`, a checkpoint that empties the WAL file and a VACUUM, so that none of the forgotten bytes stay in
 * the database's files. Rows claimed or in doubt (a message may be on its way, or have gone out) are settled first,
 * `unconfirmed`: reconciliation could tell whether the message went out only by the id and texts that go now, and the
 * tombstone keeps the person from being messaged again either way.
 *
 * `prune` drops the texts and usernames of people settled before a time: a retention period.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { storable } from "./internal/storable.js"
import * as Tombstone from "./internal/tombstone.js"
import { LedgerError } from "./Ledger.js"

/** A person as the ledger knows them: an id on a platform, with where they appear. */
export interface Known {
  readonly platform: string
  readonly userId: string
  /** The usernames their rows hold (usernames change). */
  readonly usernames: ReadonlyArray<string>
  /** The campaigns that have rows of them. */
  readonly campaigns: ReadonlyArray<string>
  /** Their rows in the recipients table (one per campaign and step). */
  readonly rows: number
}

/** Which part of the ledger a `forget` looks at: one profile's campaigns and lists, or every profile's. */
export interface Scope {
  /** The Upload-Post profile; absent: every profile of the ledger. */
  readonly profile?: string | undefined
}

/** What `forget` did. */
export interface Forgotten {
  /** Recipient rows whose texts were removed (one per campaign and step). */
  readonly rows: number
  /** Of those, rows that were waiting (pending, awaiting a reply): now `suppressed`, reason `forgotten`. */
  readonly stopped: number
  /**
   * Of those, rows that were claimed or in doubt (a message may have gone out): now `unconfirmed`, final. A runner
   * that held one finds its claim gone at its next confirmation, and sends nothing.
   */
  readonly settled: number
  readonly unrecorded: number
  readonly suppressions: number
  readonly replies: number
  /** Whether the database's files were rewritten so that no forgotten byte stays in them (SQLite); see `scrub`. */
  readonly scrubbed: boolean
  /** Why not, when not. */
  readonly scrubProblem: string | undefined
}

/** What `prune` did. */
export interface Pruned {
  /** Settled rows whose texts and username were dropped. */
  readonly rows: number
  readonly unrecorded: number
  readonly scrubbed: boolean
  readonly scrubProblem: string | undefined
}

const failWith = (operation: string) => Effect.mapError((cause: SqlError) => new LedgerError({ operation, cause }))

/** Rows of the recipients table in the scope, as a condition on `comment_dm_recipients`. */
const inScope = (sql: SqlClient.SqlClient, scope: Scope, table: string) =>
  scope.profile === undefined
    ? sql`1 = 1`
    : sql`${sql(table)}.campaign IN (SELECT name FROM comment_dm_campaigns WHERE profile_user = ${scope.profile})`

const KnownRow = Schema.Struct({
  platform: Schema.String,
  user_id: Schema.String,
  username: Schema.NullOr(Schema.String),
  campaign: Schema.String
})

const knownFrom = (rows: ReadonlyArray<typeof KnownRow.Type>): Array<Known> => {
  const people = new Map<
    string,
    { platform: string; userId: string; usernames: Set<string>; campaigns: Set<string>; rows: number }
  >()
  for (const row of rows) {
    const key = `${row.platform}\u0000${row.user_id}`
    const person = people.get(key) ??
      { platform: row.platform, userId: row.user_id, usernames: new Set(), campaigns: new Set(), rows: 0 }
    if (row.username !== null) person.usernames.add(row.username)
    person.campaigns.add(row.campaign)
    person.rows++
    people.set(key, person)
  }
  return [...people.values()].map((person) => ({
    platform: person.platform,
    userId: person.userId,
    usernames: [...person.usernames].sort(),
    campaigns: [...person.campaigns].sort(),
    rows: person.rows
  }))
}

/** A username as people write it: without a leading @ and the spaces around it. */
export const normaliseUsername = (text: string): string => text.trim().replace(/^@/, "")

/** The people of the recipients and unrecorded rows that `column` matches `value` in, in the scope. */
const findWhere = (column: "username" | "user_id", value: string, scope: Scope) =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const where = (table: string) =>
      sql`${column === "username" ? sql`LOWER(username)` : sql`user_id`} = ${value} AND ${inScope(sql, scope, table)}`
    const rows = yield* sql`SELECT platform, user_id, username, campaign FROM comment_dm_recipients
        WHERE ${where("comment_dm_recipients")}
      UNION ALL SELECT platform, user_id, username, campaign FROM comment_dm_unrecorded
        WHERE ${where("comment_dm_unrecorded")}`
    return knownFrom(yield* Effect.orDie(Schema.decodeUnknown(Schema.Array(KnownRow))(rows)))
  }).pipe(failWith(`look up the ${column === "username" ? "username" : "user id"} ${JSON.stringify(value)}`))

/**
 * The people whose rows name this username (case folded), in the recipients and unrecorded tables. A username names
 * whoever used it when they commented: it may have changed hands since, which is why a caller confirms.
 */
export const findByUsername = (
  username: string,
  scope: Scope = {}
): Effect.Effect<ReadonlyArray<Known>, LedgerError, SqlClient.SqlClient> =>
  findWhere("username", storable(normaliseUsername(username)).toLowerCase(), scope)

/** The rows the ledger has of a user id (exactly as given), on any platform. */
export const findById = (
  userId: string,
  scope: Scope = {}
): Effect.Effect<ReadonlyArray<Known>, LedgerError, SqlClient.SqlClient> =>
  findWhere("user_id", storable(userId), scope)

const count = (rows: ReadonlyArray<unknown>) => rows.length

/** The states of a row waiting to be messaged, and of one whose message may be on its way or have gone out. */
const waiting = ["pending", "awaiting_reply"]
const unsettled = ["claimed", "in_doubt"]

/** The reason a row claimed or in doubt ends `unconfirmed` with when its person is forgotten. */
export const forgottenUnsettled = "forgotten while claimed or in doubt: the message may have gone out"

/** Forgets one id inside the caller's transaction; answers the counts. */
const forgetOne = (sql: SqlClient.SqlClient, salt: string, userId: string, scope: Scope, now: number) =>
  Effect.gen(function*() {
    const id = storable(userId)
    const hash = Tombstone.hashOf(salt, userId)
    const pseudonym = Tombstone.pseudonymOf(hash)
    // The tombstone first: on SQLite this write takes the database's write lock, so no runner claims or records the
    // person between it and the updates.
    yield* sql`INSERT INTO comment_dm_forgotten (platform, profile, user_hash, forgotten_at)
      VALUES (${Tombstone.anyProfile}, ${scope.profile ?? Tombstone.anyProfile}, ${hash}, ${now})
      ON CONFLICT (platform, profile, user_hash) DO NOTHING`
    const usernames = (yield* sql<{ readonly username: string }>`SELECT DISTINCT username FROM comment_dm_recipients
      WHERE user_id = ${id} AND username IS NOT NULL`).map((row) => row.username)
    const states = (yield* sql<{ readonly state: string }>`SELECT state FROM comment_dm_recipients
      WHERE user_id = ${id} AND ${inScope(sql, scope, "comment_dm_recipients")}`).map((row) => row.state)
    const stopped = states.filter((state) => waiting.includes(state)).length
    const settled = states.filter((state) => unsettled.includes(state)).length
    // Waiting rows end suppressed, so that no runner sends to the pseudonym. Rows claimed or in doubt end unconfirmed:
    // whether their message went out cannot be told without the texts that go now, and a runner holding the claim
    // finds it gone at its next confirmation (the row's id and state change under it). A skip keeps its reason (one of
    // a few words); every other reason may quote the platform about the person and goes.
    const rows = count(
      yield* sql`UPDATE comment_dm_recipients SET user_id = ${pseudonym}, username = NULL, comment_text = NULL,
          message = NULL,
          state = CASE WHEN state IN ${sql.in(waiting)} THEN 'suppressed'
            WHEN state IN ${sql.in(unsettled)} THEN 'unconfirmed' ELSE state END,
          reason = CASE WHEN state IN ${sql.in(waiting)} THEN 'forgotten'
            WHEN state IN ${sql.in(unsettled)} THEN ${forgottenUnsettled}
            WHEN state = 'skipped' THEN reason END,
          lease_until = NULL, settled_at = COALESCE(settled_at, ${now}), updated_at = ${now}
        WHERE user_id = ${id} AND ${inScope(sql, scope, "comment_dm_recipients")} RETURNING step`
    )
    const unrecorded = count(
      yield* sql`UPDATE comment_dm_unrecorded SET user_id = ${pseudonym}, username = NULL,
          reason = ${"forgotten (comment-dm forget); the ledger could not record this person"}
        WHERE user_id = ${id} AND ${inScope(sql, scope, "comment_dm_unrecorded")} RETURNING campaign`
    )
    const replies = count(
      yield* sql`UPDATE comment_dm_comment_replies SET user_id = ${pseudonym}
        WHERE user_id = ${id} ${scope.profile === undefined ? sql`` : sql`AND profile = ${scope.profile}`}
        RETURNING comment_id`
    )
    // The list keeps the person (the tombstone stops them anyway) without naming them; an entry by their username
    // alone names them and goes.
    const byProfile = scope.profile === undefined ? sql`` : sql`AND profile = ${scope.profile}`
    const suppressions = count(
      yield* sql`UPDATE comment_dm_suppressions SET user_id = ${pseudonym}, username = NULL
        WHERE user_id = ${id} ${byProfile} RETURNING profile`
    ) + (usernames.length === 0 ? 0 : count(
      yield* sql`DELETE FROM comment_dm_suppressions WHERE user_id IS NULL
        AND username IN ${sql.in(usernames)} ${byProfile} RETURNING profile`
    ))
    return { rows, stopped, settled, unrecorded, replies, suppressions }
  })

/**
 * Rewrites the database's files so that what the statements before removed is gone from them too: on SQLite a
 * checkpoint that copies the WAL into the database and empties it, a VACUUM that rebuilds the database without its
 * free pages, and a checkpoint again; on PostgreSQL a VACUUM of the tables (dead row versions stay in its files until
 * then). Answers why it could not, if it could not (another process reading the ledger keeps the WAL).
 */
export const scrub: Effect.Effect<string | undefined, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  const run = (statement: string): Effect.Effect<ReadonlyArray<{ readonly busy?: number }>, string> =>
    Effect.mapError(
      sql.unsafe<{ readonly busy?: number }>(statement),
      (error) => `${statement} failed: ${error.message}`
    )
  const checkpoint = Effect.flatMap(run("PRAGMA wal_checkpoint(TRUNCATE)"), (rows) =>
    (rows[0]?.busy ?? 0) === 0
      ? Effect.void
      : Effect.fail("another process has the ledger open, so its WAL file could not be emptied"))
  const rewrite: Effect.Effect<void, string> = sql.onDialectOrElse({
    sqlite: () => Effect.zipRight(Effect.zipRight(checkpoint, run("VACUUM")), checkpoint),
    pg: () =>
      Effect.asVoid(
        run("VACUUM comment_dm_recipients, comment_dm_unrecorded, comment_dm_suppressions, comment_dm_comment_replies")
      ),
    orElse: () => Effect.void
  })
  return yield* Effect.match(rewrite, {
    onFailure: (problem): string | undefined => problem,
    onSuccess: () => undefined
  })
})

/** On SQLite, deleted and overwritten content is zeroed in the pages from here on (for this connection). */
const secureDelete = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.onDialectOrElse({
    sqlite: () => Effect.asVoid(sql.unsafe("PRAGMA secure_delete = ON")),
    orElse: () => Effect.void
  }))

/**
 * Forgets these user ids (exactly as given) in the scope, in one transaction, settling their rows claimed or in doubt
 * `unconfirmed` first. Then scrubs the database's files ({@link scrub}).
 */
export const forget = (
  userIds: ReadonlyArray<string>,
  scope: Scope = {}
): Effect.Effect<Forgotten, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* secureDelete
    const now = yield* Clock.currentTimeMillis
    const totals = yield* Effect.gen(function*() {
      const salt = yield* Tombstone.ensureSalt(sql)
      const sum = { rows: 0, stopped: 0, settled: 0, unrecorded: 0, replies: 0, suppressions: 0 }
      for (const userId of userIds) {
        const one = yield* forgetOne(sql, salt, userId, scope, now)
        sum.rows += one.rows
        sum.stopped += one.stopped
        sum.settled += one.settled
        sum.unrecorded += one.unrecorded
        sum.replies += one.replies
        sum.suppressions += one.suppressions
      }
      return sum
    }).pipe(
      sql.withTransaction,
      Effect.catchTag("SqlError", (cause) => new LedgerError({ operation: "forget the person", cause }))
    )
    const problem = yield* scrub
    return { ...totals, scrubbed: problem === undefined, scrubProblem: problem }
  }).pipe(Effect.catchTag("SqlError", (cause) => new LedgerError({ operation: "forget the person", cause })))

/** The states a row of a step no longer changes from. */
const settledStates = ["sent", "refused", "skipped", "expired", "suppressed", "no_reply", "unconfirmed"] as const

/**
 * Drops the usernames, comment texts and message texts of the rows settled before `before`, and the usernames of
 * people the ledger could not record seen before it; then scrubs the database's files. Rows stay, for the counts.
 */
export const prune = (before: Date): Effect.Effect<Pruned, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* secureDelete
    const cutoff = before.getTime()
    const { rows, unrecorded } = yield* Effect.gen(function*() {
      const rows = count(
        yield* sql`UPDATE comment_dm_recipients SET username = NULL, comment_text = NULL, message = NULL
          WHERE state IN ${sql.in(settledStates)} AND settled_at < ${cutoff}
            AND (username IS NOT NULL OR comment_text IS NOT NULL OR message IS NOT NULL)
          RETURNING step`
      )
      const unrecorded = count(
        yield* sql`UPDATE comment_dm_unrecorded SET username = NULL
          WHERE seen_at < ${cutoff} AND username IS NOT NULL RETURNING campaign`
      )
      return { rows, unrecorded }
    }).pipe(sql.withTransaction)
    const problem = rows + unrecorded === 0 ? undefined : yield* scrub
    return { rows, unrecorded, scrubbed: problem === undefined, scrubProblem: problem }
  }).pipe(Effect.catchTag("SqlError", (cause) => new LedgerError({ operation: "prune the ledger", cause })))
