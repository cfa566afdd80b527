/**
 * Opt-outs as a campaign meets them: a commenter whose whole comment, or a person whose latest message to the account,
 * is one of the campaign's opt-out words goes on the profile's suppression list, before anyone of the page (or the
 * pass) is claimed. The list itself is checked by every claim (`SqlLedger`), so people who opted out through another
 * campaign of the profile, by hand or by import are covered as well.
 */
import { Effect } from "effect"
import * as CampaignSpec from "../CampaignSpec.js"
import * as Ledger from "../Ledger.js"
import * as OwnAccount from "../OwnAccount.js"
import * as Suppression from "../Suppression.js"
import type * as Inbound from "./Inbound.js"
import type { Page } from "./Reading.js"
import type { Recorder, Settled } from "./Recording.js"

export interface Listener {
  /** Records the commenters of a page whose whole comment is an opt-out word. */
  readonly comments: (page: Page) => Effect.Effect<void, Ledger.LedgerError>
  /** Records the people whose latest message to the account is an opt-out word. */
  readonly messages: (snapshot: Inbound.Snapshot) => Effect.Effect<void, Ledger.LedgerError>
}

export const make = (
  spec: CampaignSpec.CampaignSpec,
  ledger: Ledger.Service,
  ownAccount: OwnAccount.OwnAccount | undefined
): Listener => {
  const isOptOut = Suppression.isOptOut(CampaignSpec.optOutOf(spec))
  const scope = { platform: spec.platform, profile: spec.user }
  const record = (people: Array<{ userId: string; username: string | undefined }>, source: "dm" | "comment") =>
    people.length === 0 ? Effect.void : Effect.asVoid(ledger.suppress(scope, people, source))
  return {
    comments: (page) =>
      record(
        page.comments.flatMap((comment) =>
          comment.userId === undefined || comment.userId.length === 0 ||
            (ownAccount !== undefined && OwnAccount.isOwn(ownAccount, comment)) || !isOptOut(comment.text)
            ? []
            : [{ userId: comment.userId, username: comment.username }]
        ),
        "comment"
      ),
    messages: (snapshot) =>
      record(
        [...snapshot.latest].flatMap(([userId, written]) =>
          isOptOut(written.text) ? [{ userId, username: undefined }] : []
        ),
        "dm"
      )
  }
}

/**
 * What a claim or confirmation that failed comes to: a person the list refused (the ledger settled them `suppressed`)
 * is told as such; anyone else was taken by another runner, or their claim lost.
 */
export const notClaimed = (
  ledger: Ledger.Service,
  recorder: Recorder,
  key: Ledger.RecipientKey,
  settled: Omit<Settled, "_tag" | "settlement">
): Effect.Effect<void, Ledger.LedgerError> =>
  Effect.flatMap(ledger.states(key.campaign, key.platform, key.step, [key.userId]), (states) =>
    recorder.record(
      states.get(key.userId) === "suppressed"
        ? { _tag: "Settled", ...settled, settlement: suppressed }
        : { _tag: "ClaimedElsewhere" }
    ))

const suppressed = Ledger.Settlement.Suppressed({ reason: Suppression.listedReason })
