/**
 * The health of the processes that follow a campaign (`watch`), kept in the ledger's database so that a dashboard
 * reading the same ledger shows it: each writes one row per campaign and runner every few seconds (its heartbeat),
 * with when it last polled, whether the daily DM limit pauses it and until when, whether rate limits slow its polling,
 * and its last error. Read and written over `@effect/sql` alone, on SQLite and PostgreSQL alike.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Integer } from "./internal/ledgerRow.js"
import { LedgerError } from "./Ledger.js"

export interface Heartbeat {
  readonly campaign: string
  /** The process, as the ledger's claims name it (host and pid). */
  readonly runner: string
  readonly platform: string
  readonly profile: string
  /** What writes it: `watch` (and later `serve`). */
  readonly kind: string
  readonly beatAt: Date
  /** The interval the runner was asked to poll at. */
  readonly everyMillis: number
  readonly lastPollAt: Date | undefined
  /** The wait before its next poll, as last decided: longer than `everyMillis` while rate limits slow it down. */
  readonly nextPollMillis: number | undefined
  /** Sends pause at the daily DM limit until then. */
  readonly pausedUntil: Date | undefined
  readonly lastError: string | undefined
  readonly lastErrorAt: Date | undefined
}

/** A heartbeat older than this many intervals (and never less than a minute) means its runner has stopped. */
export const staleAfterIntervals = 3

/** Whether a runner that beat at `beatAt` is still alive at `now`. */
export const isAlive = (beat: Heartbeat, now: Date): boolean =>
  now.getTime() - beat.beatAt.getTime() <= Math.max(60_000, staleAfterIntervals * beat.everyMillis)

/** Whether rate limits have stretched the runner's wait between polls. */
export const isSlowed = (beat: Heartbeat): boolean =>
  beat.nextPollMillis !== undefined && beat.nextPollMillis > beat.everyMillis

const failWith = (operation: string) =>
  Effect.mapError((cause: SqlError | ParseResult.ParseError) => new LedgerError({ operation, cause }))

const millisOrNull = (date: Date | undefined) => date === undefined ? null : date.getTime()

/** Writes (or rewrites) the runner's heartbeat for its campaign. */
export const write = (beat: Heartbeat): Effect.Effect<void, LedgerError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const row = {
      campaign: beat.campaign,
      runner: beat.runner,
      platform: beat.platform,
      profile: beat.profile,
      kind: beat.kind,
      beat_at: beat.beatAt.getTime(),
      every_ms: beat.everyMillis,
      last_poll_at: millisOrNull(beat.lastPollAt),
      next_poll_ms: beat.nextPollMillis ?? null,
      paused_until: millisOrNull(beat.pausedUntil),
      last_error: beat.lastError ?? null,
      last_error_at: millisOrNull(beat.lastErrorAt)
    }
    return sql.withoutTransforms()`INSERT INTO comment_dm_heartbeats ${sql.insert(row)}
      ON CONFLICT (campaign, runner) DO UPDATE SET platform = ${row.platform}, profile = ${row.profile},
        kind = ${row.kind}, beat_at = ${row.beat_at}, every_ms = ${row.every_ms}, last_poll_at = ${row.last_poll_at},
        next_poll_ms = ${row.next_poll_ms}, paused_until = ${row.paused_until}, last_error = ${row.last_error},
        last_error_at = ${row.last_error_at}`
  }).pipe(Effect.asVoid, failWith(`write the heartbeat of campaign ${beat.campaign}`))

const HeartbeatRow = Schema.Struct({
  campaign: Schema.String,
  runner: Schema.String,
  platform: Schema.String,
  profile: Schema.String,
  kind: Schema.String,
  beat_at: Integer,
  every_ms: Integer,
  last_poll_at: Schema.NullOr(Integer),
  next_poll_ms: Schema.NullOr(Integer),
  paused_until: Schema.NullOr(Integer),
  last_error: Schema.NullOr(Schema.String),
  last_error_at: Schema.NullOr(Integer)
})

const dateOf = (millis: number | null) => millis === null ? undefined : new Date(millis)

/** Every heartbeat of the ledger, newest first. */
export const list: Effect.Effect<ReadonlyArray<Heartbeat>, LedgerError, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    sql.withoutTransforms()`SELECT campaign, runner, platform, profile, kind, beat_at, every_ms, last_poll_at,
      next_poll_ms, paused_until, last_error, last_error_at FROM comment_dm_heartbeats ORDER BY beat_at DESC`
).pipe(
  Effect.flatMap(Schema.decodeUnknown(Schema.Array(HeartbeatRow))),
  Effect.map((rows) =>
    rows.map((row): Heartbeat => ({
      campaign: row.campaign,
      runner: row.runner,
      platform: row.platform,
      profile: row.profile,
      kind: row.kind,
      beatAt: new Date(row.beat_at),
      everyMillis: row.every_ms,
      lastPollAt: dateOf(row.last_poll_at),
      nextPollMillis: row.next_poll_ms ?? undefined,
      pausedUntil: dateOf(row.paused_until),
      lastError: row.last_error ?? undefined,
      lastErrorAt: dateOf(row.last_error_at)
    }))
  ),
  failWith("read the heartbeats")
)
