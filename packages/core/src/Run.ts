/**
 * What a campaign run tells its caller: the events it emits while it goes, the live `Progress` they carry, and the
 * `Summary` it ends with (its `Outcome` and `Counts`), or the `RunError` that stopped it. `Campaign.run` and
 * `Watch.watch` share these.
 */
import { Data } from "effect"
import type * as Ledger from "./Ledger.js"
import type * as Errors from "./UploadPostError.js"

/** How a run ended; the command maps each to its exit code. */
export type Outcome =
  /** Every matching commenter is settled: sent or refused. */
  | "completed"
  /** Done, but some people are pending (not sent yet) or in doubt. */
  | "incomplete"
  /** Sends stopped at the profile's daily DM limit; the rest stay pending for a run after the reset. */
  | "daily_limit"
  /** Stopped on request (SIGINT/SIGTERM); sends in flight were settled first. */
  | "interrupted"
  /** Nothing was sent or written: `--dry-run`. */
  | "dry_run"
  /**
   * Something went wrong that a rerun alone does not mend, and the summary's `problems` say what: a post whose pages
   * came round again (read only up to there), or people the ledger could not record (never sent to). The rest of the
   * campaign went on.
   */
  | "failed"

export interface Counts {
  /** Comments read. */
  readonly comments: number
  /** Comments without a usable commenter id, and the account's own, skipped (see `Summary.dropped` for why). */
  readonly dropped: number
  /** Matching people known to the campaign (all runs); for a dry run, those seen by this one. */
  readonly matched: number
  /** Matching people seen for the first time by this run. */
  readonly new: number
  /** DMs accepted by the platform in this run. */
  readonly sent: number
  /** People sent by an earlier run. */
  readonly already_sent: number
  readonly refused: number
  /** People `auto` did not write to for a reason known before any request (see the summary's `skipped`). */
  readonly skipped: number
  /** People whose deadline passed while they waited for their turn. */
  readonly expired: number
  /** People who opted out: their latest message to the account is an opt-out word. */
  readonly suppressed: number
  readonly pending: number
  readonly in_doubt: number
  /** People another live runner holds a claim on right now. */
  readonly claimed_elsewhere: number
  /** People a dry run would send to. */
  readonly would_send: number
  /** People left pending because `max_sends` was reached. */
  readonly held_by_cap: number
  /** In-doubt people that reconciliation resolved during the run. */
  readonly reconciled: number
  /** Matching people the ledger could not record (this run or before, and not since): never sent to. */
  readonly unrecorded: number
}

export interface Summary {
  readonly campaign: string
  readonly outcome: Outcome
  /** The people by their first message. */
  readonly counts: Counts
  /** The later steps the campaign has (`follow_up`, `public_reply`): the people of each by state. */
  readonly steps: Partial<Record<"follow_up" | "public_reply", Ledger.Counts>>
  /** Why comments were dropped, with how many each. */
  readonly dropped: Readonly<Record<string, number>>
  /** Why people were skipped (`window_closed`, `comment_too_old`, ...), with how many each. */
  readonly skipped: Readonly<Record<string, number>>
  /** The people sent, by the path their first message took (`dm`, `private_reply`). */
  readonly paths: Readonly<Record<string, number>>
  /** What the run tells without it being a problem: a campaign file that changed its delivery, unread conversations. */
  readonly notices: ReadonlyArray<string>
  /** What went wrong in this run without stopping it, one sentence each (see the outcome `failed`). */
  readonly problems: ReadonlyArray<string>
  readonly elapsedMillis: number
}

/** Live figures, carried by progress events. */
export interface Progress {
  readonly comments: number
  readonly matched: number
  /** Matching people the ledger had never seen before. */
  readonly discovered: number
  readonly sent: number
  readonly refused: number
  readonly pending: number
  readonly inDoubt: number
  readonly skipped: number
}

/** Who an event is about. */
export interface Person {
  readonly userId: string
  readonly username: string | undefined
  /** The step the event is about, when it is not the first message. */
  readonly step?: "follow_up" | "public_reply" | undefined
}

export type Event = Data.TaggedEnum<{
  Started: { readonly campaign: string; readonly posts: number; readonly recovered: number }
  Reconciled: {
    readonly sent: number
    readonly pending: number
    readonly unresolved: number
    /** Of the unresolved, those the conversations answer did not cover (it may be incomplete). */
    readonly uncovered: number
    /** How many conversations the answer held, when it was read. */
    readonly conversations: number | undefined
    readonly failure: string | undefined
  }
  PageRead: { readonly post: string; readonly comments: number; readonly progress: Progress }
  Sent: Person & { readonly messageId: string; readonly progress: Progress }
  Refused: Person & { readonly reason: string; readonly progress: Progress }
  /** Settled without a request and not refused: skipped (with its reason), expired, or suppressed (opted out). */
  Skipped: Person & {
    readonly state: "skipped" | "expired" | "suppressed"
    readonly reason: string
    readonly progress: Progress
  }
  /** Not sent this time (retries used up, the daily limit, interrupted before the request): pending for later. */
  Postponed: Person & { readonly reason: string; readonly progress: Progress }
  InDoubt: Person & { readonly reason: string; readonly progress: Progress }
  WouldSend: Person & { readonly post: string; readonly message: string; readonly progress: Progress }
  /**
   * Sends pause at the daily DM limit. `resumesAt`: when the watcher checks again with one real message, or for a run
   * when the platform's day is assumed to start over.
   */
  DailyLimit: { readonly detail: string; readonly resumesAt: Date | undefined }
  /** A message sent while paused at the daily DM limit was accepted: sends go on, for every runner of the profile. */
  DailyLimitLifted: { readonly campaign: string }
  Stopping: { readonly reason: string }
  Polled: {
    readonly poll: number
    readonly comments: number
    readonly pages: number
    readonly newPeople: number
    readonly progress: Progress
    readonly nextInMillis: number
    /** Posts read in this poll (the due ones, within the allowance), of the `followed` ones. */
    readonly posts: number
    readonly followed: number
  }
  PollFailed: { readonly reason: string; readonly nextInMillis: number }
  /** Something went wrong that the run reports at its end but goes on past (see the outcome `failed`). */
  Problem: { readonly detail: string }
  /** Something the caller should know that is not a problem (the outcome does not change). */
  Notice: { readonly detail: string }
}>
export const Event = Data.taggedEnum<Event>()

/**
 * A run cannot go on: the API refused the campaign itself (a bad request or key, or reads that kept failing),
 * unrecognised refusals came several times in a row, or the ledger failed. The daily DM limit is not among them: it
 * is an outcome (`daily_limit`).
 */
export type RunError =
  | Errors.RateLimited
  | Errors.Transient
  | Errors.MalformedResponse
  | Errors.InvalidRequest
  | Errors.Unauthorized
  | Errors.UnrecognisedRefusals
  | Ledger.LedgerError
