/**
 * The public reply: a comment under the person's comment once their first message was sent, once per comment for the
 * whole profile (the claim takes the comment's public-reply key). It has its own pace on top of the campaign's (which
 * counts every request that uses the daily cap): identical public comments at volume look like spam. An outcome that
 * is unknown settles `unconfirmed`, final: a doubled public comment is worse than a missing one.
 */
import { Effect } from "effect"
import type * as CampaignSpec from "../CampaignSpec.js"
import * as Ledger from "../Ledger.js"
import * as Template from "../Template.js"
import type { Step } from "./Step.js"
import { valuesOf } from "./Step.js"

/**
 * The public replies' own pace: slots `3600000 / per_hour` apart, reserved before the claim so that no send permit
 * waits for them. A slot further away than `horizonMillis` is not reserved: the person stays pending for a later pass
 * (a watcher's poll does not wait an hour for its public replies).
 */
export class Throttle {
  private next = Number.NEGATIVE_INFINITY

  constructor(readonly spacingMillis: number, readonly horizonMillis: number) {}

  /** Reserves the next slot from `now`: its time, or undefined when it is beyond the horizon. */
  reserve(now: number): number | undefined {
    const at = Math.max(now, this.next)
    if (at - now > this.horizonMillis) return undefined
    this.next = at + this.spacingMillis
    return at
  }
}

/** The public reply step of a campaign; `horizonMillis`: how long a pass waits for a slot of its own pace. */
export const step = (
  spec: CampaignSpec.CampaignSpec,
  publicReply: CampaignSpec.PublicReply,
  perHour: number,
  horizonMillis: number
): Step => ({
  kind: "public_reply",
  render: (target) =>
    Template.render(
      Template.pick(publicReply.messages, `${spec.name}\u0000public_reply`, target.userId),
      valuesOf(target)
    ),
  choose: (_target, message) => {
    const tooLong = Template.checkLength(spec.platform, message)
    return Effect.succeed(
      tooLong._tag === "Left"
        ? { _tag: "Settle", settlement: Ledger.Settlement.Refused({ reason: tooLong.left }) }
        : { _tag: "Send", path: undefined }
    )
  },
  deadline: undefined,
  throttle: new Throttle(3_600_000 / perHour, horizonMillis),
  send: (api, target, message) =>
    api.publicReply({ platform: spec.platform, user: spec.user, commentId: target.commentId, message }).pipe(
      Effect.map(({ id }) => ({ messageId: id, recipientId: target.userId }))
    )
})

/** A public reply whose request may have gone out is final: never retried, never reconciled. */
export const unconfirmed = (settlement: Ledger.Settlement): Ledger.Settlement =>
  settlement._tag === "InDoubt"
    ? Ledger.Settlement.Unconfirmed({ reason: `${settlement.reason}; a public reply is never sent twice` })
    : settlement
