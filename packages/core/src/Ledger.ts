/**
 * The delivery ledger: one row per (campaign, platform, user id, step) for every matching commenter and each step of
 * the campaign's flow (the first message, a follow-up, a public reply), recording where that step stands. It is what
 * makes "one message of a step per person" hold across crashes, retries and parallel runners, and what lets `status`
 * account for every matching commenter in every step.
 *
 * States: `pending` -> `claimed` (durable before the request goes out) -> `sent` | `refused` | `skipped` | `expired` |
 * `pending` | `in_doubt` | `unconfirmed`. Leftover claims become `in_doubt`, which only reconciliation resolves (to
 * `sent` or `pending`). `suppressed`, `awaiting_reply` and `no_reply` are the states of people who opted out and of
 * follow-ups (see the design's "Steps and their states").
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"

/** The steps of a campaign's flow; each person has a ledger row per step. */
export const StepKind = Schema.Literal("first_message", "follow_up", "public_reply")
export type StepKind = typeof StepKind.Type

/** How the first message reaches a person: a DM (`/dms/send`) or a private reply to their comment. */
export const MessagePath = Schema.Literal("dm", "private_reply")
export type MessagePath = typeof MessagePath.Type

/** Where a person stands in one step of a campaign. */
export const DeliveryState = Schema.Literal(
  "pending",
  "claimed",
  "sent",
  "refused",
  "skipped",
  "expired",
  "in_doubt",
  "suppressed",
  "awaiting_reply",
  "no_reply",
  "unconfirmed"
)
export type DeliveryState = typeof DeliveryState.Type

/** Why a step was skipped: a reason known before any request was made. */
export const SkipReason = Schema.Literal(
  "window_closed",
  "comment_too_old",
  "comment_taken",
  "own_comment",
  "campaign_edited"
)
export type SkipReason = typeof SkipReason.Type

/** Identifies one person in one campaign. */
export interface PersonKey {
  readonly campaign: string
  readonly platform: string
  readonly userId: string
}

/** Identifies one step of one person in one campaign: the key of a ledger row. */
export interface RecipientKey extends PersonKey {
  readonly step: StepKind
}

/** A matching commenter as first seen in a step: the first matching comment of the person wins. */
export interface Candidate extends RecipientKey {
  readonly username: string | undefined
  readonly postId: string
  readonly commentId: string
  /** Absent when the person was forgotten, or the step has no comment text of its own. */
  readonly commentText: string | undefined
  readonly commentTime: Date | undefined
  readonly keyword: string | undefined
}

/** A ledger row. */
export interface LedgerEntry extends Candidate {
  readonly state: DeliveryState
  /** Why the person is refused, skipped (a {@link SkipReason}), expired, pending again or in doubt. */
  readonly reason: string | undefined
  /** The first message's path, recorded by its claim; undefined for the other steps and before the first claim. */
  readonly path: MessagePath | undefined
  /** The campaign version the row was last claimed under, when the claim named one. */
  readonly campaignVersion: number | undefined
  /** The rendered text that was claimed (and possibly sent); reconciliation looks for it. */
  readonly message: string | undefined
  readonly messageId: string | undefined
  /** How many times the person has been claimed. */
  readonly attempts: number
  readonly claimedAt: Date | undefined
  readonly claimedBy: string | undefined
  readonly leaseUntil: Date | undefined
  readonly settledAt: Date | undefined
  readonly firstSeenAt: Date
  readonly updatedAt: Date
}

/** A campaign as registered in the ledger. */
export interface CampaignInfo {
  readonly name: string
  readonly platform: string
  /** The Upload-Post profile username the campaign sends from. */
  readonly profileUser: string
  /** Post ids or post URLs, as written in the campaign file. */
  readonly posts: ReadonlyArray<string>
  /**
   * Whether a template of the campaign uses `{{comment}}`. When false, a person's comment text is dropped once they
   * are settled (and, when it turns false, from the people settled before); pending people keep it, since judging
   * them again after an edit needs it. Absent: as recorded before (a campaign never told keeps the texts).
   */
  readonly keepsCommentText?: boolean | undefined
}

/**
 * How far a campaign has read a post: the ids of its newest comments when it was last read to its end (or down to
 * the comments of the read before). Comments are listed newest first, so a later run can stop at the first page whose
 * comments are all among these ids: everything older was read, and its people recorded, before.
 */
export interface ReadMark {
  readonly campaign: string
  /** The post id or URL, as written in the campaign file. */
  readonly post: string
  /** The ids of the post's newest comments, newest first. */
  readonly newestIds: ReadonlyArray<string>
  /** Identifies what the read looked for (profile, platform and match rules): a mark of other rules is not used. */
  readonly matchKey: string
  readonly readAt: Date
  /** How many of the post's comments the campaign has read, all reads together; absent when not counted. */
  readonly comments?: number | undefined
}

/** A matching person the database refused to record, with its words. */
export interface Unrecorded {
  readonly userId: string
  readonly username: string | undefined
  readonly reason: string
}

/** What `record` did: how many people were new, and who could not be recorded (the others were). */
export interface Discovery {
  readonly added: number
  readonly unrecorded: ReadonlyArray<Unrecorded>
}

/** Skip reasons a person is judged again for, when they comment again or write to the account. */
export const reopenableReasons: ReadonlyArray<SkipReason> = ["window_closed", "comment_too_old"]

/**
 * What makes a skipped person worth judging again: a newer matching comment (which the row then keeps), or a message
 * to the account written after they were skipped.
 */
export type Reopening =
  | { readonly _tag: "Commented"; readonly comment: Candidate }
  | { readonly _tag: "Wrote"; readonly at: Date }

/** People of a step counted by state, by the first message's path and, for the skipped, by reason. */
export interface TallyRow {
  readonly state: DeliveryState
  readonly path: MessagePath | undefined
  /** The skip reason; undefined for the other states. */
  readonly reason: string | undefined
  readonly count: number
}

/** A version of a campaign file as the ledger recorded it. */
export interface CampaignVersion {
  readonly version: number
  /** The campaign file as JSON (its encoded form). */
  readonly spec: unknown
  readonly createdAt: Date
}

/** How many conversations the last conversations answer read by reconciliation held. */
export interface ConversationsRead {
  readonly conversations: number
  readonly readAt: Date
}

/** The outcome of a claimed send. */
export type Settlement = Data.TaggedEnum<{
  /** The platform accepted the message. */
  Sent: { readonly messageId: string; readonly at: Date }
  /** The platform refused this person for a policy reason; never retried. */
  Refused: { readonly reason: string }
  /** Not sent (transient failures exhausted, daily limit reached, interrupted); the next run retries. */
  Pending: { readonly reason: string }
  /** The request may have gone out; reconciliation decides. */
  InDoubt: { readonly reason: string }
  /** Not sent for a reason known before any request; final. */
  Skipped: { readonly reason: SkipReason }
  /** The step's deadline passed before it could be sent; final. */
  Expired: { readonly reason: string }
  /** A public reply whose outcome is unknown; final, since a doubled public comment is worse than a missing one. */
  Unconfirmed: { readonly reason: string }
  /** The person opted out (an opt-out word as their latest message to the account); final, never messaged. */
  Suppressed: { readonly reason: string }
}>

export const Settlement = Data.taggedEnum<Settlement>()

/** How reconciliation resolves an `in_doubt` person. */
export type Resolution = Data.TaggedEnum.Value<Settlement, "Sent" | "Pending">

/** Counts per state; every state is present. */
export type Counts = Readonly<Record<DeliveryState, number>>

/** Zero people in every state, to count from. */
export const noCounts = (): Record<DeliveryState, number> => ({
  pending: 0,
  claimed: 0,
  sent: 0,
  refused: 0,
  skipped: 0,
  expired: 0,
  in_doubt: 0,
  suppressed: 0,
  awaiting_reply: 0,
  no_reply: 0,
  unconfirmed: 0
})

export interface ClaimOptions {
  /** The rendered message that is about to be sent. */
  readonly message: string
  /**
   * The first message's path, recorded on its row (the other steps have none; absent, the recorded one stays). A
   * private reply, and a public reply, also takes the comment's key of the campaign's profile in the claim (the
   * campaign must be registered): when another row holds it, the claim fails and the row is skipped as
   * `comment_taken`.
   */
  readonly path?: MessagePath | undefined
  /** The campaign version the message was rendered from (see {@link Ledger.campaignVersion}). */
  readonly campaignVersion?: number | undefined
  /**
   * Claims a row `in_doubt` instead of a `pending` one: a private reply in doubt is retried, since the platform refuses
   * a second private reply to one comment.
   */
  readonly inDoubt?: boolean | undefined
  /** Identifies the process that claims; only it may settle the claim. */
  readonly runner: string
  /** How long the claim protects the person from other runners' crash recovery. */
  readonly lease: Duration.DurationInput
}

export interface RecoverOptions {
  /** Also recover this runner's own claims, expired or not (its leftovers from a previous process). */
  readonly runner?: string | undefined
  /** The time leases are compared to; the clock's time when absent. */
  readonly now?: Date | undefined
}

/** What a ledger does; {@link Ledger} is the tag a run finds it by. */
export interface Service {
  /** Records a campaign, or refreshes its platform, profile and posts when it is already known. */
  readonly registerCampaign: (info: CampaignInfo) => Effect.Effect<void, LedgerError>
  /** The states of many people in one step at once; people the ledger has not seen are absent from the map. */
  readonly states: (
    campaign: string,
    platform: string,
    step: StepKind,
    userIds: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyMap<string, DeliveryState>, LedgerError>
  /**
   * Adds unseen candidates (each a person in a step) as `pending` in one transaction; known rows are left as they
   * are. Returns how many were new.
   */
  readonly discover: (candidates: ReadonlyArray<Candidate>) => Effect.Effect<number, LedgerError>
  /**
   * {@link discover}, except that a person whose row the database refuses does not keep the others out: they are
   * recorded, and the refused ones are returned with the reason and kept for {@link unrecorded}.
   */
  readonly record: (candidates: ReadonlyArray<Candidate>) => Effect.Effect<Discovery, LedgerError>
  /** The campaign's matching people the database refused to record and has not recorded since. */
  readonly unrecorded: (campaign: string) => Effect.Effect<ReadonlyArray<Unrecorded>, LedgerError>
  /** Remembers how many conversations the conversations answer held that reconciliation just read. */
  readonly markConversationsRead: (campaign: string, read: ConversationsRead) => Effect.Effect<void, LedgerError>
  /** The last {@link markConversationsRead} of the campaign. */
  readonly conversationsRead: (campaign: string) => Effect.Effect<Option.Option<ConversationsRead>, LedgerError>
  /** Atomically claims a `pending` person's step. Succeeds with `true` only for the one caller that won the claim. */
  readonly claim: (key: RecipientKey, options: ClaimOptions) => Effect.Effect<boolean, LedgerError>
  /**
   * Confirms that `runner` still holds a live claim on the person and extends its lease, in one guarded statement,
   * right before a send attempt. Succeeds with `false` when the claim is lost: settled, recovered by another runner
   * after its lease expired (and perhaps claimed again), or its lease has expired.
   */
  readonly confirmClaim: (
    key: RecipientKey,
    runner: string,
    lease: Duration.DurationInput
  ) => Effect.Effect<boolean, LedgerError>
  /** Records the outcome of a claim held by `runner`. Succeeds with `false` when the claim is not (or no longer) its. */
  readonly settle: (key: RecipientKey, runner: string, settlement: Settlement) => Effect.Effect<boolean, LedgerError>
  /**
   * Turns leftover claims into `in_doubt`: those whose lease has expired, and all of `runner`'s when given.
   * Returns how many.
   */
  readonly recoverClaims: (campaign: string, options?: RecoverOptions) => Effect.Effect<number, LedgerError>
  /** The runners that hold claims in the campaign, so that a runner can recover the claims of dead ones at once. */
  readonly claimHolders: (campaign: string) => Effect.Effect<ReadonlyArray<string>, LedgerError>
  /** Extends the lease of every live claim of `runner`. Returns how many. */
  readonly renewLeases: (
    campaign: string,
    runner: string,
    lease: Duration.DurationInput
  ) => Effect.Effect<number, LedgerError>
  /** The campaign's read mark of a post, if the post has been read to its end. */
  readonly readMark: (campaign: string, post: string) => Effect.Effect<Option.Option<ReadMark>, LedgerError>
  /** Records a read mark, replacing the post's earlier one. Write it only once the people of the read are recorded. */
  readonly markRead: (mark: ReadMark) => Effect.Effect<void, LedgerError>
  /** The rows (of every step) whose message may or may not have gone out, in first-seen order. */
  readonly inDoubt: (campaign: string) => Effect.Effect<ReadonlyArray<LedgerEntry>, LedgerError>
  /** Resolves an `in_doubt` person to `sent` or back to `pending`. Succeeds with `false` when the person is not in doubt. */
  readonly resolveInDoubt: (key: RecipientKey, resolution: Resolution) => Effect.Effect<boolean, LedgerError>
  /**
   * The version number of a campaign file: the latest version when its fingerprint is `fingerprint`, else a new
   * version (the next number) recording the fingerprint and the file as JSON.
   */
  readonly campaignVersion: (
    campaign: string,
    version: { readonly fingerprint: string; readonly spec: unknown }
  ) => Effect.Effect<number, LedgerError>
  /** Every recorded version of the campaign file, oldest first. */
  readonly campaignVersions: (campaign: string) => Effect.Effect<ReadonlyArray<CampaignVersion>, LedgerError>
  /**
   * Turns a person skipped for a reason in {@link reopenableReasons} back to `pending`, in one guarded statement: for
   * a comment newer than the row's (the row takes it), or for a message written after the skip. A pending row takes a
   * newer comment too. Succeeds with whether the row changed.
   */
  readonly reopen: (key: RecipientKey, reopening: Reopening) => Effect.Effect<boolean, LedgerError>
  /**
   * A pending person judged again after the campaign's rules changed, in one guarded statement: still matching (the
   * row takes the keyword they match now), or, with none, skipped as `campaign_edited`. Succeeds with whether a
   * pending row changed.
   */
  readonly judgeAgain: (key: RecipientKey, keyword: Option.Option<string>) => Effect.Effect<boolean, LedgerError>
  /** The people of a step counted by state, path and skip reason. */
  readonly tally: (campaign: string, step: StepKind) => Effect.Effect<ReadonlyArray<TallyRow>, LedgerError>
  /** How many people of the campaign are in each state of a step. */
  readonly counts: (campaign: string, step: StepKind) => Effect.Effect<Counts, LedgerError>
  /** When the campaign was first registered, i.e. its first run (`since: start` counts from it). */
  readonly campaignStart: (campaign: string) => Effect.Effect<Option.Option<Date>, LedgerError>
  /**
   * Of these people, those `comment-dm forget` left a tombstone for on the profile (or on every profile): no campaign
   * records or messages them again. Answered with the ids as given.
   */
  readonly forgotten: (
    platform: string,
    profile: string,
    userIds: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlySet<string>, LedgerError>
  /** Every row of the campaign (every step) in first-seen order, read page by page. */
  readonly entries: (campaign: string) => Stream.Stream<LedgerEntry, LedgerError>
  /**
   * Gives the people whose first message was sent their rows of the later steps, in one idempotent statement per step
   * (safe to run every pass, and after a crash): `public_reply` pending for everyone sent, `follow_up` awaiting a
   * reply for everyone sent a private reply, its first-seen time the time the first message was sent. Returns how many
   * rows were added.
   */
  readonly openSteps: (
    campaign: string,
    steps: ReadonlyArray<Exclude<StepKind, "first_message">>
  ) => Effect.Effect<number, LedgerError>
  /**
   * Turns a follow-up `awaiting_reply` into `pending` when the person wrote at `at`, no later than `withinMillis` after
   * their private reply (the row's first-seen time) and not before it, in one guarded statement. Succeeds with whether
   * the row changed.
   */
  readonly wakeFollowUp: (key: RecipientKey, at: Date, withinMillis: number) => Effect.Effect<boolean, LedgerError>
  /** Ends the follow-ups still awaiting a reply whose private reply was sent before `repliedBefore` as `no_reply`. */
  readonly endAwaiting: (campaign: string, repliedBefore: Date) => Effect.Effect<number, LedgerError>
  /** The `pending` rows of one step of the campaign in first-seen order, read page by page. */
  readonly pendingEntries: (campaign: string, step: StepKind) => Stream.Stream<LedgerEntry, LedgerError>
  /**
   * Of these people, those on the suppression list of the profile (by id, or username in any case): those a claim
   * would settle `suppressed`. For a dry run, which claims in memory. Answered with the ids as given.
   */
  readonly listed: (
    scope: { readonly platform: string; readonly profile: string },
    people: ReadonlyArray<{ readonly userId: string; readonly username: string | undefined }>
  ) => Effect.Effect<ReadonlySet<string>, LedgerError>
  /**
   * Puts people on the suppression list of a profile (see `Suppression`): from then on no claim of any campaign of the
   * profile takes them, in any step. Succeeds with how many were not on it.
   */
  readonly suppress: (
    scope: { readonly platform: string; readonly profile: string },
    people: ReadonlyArray<{ readonly userId: string; readonly username: string | undefined }>,
    source: "dm" | "comment"
  ) => Effect.Effect<number, LedgerError>
}

/** The ledger a run keeps its people in: a port, provided by `SqliteLedger`, `PgLedger` or `DryRun`. */
export class Ledger extends Context.Tag("@comment-dm/core/Ledger")<Ledger, Service>() {}

/** A ledger operation failed; `cause` holds the database error. */
export class LedgerError extends Data.TaggedError("LedgerError")<{
  /** What the ledger was doing, e.g. "open the ledger at ./comment-dm.sqlite". */
  readonly operation: string
  readonly cause: unknown
}> {
  override get message(): string {
    const description = describeCause(this.cause)
    const hint = hintFor(description)
    return `could not ${this.operation}: ${description}${hint === undefined ? "" : `. ${hint}`}`
  }
}

/**
 * The innermost message of a cause chain: the driver's own words ("database is locked"), not the generic
 * "Failed to execute statement" of the wrappers around it.
 */
const describeCause = (cause: unknown): string => {
  let description = "unknown error"
  let current: unknown = cause
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (!Predicate.hasProperty(current, "message")) {
      description = String(current)
      break
    }
    if (typeof current.message === "string" && current.message.trim().length > 0) description = current.message.trim()
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return description
}

const hintFor = (description: string): string | undefined => {
  if (/read-only file system|EROFS/i.test(description)) {
    return "SQLite writes beside the ledger (its -wal and -shm files) even to read it: put the ledger on a writable " +
      "file system, or copy it to one"
  }
  if (/not a database|malformed/i.test(description)) {
    return "The file is not a comment-dm ledger (SQLite database); point the ledger at another path or restore the file"
  }
  if (/database is locked|SQLITE_BUSY/i.test(description)) {
    return "Another process held the ledger longer than the busy timeout; try again"
  }
  if (/readonly|read-only|not writable|permission denied|EACCES|EPERM/i.test(description)) {
    return "The ledger file or its directory is not writable by this user"
  }
  if (/unable to open database file|ENOENT|EISDIR/i.test(description)) {
    return "The ledger path must name a file in an existing directory"
  }
  return undefined
}
