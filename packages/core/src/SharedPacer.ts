/**
 * A send pace shared by every runner of one Upload-Post profile. The pace and the daily DM limit belong to the
 * profile, not to a process: runners that send from the same profile share its budget through the ledger database.
 *
 * Each slot is reserved by one atomic statement on the profile's row, which holds the next free slot time, so no two
 * runners are ever handed slots closer than the spacing. Works on SQLite and PostgreSQL, over the client of
 * `SqliteLedger.layerClient` or `PgLedger.layerClient` (which create the tables).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as DailyBudget from "./DailyBudget.js"
import { LedgerError } from "./Ledger.js"
import { Pacer, type Service as PacerService, type Slot, unheeded } from "./Pacer.js"

export interface Options {
  /** The Upload-Post profile username the runners send from. */
  readonly profile: string
  readonly platform: string
  /** The profile's sends per `per` (e.g. 200 per hour), across all its runners; evenly spaced. */
  readonly count: number
  /** Default one hour. */
  readonly per?: Duration.DurationInput | undefined
  /**
   * The profile's own cap of sends per UTC day, counted with {@link SharedPacer.recordSent}. Sends already in flight
   * when the count reaches it still go out: the day may end up to the number of sends in flight (across every
   * runner) above it.
   */
  readonly dailyLimit?: number | undefined
}

export interface SharedPacer extends PacerService {
  /**
   * Waits for the next slot of the profile. The slot is reserved before the wait, so interrupting the wait gives
   * it up for no one (safe side). A database failure here is a defect: the claim before it and the settlement after
   * it use the same database and report such failures. Slots are spaced evenly across runners; the answers of the
   * requests are not needed.
   */
  readonly take: Effect.Effect<Slot>
  /** Reserves the next slot of the profile without waiting for it; succeeds with its time in epoch milliseconds. */
  readonly reserve: Effect.Effect<number, LedgerError>
  /** Counts a send the platform accepted for the profile today (UTC); succeeds with today's count so far. */
  readonly recordSent: Effect.Effect<number, LedgerError>
  /** The sends recorded for the profile today (UTC) by every runner. */
  readonly sentToday: Effect.Effect<number, LedgerError>
  /** Records that the platform said the profile's daily DM limit is reached, today (UTC) or on the given day. */
  readonly markDailyLimit: (day?: string) => Effect.Effect<void, LedgerError>
  /** Records that the platform accepted a message after it said the limit: every mark of the profile is cleared. */
  readonly markLimitLifted: Effect.Effect<void, LedgerError>
  /** The latest time a runner marked the limit as reached and nobody has lifted it since, if any. */
  readonly limitReachedAt: Effect.Effect<Date | undefined, LedgerError>
  /** Whether any runner marked today's limit as reached, or `dailyLimit` sends have been recorded today. */
  readonly dailyLimitReached: Effect.Effect<boolean, LedgerError>
  /** The profile's daily limit as a campaign uses it (see {@link layer}). */
  readonly budget: DailyBudget.Service
}

/** The UTC day of an instant, as `YYYY-MM-DD`: the key of the daily counts. */
export const utcDay = (millis: number): string => new Date(millis).toISOString().slice(0, 10)

/** SQLite returns integers as numbers; PostgreSQL returns BIGINT as a string. */
const Integer = Schema.Union(Schema.Number, Schema.NumberFromString)

const decodeNextSlot = Schema.decodeUnknown(Schema.Array(Schema.Struct({ next_slot: Integer })))
const decodeSentCount = Schema.decodeUnknown(Schema.Array(Schema.Struct({ sent_count: Integer })))
const decodeBudget = Schema.decodeUnknown(Schema.Array(Schema.Struct({
  sent_count: Integer,
  limit_reached_at: Schema.NullOr(Integer)
})))
const decodeMarks = Schema.decodeUnknown(Schema.Array(Schema.Struct({
  day: Schema.String,
  sent_count: Integer,
  limit_reached_at: Schema.NullOr(Integer)
})))

/** A mark of the daily limit older than this has had its reset, whatever the campaign's `daily_reset`. */
const markLifetimeDays = 2

export const make = (options: Options): Effect.Effect<SharedPacer, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const { dailyLimit, platform, profile } = options
    // Whole milliseconds, rounded up so that the pace is never faster than asked.
    const spacing = Math.ceil(Duration.toMillis(options.per ?? Duration.hours(1)) / Math.max(1, options.count))
    const who = `profile ${profile} on ${platform}`
    const failWith = (operation: string) =>
      Effect.mapError((cause: SqlError | ParseResult.ParseError) =>
        new LedgerError({ operation: `${operation} for ${who}`, cause })
      )

    const reserve = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const earliest = sql.onDialectOrElse({
        pg: () => sql`GREATEST(comment_dm_profile_pace.next_slot, ${now})`,
        orElse: () => sql`MAX(comment_dm_profile_pace.next_slot, ${now})`
      })
      const rows = yield* sql`INSERT INTO comment_dm_profile_pace (profile, platform, next_slot)
        VALUES (${profile}, ${platform}, ${now + spacing})
        ON CONFLICT (profile, platform) DO UPDATE SET next_slot = ${earliest} + ${spacing}
        RETURNING next_slot`.pipe(Effect.flatMap(decodeNextSlot))
      const next = rows[0]?.next_slot ?? now + spacing
      return next - spacing
    }).pipe(failWith("reserve a send slot"))

    const take = Effect.gen(function*() {
      const slot = yield* Effect.orDie(reserve)
      const now = yield* Clock.currentTimeMillis
      if (slot > now) yield* Effect.sleep(Duration.millis(slot - now))
      return unheeded
    })

    const today = Effect.map(Clock.currentTimeMillis, utcDay)

    const recordSent = Effect.gen(function*() {
      const day = yield* today
      const rows = yield* sql`INSERT INTO comment_dm_profile_budget (profile, platform, day, sent_count)
        VALUES (${profile}, ${platform}, ${day}, 1)
        ON CONFLICT (profile, platform, day) DO UPDATE SET sent_count = comment_dm_profile_budget.sent_count + 1
        RETURNING sent_count`.pipe(Effect.flatMap(decodeSentCount))
      return rows[0]?.sent_count ?? 1
    }).pipe(failWith("count a send"))

    const budgetToday = Effect.gen(function*() {
      const day = yield* today
      const rows = yield* sql`SELECT sent_count, limit_reached_at FROM comment_dm_profile_budget
        WHERE profile = ${profile} AND platform = ${platform} AND day = ${day}`.pipe(Effect.flatMap(decodeBudget))
      return rows[0] ?? { sent_count: 0, limit_reached_at: null }
    })

    const markDailyLimit = (day?: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const limitDay = day ?? utcDay(now)
        // The first mark of the day is kept: it says when the platform first refused.
        yield* sql`INSERT INTO comment_dm_profile_budget (profile, platform, day, sent_count, limit_reached_at)
          VALUES (${profile}, ${platform}, ${limitDay}, 0, ${now})
          ON CONFLICT (profile, platform, day) DO UPDATE
          SET limit_reached_at = COALESCE(comment_dm_profile_budget.limit_reached_at, excluded.limit_reached_at)`
      }).pipe(failWith("record that the daily DM limit is reached"))

    const markLimitLifted = sql`UPDATE comment_dm_profile_budget SET limit_reached_at = NULL
      WHERE profile = ${profile} AND platform = ${platform} AND limit_reached_at IS NOT NULL`.pipe(
      Effect.asVoid,
      failWith("record that the daily DM limit is lifted")
    )

    /** The recent days' rows of the profile, newest first: a mark from yesterday may still hold today. */
    const status = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const rows = yield* sql`SELECT day, sent_count, limit_reached_at FROM comment_dm_profile_budget
        WHERE profile = ${profile} AND platform = ${platform} AND day >= ${utcDay(now - markLifetimeDays * 86_400_000)}
        ORDER BY day DESC`.pipe(Effect.flatMap(decodeMarks))
      const today = utcDay(now)
      const sentToday = rows.find((row) => row.day === today)?.sent_count ?? 0
      const mark = rows.find((row) => row.limit_reached_at !== null)?.limit_reached_at
      const result: DailyBudget.BudgetStatus = {
        capReached: dailyLimit !== undefined && sentToday >= dailyLimit,
        limitReachedAt: mark === undefined || mark === null ? undefined : new Date(mark)
      }
      return result
    }).pipe(failWith("read the profile's daily DM limit"))

    const dailyLimitReached = budgetToday.pipe(
      Effect.map((budget) =>
        budget.limit_reached_at !== null || (dailyLimit !== undefined && budget.sent_count >= dailyLimit)
      ),
      failWith("read today's daily DM limit")
    )

    return {
      take,
      reserve,
      recordSent,
      sentToday: budgetToday.pipe(
        Effect.map((budget) => budget.sent_count),
        failWith("read today's sends")
      ),
      markDailyLimit,
      markLimitLifted,
      limitReachedAt: Effect.map(status, (known) => known.limitReachedAt),
      dailyLimitReached,
      budget: {
        status,
        markExhausted: markDailyLimit(),
        markLifted: markLimitLifted,
        recordSent: Effect.map(recordSent, (count) => dailyLimit !== undefined && count >= dailyLimit)
      }
    }
  })

/**
 * The pace and the daily budget of a profile, shared with every other runner that sends from it: what a campaign run
 * takes from its context instead of pacing itself.
 */
export const layer = (options: Options): Layer.Layer<Pacer | DailyBudget.DailyBudget, never, SqlClient.SqlClient> =>
  Layer.unwrapEffect(
    Effect.map(make(options), (shared) => Layer.merge(Layer.succeed(Pacer, shared), DailyBudget.layer(shared.budget)))
  )
