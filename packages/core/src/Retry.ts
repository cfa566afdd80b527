/**
 * The retry policy, in one place. Only `Transient` failures are retried, with exponential back-off and jitter,
 * bounded in attempts and in total time. A request-rate 429 (`RateLimited`) waits for its reset and tries again,
 * a bounded number of times. The daily DM limit, refusals, invalid requests and sends in doubt are never retried.
 */
import { Duration, Effect, Schedule } from "effect"
import { dual } from "effect/Function"
import type { RateLimited, Transient } from "./UploadPostError.js"

export interface RetryPolicy {
  /** Attempts in all for a transient failure, the first included. */
  readonly maxAttempts: number
  readonly baseDelay: Duration.DurationInput
  readonly maxDelay: Duration.DurationInput
  /** No further transient retry once this much time has passed since the first failure. */
  readonly maxElapsed: Duration.DurationInput
  /** How many request-rate resets to wait for before giving up. */
  readonly maxRateLimitWaits: number
  /** A reset further away than this is not waited for: the error is returned instead. */
  readonly maxRateLimitWait: Duration.DurationInput
}

export const defaultPolicy: RetryPolicy = {
  maxAttempts: 5,
  baseDelay: Duration.millis(250),
  maxDelay: Duration.seconds(8),
  maxElapsed: Duration.seconds(60),
  maxRateLimitWaits: 20,
  maxRateLimitWait: Duration.minutes(15)
}

/**
 * One attempt, no waiting: a 429 or a 500 reaches the caller at once. For a watcher on a simulated clock, which slows
 * down on its own, and for tests.
 */
export const noWaiting: RetryPolicy = {
  maxAttempts: 1,
  baseDelay: Duration.millis(1),
  maxDelay: Duration.millis(1),
  maxElapsed: Duration.millis(1),
  maxRateLimitWaits: 0,
  maxRateLimitWait: Duration.minutes(1)
}

const isTransient = (error: unknown): error is Transient =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "Transient"

const isRateLimited = (error: unknown): error is RateLimited =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "RateLimited"

/** Exponential back-off with jitter, each delay capped at `maxDelay`, bounded in attempts and elapsed time. */
export const transientSchedule = (policy: RetryPolicy): Schedule.Schedule<unknown, unknown> =>
  Schedule.exponential(policy.baseDelay).pipe(
    Schedule.jittered,
    Schedule.union(Schedule.spaced(policy.maxDelay)),
    Schedule.intersect(Schedule.recurs(Math.max(0, policy.maxAttempts - 1))),
    Schedule.upTo(policy.maxElapsed)
  )

/** Waits out each request-rate reset the API announces, up to `maxRateLimitWaits` times, none too far away. */
const rateLimitSchedule = <E>(policy: RetryPolicy): Schedule.Schedule<E, E> => {
  const longest = Duration.decode(policy.maxRateLimitWait)
  return Schedule.identity<E>().pipe(
    Schedule.addDelay((error) => isRateLimited(error) ? error.retryAfter : Duration.zero),
    Schedule.whileInput((error: E) => isRateLimited(error) && Duration.lessThanOrEqualTo(error.retryAfter, longest)),
    Schedule.intersect(Schedule.recurs(policy.maxRateLimitWaits)),
    Schedule.map(([error]) => error)
  )
}

/** Retries after the first failure the schedule accepts, as `Effect.retry` does. */
const retryingOn = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  schedule: Schedule.Schedule<unknown, unknown>
): Effect.Effect<A, E, R> =>
  // The schedule's driver is made at the first failure, not before every request: nearly every request succeeds,
  // and a driver per request was a noticeable part of the cost of a send at zero latency.
  Effect.catchAll(self, (first) =>
    Effect.flatMap(Schedule.driver(schedule), (driver) => {
      const next = (error: E): Effect.Effect<A, E, R> =>
        Effect.matchEffect(driver.next(error), {
          onFailure: () => Effect.fail(error),
          onSuccess: () => Effect.catchAll(self, next)
        })
      return next(first)
    }))

interface Schedules {
  readonly transient: Schedule.Schedule<unknown, unknown>
  readonly rateLimit: Schedule.Schedule<unknown, unknown>
}

/** A policy's schedules, made once per policy rather than per request. */
const schedulesByPolicy = new WeakMap<RetryPolicy, Schedules>()

const schedulesOf = (policy: RetryPolicy): Schedules => {
  const known = schedulesByPolicy.get(policy)
  if (known !== undefined) return known
  const made: Schedules = {
    transient: transientSchedule(policy).pipe(Schedule.whileInput(isTransient)),
    rateLimit: rateLimitSchedule(policy)
  }
  schedulesByPolicy.set(policy, made)
  return made
}

/**
 * Applies the policy to one request. Use it around the smallest unit that is safe to repeat: one HTTP request,
 * with pacing inside, so that every attempt takes its turn.
 */
export const retrying: {
  (policy: RetryPolicy): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, policy: RetryPolicy): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, policy: RetryPolicy): Effect.Effect<A, E, R> => {
  const schedules = schedulesOf(policy)
  return retryingOn(retryingOn(self, schedules.transient), schedules.rateLimit)
})
