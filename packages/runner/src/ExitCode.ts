/**
 * The command's exit codes (DESIGN.md, "Command contract").
 */
import type { Campaign } from "@comment-dm/core"

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

const tagOf = (value: unknown): unknown =>
  typeof value === "object" && value !== null && "_tag" in value ? value._tag : undefined

/**
 * Failures by tag: configuration and bad requests are 2 (so is a ledger that a newer version has upgraded: this
 * installation needs upgrading), the key is 4, the rest 1.
 */
export const ofError = (error: unknown): ExitCode => {
  const tag = tagOf(error)
  if (tag === "LedgerError" && typeof error === "object" && error !== null && "cause" in error) {
    if (tagOf(error.cause) === "LedgerSchemaTooNew") return ExitCode.Configuration
  }
  switch (tag) {
    case "CampaignFileError":
    case "CampaignSpecError":
    case "ConfigError":
    case "DatabaseUrlError":
    case "InvalidRequest":
    case "ValidationError":
    case "MissingData":
    case "InvalidData":
      return ExitCode.Configuration
    case "Unauthorized":
      return ExitCode.Unauthorized
    case "DailyLimitReached":
      return ExitCode.DailyLimit
    default:
      return ExitCode.Failure
  }
}
