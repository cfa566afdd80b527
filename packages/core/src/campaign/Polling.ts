/**
 * Polling, for a watcher: one poll reads the posts due (see `PollPlan`) once (`Reading.newPages`: down to the first page that holds
 * nothing new since the post's read mark, as a run does) and hands the pages to a pass. The interval between polls is
 * a Schedule, which slows down while the API rate-limits reads.
 */
import { Duration, Effect, Either, Schedule, ScheduleDecision, ScheduleInterval, Stream } from "effect"
import type * as Ledger from "../Ledger.js"
import type * as Errors from "../UploadPostError.js"
import type { Engine } from "./Engine.js"
import type * as Reading from "./Reading.js"

/** Reads that fail this way end only the poll; the next poll tries again. */
export type Passing = Errors.Transient | Errors.RateLimited | Errors.MalformedResponse

const isPassing = (error: Reading.ReadFailure): error is Passing =>
  error._tag === "Transient" || error._tag === "RateLimited" || error._tag === "MalformedResponse"

/** How one poll's read went: every post read (and its people sent to), or a passing failure. */
export type PollRead = Either.Either<void, Passing>

/** A poll with no post due: nothing read, and nothing failed. */
export const nothingRead: PollRead = Either.right(undefined)

/**
 * One poll: the posts given read at once (`concurrency` at a time), and the people found sent to, as one pass.
 * `observe` sees every item read (the plan learns from the pages which posts are active).
 */
export const poll = (
  engine: Engine,
  posts: ReadonlyArray<Reading.PostRef>,
  concurrency: number,
  countPage: Effect.Effect<void>,
  observe: (item: Reading.Item) => void = () => undefined
): Effect.Effect<PollRead, Exclude<Reading.ReadFailure, Passing> | Ledger.LedgerError> =>
  engine.pass(
    Stream.fromIterable(posts).pipe(
      Stream.flatMap((post) => engine.newPages(post, countPage), { concurrency }),
      Stream.tap((item) => Effect.sync(() => observe(item)))
    )
  ).pipe(
    Effect.map(Either.right),
    Effect.catchIf(
      (error): error is Passing => error._tag !== "LedgerError" && isPassing(error),
      (error) => Effect.succeed(Either.left(error))
    )
  )

/**
 * The time from the start of one poll to the start of the next: `every`, doubled after each rate-limited read up to
 * `maxInterval` (a rate-limited API gets fewer polls until it answers freely again), back to `every` after a read
 * that went through.
 */
export const intervals = (
  every: Duration.Duration,
  maxInterval: Duration.Duration
): Schedule.Schedule<Duration.Duration, PollRead> =>
  Schedule.makeWithState(every, (now, read: PollRead, interval: Duration.Duration) => {
    const next = Either.isRight(read)
      ? every
      : read.left._tag === "RateLimited"
      ? Duration.min(Duration.times(interval, 2), maxInterval)
      : interval
    return Effect.succeed([next, next, ScheduleDecision.continueWith(ScheduleInterval.after(now))] as const)
  })
