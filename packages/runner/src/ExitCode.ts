/**
 * The command's exit codes (DESIGN.md, "Command contract").
 */
import type { Campaign } from "@comment-dm/core"
import type { Teardown } from "@effect/platform/Runtime"
import { Data, Effect, Exit } from "effect"

export const ExitCode = {
  /** Every matching commenter settled. */
  Settled: 0,
  /** Anything unexpected. */
  Failure: 1,
  /** Usage or configuration error; nothing was sent. */
  Configuration: 2,
  /** Stopped by the daily DM limit. */
  DailyLimit: 3,
  /** Key or account error. */
  Unauthorized: 4,
  /** Done, but some people are pending or in doubt. */
  Incomplete: 5,
  /** Interrupted by SIGINT/SIGTERM after settling sends in flight. */
  Interrupted: 130
} as const
export type ExitCode = typeof ExitCode[keyof typeof ExitCode]

export const ofOutcome = (outcome: Campaign.Outcome): ExitCode => {
  switch (outcome) {
    case "completed":
    case "dry_run":
      return ExitCode.Settled
    case "incomplete":
      return ExitCode.Incomplete
    case "daily_limit":
      return ExitCode.DailyLimit
    case "interrupted":
      return ExitCode.Interrupted
    case "failed":
      return ExitCode.Failure
  }
}

/**
 * A subcommand that did its work and reported it, but did not settle everyone (people pending, in doubt or not
 * accounted for, a daily limit, a stop request): no error to print, only an exit code other than 0.
 */
export class Unsettled extends Data.TaggedError("Unsettled")<{ readonly code: ExitCode }> {
  override get message() {
    return `ended with exit code ${this.code}`
  }
}

/** Succeeds for {@link ExitCode.Settled}; any other code fails with {@link Unsettled}. */
export const settle = (code: ExitCode): Effect.Effect<void, Unsettled> =>
  code === ExitCode.Settled ? Effect.void : Effect.fail(new Unsettled({ code }))

/** Resolves once everything written to the stream so far has been handed to the system (a slow pipe included). */
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write("", () => resolve()))

/**
 * How the process ends (`NodeRuntime.runMain`'s teardown): with the exit code the program set, or 130 when a signal
 * interrupted it; and only once its output is written, so that a slow reader (`comment-dm export | gzip`) gets all of
 * it.
 */
export const teardown: Teardown = (exit, onExit) => {
  const code = Exit.isSuccess(exit)
    ? Number(process.exitCode ?? ExitCode.Settled)
    : Exit.isInterrupted(exit)
    ? ExitCode.Interrupted
    : ExitCode.Failure
  process.exitCode = code
  void Promise.all([flushed(process.stdout), flushed(process.stderr)]).then(() => {
    onExit(code)
    // Idle keep-alive sockets must not hold the process open once the work is done.
    setTimeout(() => process.exit(code), 1_000).unref()
  })
}
