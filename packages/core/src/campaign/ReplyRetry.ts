/**
 * Private replies in doubt are retried, not reconciled through the conversations: the platform refuses a second
 * private reply to one comment, whoever sends it ("(#10900) Activity already replied to"), so a retry can never make
 * two. That refusal on a retry says the earlier attempt went out: the person is settled `sent`. On a first attempt the
 * same refusal stays a refusal (something else answered the comment).
 */
import { Stream } from "effect"
import * as Ledger from "../Ledger.js"
import type { Target } from "./Step.js"

/** Meta's refusal of a second private reply to one comment. */
export const alreadyReplied = /\(#10900\)|already replied/i

/** A private reply settled sent from the platform's "already replied": its message id is not known. */
export const unknownMessageId = ""

/** Whether a row in doubt is a private reply, which is retried (a DM in doubt is reconciled). */
export const isRetried = (entry: Ledger.LedgerEntry): boolean =>
  entry.state === "in_doubt" && entry.step === "first_message" && entry.path === "private_reply"

/** The campaign's private replies in doubt, as the people to retry them for: by the row's own comment. */
export const targets = (ledger: Ledger.Service, campaign: string): Stream.Stream<Target, Ledger.LedgerError> =>
  Stream.fromIterableEffect(ledger.inDoubt(campaign)).pipe(
    Stream.filter(isRetried),
    Stream.map((entry): Target => ({ ...entry, retryInDoubt: true, doubtSince: entry.claimedAt }))
  )

/**
 * What a retried private reply's outcome comes to: "already replied" says that the earlier attempt went out (sent as of
 * its claim, so that a follow-up counts the person's messages from then, not from the retry); a retry
 * that did not get through (the daily limit, a 500, a stop) leaves the person in doubt, never pending, since their
 * earlier reply may have gone out: only a retry of the same reply may follow, never a DM or a reply to another comment.
 */
export const settlementOf = (target: Target, settlement: Ledger.Settlement, now: Date): Ledger.Settlement => {
  if (target.retryInDoubt !== true) return settlement
  if (settlement._tag === "Refused" && alreadyReplied.test(settlement.reason)) {
    return Ledger.Settlement.Sent({ messageId: unknownMessageId, at: target.doubtSince ?? now })
  }
  return settlement._tag === "Pending"
    ? Ledger.Settlement.InDoubt({ reason: `a private reply in doubt, to retry: ${settlement.reason}` })
    : settlement
}
