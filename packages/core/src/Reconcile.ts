/**
 * Reconciliation: deciding what happened to people in doubt (a send that may have gone out) by reading the
 * conversations endpoint. A message to that person, sent after the claim, with the claimed text -> `sent`, with its
 * message id. None, in an answer that demonstrably shows everything sent to that person since the claim -> `pending`,
 * so the next run sends it. The answer may be incomplete (the endpoint documents no paging, and the platform lists
 * only some conversations and only their recent messages), so it shows that only when the person's conversation is
 * listed and its listed messages, newest first, reach back to before the claim; otherwise the person stays in doubt.
 * If the conversations cannot be read, nobody is resolved: people in doubt stay in doubt and are never resent blindly.
 *
 * Private replies in doubt need no conversations: they are left to the run, which retries them (the platform refuses
 * a second private reply to one comment, and that refusal settles them `sent`; see `campaign/ReplyRetry.ts`).
 */
import { Clock, Duration, Effect, Option } from "effect"
import * as ReplyRetry from "./campaign/ReplyRetry.js"
import { storable } from "./internal/storable.js"
import * as Ledger from "./Ledger.js"
import * as Retry from "./Retry.js"
import * as UploadPost from "./UploadPost.js"
import type * as Errors from "./UploadPostError.js"

export interface Result {
  /** Resolved to sent: the message is in the conversation. */
  readonly sent: number
  /** Resolved to pending: no such message; the next run sends it. */
  readonly pending: number
  /**
   * Still in doubt: the conversations could not be read, the claim is too recent to judge, or the answer does not show
   * everything sent to the person since the claim.
   */
  readonly unresolved: number
  /** Of the unresolved, those the answer did not cover: their conversation is missing or cut short. */
  readonly uncovered: number
  /** Private replies in doubt, left to the run to retry (they stay in doubt until it does). */
  readonly retried: number
  /** How many conversations the answer held, when it was read. */
  readonly conversations: Option.Option<number>
  /** Why the conversations could not be read, when they could not. */
  readonly failure: Option.Option<Errors.ReadError>
}

export interface Options {
  /** Claims younger than this are left in doubt: the conversation may not list the message yet. Default 5 s. */
  readonly settleTime?: Duration.DurationInput
  /** Tolerated difference between this machine's clock and the platform's. Default 2 minutes. */
  readonly clockSkew?: Duration.DurationInput
}

export interface CampaignRef {
  readonly name: string
  readonly platform: string
  readonly user: string
}

/**
 * Whitespace differences are the platform's doing, not a different message; the ledger keeps the claimed text in its
 * storable form, so the sent text is compared in that form too.
 */
const normalise = (text: string) => storable(text).replace(/\s+/g, " ").trim()
const sameText = (a: string, b: string) => normalise(a) === normalise(b)

/** Finds the message that settles a person in doubt, if the conversations hold it. */
export const findDelivery = (
  conversations: ReadonlyArray<UploadPost.Conversation>,
  entry: Ledger.LedgerEntry,
  clockSkew: Duration.Duration
): Option.Option<UploadPost.ConversationMessage> => {
  const claimedAt = entry.claimedAt?.getTime() ?? 0
  const earliest = claimedAt - Duration.toMillis(clockSkew)
  for (const conversation of conversations) {
    for (const message of conversation.messages) {
      const toPerson = message.toIds.includes(entry.userId) ||
        (message.toIds.length === 0 && message.fromId !== entry.userId &&
          conversation.participantIds.includes(entry.userId))
      if (!toPerson) continue
      if (message.createdTime !== undefined && message.createdTime.getTime() < earliest) continue
      if (entry.message !== undefined && sameText(message.text, entry.message)) return Option.some(message)
    }
  }
  return Option.none()
}

/** Whether a message is to or from the person, or the conversation is theirs. */
const involves = (conversation: UploadPost.Conversation, userId: string): boolean =>
  conversation.participantIds.includes(userId) ||
  conversation.messages.some((message) => message.fromId === userId || message.toIds.includes(userId))

/**
 * Whether the conversations show every message to the person since the claim: their conversation is listed, and it
 * lists a message older than the claim (less the clock skew). Messages are listed newest first and an answer cut short
 * loses the oldest, so then nothing since the claim is missing.
 */
export const coversSinceClaim = (
  conversations: ReadonlyArray<UploadPost.Conversation>,
  entry: Ledger.LedgerEntry,
  clockSkew: Duration.Duration
): boolean => {
  if (entry.claimedAt === undefined) return false
  const earliest = entry.claimedAt.getTime() - Duration.toMillis(clockSkew)
  return conversations.some((conversation) =>
    involves(conversation, entry.userId) &&
    conversation.messages.some((message) =>
      message.createdTime !== undefined && message.createdTime.getTime() < earliest
    )
  )
}

/** Resolves the campaign's people in doubt. One conversations read serves all of them. */
export const run = (
  campaign: CampaignRef,
  options: Options = {}
): Effect.Effect<Result, Ledger.LedgerError, UploadPost.UploadPost | Ledger.Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const api = yield* UploadPost.UploadPost
    const all = yield* ledger.inDoubt(campaign.name)
    const inDoubt = all.filter((entry) => !ReplyRetry.isRetried(entry))
    const nothingRead: Result = {
      sent: 0,
      pending: 0,
      unresolved: 0,
      uncovered: 0,
      retried: all.length - inDoubt.length,
      conversations: Option.none(),
      failure: Option.none()
    }
    if (inDoubt.length === 0) return nothingRead
    const read = yield* Effect.either(
      Retry.retrying(api.conversations({ platform: campaign.platform, user: campaign.user }), api.settings.retry)
    )
    if (read._tag === "Left") {
      return { ...nothingRead, unresolved: inDoubt.length, failure: Option.some(read.left) }
    }
    const now = yield* Clock.currentTimeMillis
    yield* ledger.markConversationsRead(campaign.name, { conversations: read.right.length, readAt: new Date(now) })
    const settleTime = Duration.toMillis(options.settleTime ?? Duration.seconds(5))
    const clockSkew = Duration.decode(options.clockSkew ?? Duration.minutes(2))
    let sent = 0
    let pending = 0
    let unresolved = 0
    let uncovered = 0
    for (const entry of inDoubt) {
      const key = { campaign: entry.campaign, platform: entry.platform, userId: entry.userId, step: entry.step }
      const found = findDelivery(read.right, entry, clockSkew)
      if (Option.isSome(found)) {
        const at = found.value.createdTime ?? new Date(now)
        if (yield* ledger.resolveInDoubt(key, Ledger.Settlement.Sent({ messageId: found.value.id, at }))) sent++
      } else if (entry.claimedAt !== undefined && now - entry.claimedAt.getTime() < settleTime) {
        unresolved++
      } else if (!coversSinceClaim(read.right, entry, clockSkew)) {
        unresolved++
        uncovered++
      } else {
        const reason = "reconciled: their conversation shows no such message since the claim, so it was not delivered"
        if (yield* ledger.resolveInDoubt(key, Ledger.Settlement.Pending({ reason }))) pending++
      }
    }
    return {
      sent,
      pending,
      unresolved,
      uncovered,
      retried: nothingRead.retried,
      conversations: Option.some(read.right.length),
      failure: Option.none()
    }
  })
