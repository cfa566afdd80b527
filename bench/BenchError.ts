/**
 * A benchmark that could not produce its figures: a process that did not start, a run that failed, or a count that
 * does not match the sandbox's ground truth.
 */
import { Data, Effect } from "effect"

export class BenchError extends Data.TaggedError("BenchError")<{
  readonly benchmark: string
  readonly reason: string
}> {
  override get message(): string {
    return `benchmark "${this.benchmark}" failed: ${this.reason}`
  }
}

const describe = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "message" in cause ? String(cause.message) : String(cause)

/** Turns any failure of a benchmark into a {@link BenchError} that says which benchmark and why. */
export const within = (benchmark: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, BenchError, R> =>
  Effect.mapError(
    self,
    (cause) => cause instanceof BenchError ? cause : new BenchError({ benchmark, reason: describe(cause) })
  )
