/**
 * The follow-up: a DM sent once when a person sent a private reply writes to the account, within `follow_up.within`
 * after the reply and within 24 hours of their message (the platform's messaging window), when their message matches
 * `follow_up.when` (if given) and is not an opt-out word. Its row waits as `awaiting_reply`: each pass reads the
 * conversations, wakes the rows of the people who wrote (a guarded `awaiting_reply` -> `pending`), and ends as
 * `no_reply` the rows whose `within` has passed. A woken row then goes through the usual claim, send and settle cycle.
 */
import { Clock, Effect, Either } from "effect"
import * as CampaignSpec from "../CampaignSpec.js"
import * as Ledger from "../Ledger.js"
import * as Matcher from "../Matcher.js"
import * as Suppression from "../Suppression.js"
import * as Template from "../Template.js"
import * as Inbound from "./Inbound.js"
import type { Choice, Step } from "./Step.js"
import { valuesOf } from "./Step.js"

const settle = (settlement: Ledger.Settlement): Choice => ({ _tag: "Settle", settlement })

/** The follow-up step of a campaign; `inbound` holds the conversations the engine reads each pass. */
export const step = (
  spec: CampaignSpec.CampaignSpec,
  followUp: CampaignSpec.FollowUp,
  inbound?: Inbound.Inbound
): Step => {
  const snapshot = () => inbound?.snapshot ?? Inbound.nothingSeen
  const optOut = Suppression.isOptOut(CampaignSpec.optOutOf(spec))
  return {
    kind: "follow_up",
    render: (target) =>
      Template.render(
        Template.pick(followUp.messages, `${spec.name}\u0000follow_up`, target.userId),
        valuesOf(target)
      ),
    choose: (target, message) =>
      Effect.map(Clock.currentTimeMillis, (now): Choice => {
        const tooLong = Template.checkLength(spec.platform, message)
        if (tooLong._tag === "Left") return settle(Ledger.Settlement.Refused({ reason: tooLong.left }))
        const seen = snapshot()
        const written = seen.latest.get(target.userId)
        if (written === undefined) {
          // Woken by a message a later read does not show (the conversations could not be read): try again later.
          return settle(Ledger.Settlement.Pending({
            reason: "their message to the account is not in the conversations read; the follow-up waits for them"
          }))
        }
        if (optOut(written.text)) {
          return settle(Ledger.Settlement.Suppressed({
            reason: `opted_out: their latest message to the account (${new Date(written.at).toISOString()}) is an ` +
              "opt-out word"
          }))
        }
        if (now >= (Inbound.dmDeadline(seen, target.userId) ?? 0)) {
          return settle(Ledger.Settlement.Expired({
            reason: `the messaging window of their message of ${new Date(written.at).toISOString()} closed before ` +
              "the follow-up could be sent"
          }))
        }
        return { _tag: "Send", path: undefined }
      }),
    deadline: (target) => Inbound.dmDeadline(snapshot(), target.userId) ?? Number.MAX_SAFE_INTEGER,
    send: (api, target, message) =>
      api.sendDm({ platform: spec.platform, user: spec.user, recipientId: target.userId, message })
  }
}

/**
 * Whether a person's message brings the follow-up by `when` (the campaign's match rules): any message without it.
 * The campaign file checked `when` when it loaded; a `when` that does not check matches nothing.
 */
const whenMatcher = (spec: CampaignSpec.CampaignSpec, followUp: CampaignSpec.FollowUp) => {
  if (followUp.when === undefined) return () => true
  const matcher = Matcher.make(CampaignSpec.followUpWhen(spec.match, followUp.when))
  return Either.isLeft(matcher)
    ? () => false
    : (text: string) => Matcher.match(matcher.right, text)._tag === "Some"
}

/** What a pass did to the follow-ups awaiting a reply. */
export interface Woken {
  readonly woken: number
  readonly noReply: number
}

/**
 * Wakes the follow-ups of the people the conversations show writing to the account (not an opt-out word, matching
 * `when`), then ends as `no_reply` those whose `within` has passed. Run only after a successful read of the
 * conversations: without one, nobody can be said not to have written.
 */
export const wake = (
  ledger: Ledger.Service,
  spec: CampaignSpec.CampaignSpec,
  followUp: CampaignSpec.FollowUp,
  snapshot: Inbound.Snapshot
): Effect.Effect<Woken, Ledger.LedgerError> =>
  Effect.gen(function*() {
    const matches = whenMatcher(spec, followUp)
    const optOut = Suppression.isOptOut(CampaignSpec.optOutOf(spec))
    const writers = [...snapshot.latest].filter(([, written]) => !optOut(written.text) && matches(written.text))
    let woken = 0
    if (writers.length > 0) {
      const states = yield* ledger.states(spec.name, spec.platform, "follow_up", writers.map(([userId]) => userId))
      for (const [userId, written] of writers) {
        if (states.get(userId) !== "awaiting_reply") continue
        const key = { campaign: spec.name, platform: spec.platform, userId, step: "follow_up" as const }
        if (yield* ledger.wakeFollowUp(key, new Date(written.at), followUp.within)) woken++
      }
    }
    const now = yield* Clock.currentTimeMillis
    const noReply = yield* ledger.endAwaiting(spec.name, new Date(now - followUp.within))
    return { woken, noReply }
  })
