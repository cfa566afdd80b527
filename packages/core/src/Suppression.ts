/**
 * The profile's suppression list: people who opted out (an opt-out word as a whole DM to the account or as a whole
 * comment) or were added by hand or by import. Every campaign of the profile checks it inside the claim itself (see
 * `SqlLedger`'s claim): a person on the list is never messaged by any step once the list records them.
 *
 * A person is on the list by user id, by username, or both; usernames are kept without `@` and in lower case (the
 * platforms' usernames are case-insensitive ASCII), and match a ledger row's username the same way.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Arr from "effect/Array"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { foldFully } from "./internal/fold.js"
import { storable } from "./internal/storable.js"
import { LedgerError } from "./Ledger.js"

/** The opt-out words when a campaign names none. */
export const defaultOptOutWords: ReadonlyArray<string> = ["STOP", "UNSUBSCRIBE", "REMOVE"]

/** Folded like the matcher folds keywords, with the whitespace around and between words collapsed. */
export const foldWhole = (text: string): string => foldFully(text).replace(/\s+/gu, " ").trim()

/**
 * Whether a whole text (a DM, a comment) is one of the opt-out words once folded: "Stop ", "ＳＴＯＰ" and "stop" are;
 * "stop sending me this", "how do I remove the watermark?" and "STOP!" are not (a lead, or someone shouting a word).
 */
export const isOptOut = (words: ReadonlyArray<string>) => {
  const folded = new Set(words.map(foldWhole))
  return (text: string): boolean => folded.has(foldWhole(text))
}

/** Where a person on the list came from. */
export const Source = Schema.Literal("dm", "comment", "manual", "import")
export type Source = typeof Source.Type

/** One person on the list of a profile on a platform. */
export interface Entry {
  readonly platform: string
  readonly profile: string
  readonly userId: string | undefined
  readonly username: string | undefined
  readonly source: Source
  readonly createdAt: Date
}

/** Who to add or remove: a user id, a username, or both. */
export interface Person {
  readonly userId?: string | undefined
  readonly username?: string | undefined
}

/**
 * A username as the list keeps it: without a leading `@`, trimmed, in lower case, as the database can hold it (see
 * `storable`, as the ledger's rows keep it); undefined when nothing is left.
 */
export const normaliseUsername = (username: string | undefined): string | undefined => {
  const name = username?.trim().replace(/^@/, "").trim().toLowerCase()
  return name === undefined || name === "" ? undefined : storable(name)
}

const normaliseId = (userId: string | undefined): string | undefined => {
  const id = userId?.trim()
  return id === undefined || id === "" ? undefined : storable(id)
}

/**
 * Within a statement on `comment_dm_recipients`: the row's person is on the list of its campaign's profile, by id or
 * by username. It reads the list as the statement runs, so a claim and the list are decided together.
 */
export const listed = (sql: SqlClient.SqlClient) => {
  // One lookup by id and one by username, each on its own index (an OR inside one would scan the profile's list).
  const byProfile = sql`FROM comment_dm_campaigns c JOIN comment_dm_suppressions s ON s.profile = c.profile_user
    AND s.platform = comment_dm_recipients.platform WHERE c.name = comment_dm_recipients.campaign`
  return sql`(EXISTS (SELECT 1 ${byProfile} AND s.user_id = comment_dm_recipients.user_id)
    OR EXISTS (SELECT 1 ${byProfile} AND s.username = LOWER(comment_dm_recipients.username)))`
}

/** The reason a row refused by the list is settled `suppressed` with. */
export const listedReason = "opted_out: on the profile's suppression list"

/** Settles the row `suppressed` when it is in one of `states` and its person is on the list. */
export const settleListed = (
  sql: SqlClient.SqlClient,
  where: Statement.Statement<unknown>,
  states: ReadonlyArray<string>,
  now: number
) =>
  sql`UPDATE comment_dm_recipients SET state = 'suppressed', reason = ${listedReason}, lease_until = NULL,
      settled_at = ${now}, updated_at = ${now}
    WHERE ${where} AND state IN ${sql.in(states)} AND ${listed(sql)}`

const Row = Schema.Struct({
  platform: Schema.String,
  profile: Schema.String,
  user_id: Schema.NullOr(Schema.String),
  username: Schema.NullOr(Schema.String),
  source: Source,
  created_at: Schema.Union(Schema.Number, Schema.NumberFromString)
})
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

const entryOf = (row: typeof Row.Type): Entry => ({
  platform: row.platform,
  profile: row.profile,
  userId: row.user_id ?? undefined,
  username: row.username ?? undefined,
  source: row.source,
  createdAt: new Date(row.created_at)
})

const failWith = (operation: string) =>
  Effect.mapError((cause: SqlError | ParseResult.ParseError) => new LedgerError({ operation, cause }))

/** Whom the list names on a platform for a profile. */
export interface Scope {
  readonly platform: string
  readonly profile: string
}

/** A person as the list keeps them, or undefined when neither an id nor a username is left. */
const normalise = (person: Person) => {
  const userId = normaliseId(person.userId)
  const username = normaliseUsername(person.username)
  return userId === undefined && username === undefined ? undefined : { userId, username }
}

/**
 * Adds people to the list; a person already on it (by id, or by username when no id is given) is left as they are,
 * except that a known id gains a username it lacked. Succeeds with how many were added.
 */
export const add = (
  scope: Scope,
  people: ReadonlyArray<Person>,
  source: Source
): Effect.Effect<number, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const now = yield* Clock.currentTimeMillis
    let added = 0
    for (const person of Arr.filterMap(people, (person) => Option.fromNullable(normalise(person)))) {
      const row = {
        platform: scope.platform,
        profile: scope.profile,
        user_id: person.userId ?? null,
        username: person.username ?? null,
        source,
        created_at: now
      }
      if (person.userId !== undefined) {
        // Known by username alone until now: the row with the id takes its place.
        if (person.username !== undefined) {
          yield* sql`DELETE FROM comment_dm_suppressions WHERE platform = ${scope.platform}
            AND profile = ${scope.profile} AND user_id IS NULL AND username = ${person.username}`
        }
        const inserted = yield* sql`INSERT INTO comment_dm_suppressions ${sql.insert(row)}
          ON CONFLICT (platform, profile, user_id) DO NOTHING RETURNING source`
        if (inserted.length > 0) added++
        else if (person.username !== undefined) {
          yield* sql`UPDATE comment_dm_suppressions SET username = COALESCE(username, ${person.username})
            WHERE platform = ${scope.platform} AND profile = ${scope.profile} AND user_id = ${person.userId}`
        }
        continue
      }
      const known = yield* sql`SELECT 1 FROM comment_dm_suppressions WHERE platform = ${scope.platform}
        AND profile = ${scope.profile} AND username = ${person.username ?? null}`
      if (known.length > 0) continue
      yield* sql`INSERT INTO comment_dm_suppressions ${sql.insert(row)}`
      added++
    }
    return added
  }).pipe(
    (effect) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(effect)),
    failWith(`add ${people.length} people to the suppression list of ${scope.profile}`)
  )

/** Removes a person from the list: every row with their id, or with their username. Succeeds with how many rows. */
export const remove = (scope: Scope, person: Person): Effect.Effect<number, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const who = normalise(person)
    if (who === undefined) return 0
    const matches = [
      ...(who.userId === undefined ? [] : [sql`user_id = ${who.userId}`]),
      ...(who.username === undefined ? [] : [sql`username = ${who.username}`])
    ]
    const rows = yield* sql`DELETE FROM comment_dm_suppressions WHERE platform = ${scope.platform}
      AND profile = ${scope.profile} AND ${sql.or(matches)} RETURNING source`
    return rows.length
  }).pipe(failWith(`remove a person from the suppression list of ${scope.profile}`))

/** The list of a profile on a platform, oldest first. */
export const list = (scope: Scope): Effect.Effect<ReadonlyArray<Entry>, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const rows = yield* sql`SELECT platform, profile, user_id, username, source, created_at
      FROM comment_dm_suppressions WHERE platform = ${scope.platform} AND profile = ${scope.profile}
      ORDER BY created_at, user_id, username`.pipe(Effect.flatMap(decodeRows))
    return rows.map(entryOf)
  }).pipe(failWith(`read the suppression list of ${scope.profile}`))

/**
 * Of these people, those on the list of the profile, by id or by username (any case): what a claim would settle
 * `suppressed`. For the reads that claim nobody (a dry run, `doctor`). Answered with the ids as given.
 */
export const listedAmong = (
  scope: Scope,
  people: ReadonlyArray<Person & { readonly userId: string }>,
  batchSize = 500
): Effect.Effect<ReadonlySet<string>, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const found = new Set<string>()
    for (const batch of Arr.chunksOf(people, batchSize)) {
      const ids = batch.flatMap((person) => normaliseId(person.userId) ?? [])
      const names = batch.flatMap((person) => normaliseUsername(person.username) ?? [])
      const matches = [
        ...(ids.length === 0 ? [] : [sql`user_id IN ${sql.in(ids)}`]),
        ...(names.length === 0 ? [] : [sql`username IN ${sql.in(names)}`])
      ]
      if (matches.length === 0) continue
      const rows = yield* sql<{ readonly user_id: string | null; readonly username: string | null }>`
        SELECT user_id, username FROM comment_dm_suppressions WHERE platform = ${scope.platform}
          AND profile = ${scope.profile} AND ${sql.or(matches)}`
      const listedIds = new Set(rows.flatMap((row) => row.user_id ?? []))
      const listedNames = new Set(rows.flatMap((row) => row.username ?? []))
      for (const person of batch) {
        const name = normaliseUsername(person.username)
        if (listedIds.has(normaliseId(person.userId) ?? "") || (name !== undefined && listedNames.has(name))) {
          found.add(person.userId)
        }
      }
    }
    return found
  }).pipe(failWith(`look ${people.length} people up on the suppression list of ${scope.profile}`))

/** The profiles (with their platforms) the ledger's campaigns send from, and those its list names. */
export const scopes: Effect.Effect<ReadonlyArray<Scope>, LedgerError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  const rows = yield* sql`SELECT platform, profile_user AS profile FROM comment_dm_campaigns
    UNION SELECT platform, profile FROM comment_dm_suppressions ORDER BY profile, platform`.pipe(
    Effect.flatMap(
      Schema.decodeUnknown(Schema.Array(Schema.Struct({ platform: Schema.String, profile: Schema.String })))
    )
  )
  return rows
}).pipe(failWith("read the profiles of the ledger"))
