/**
 * A step: one message a campaign sends each person, with its own ledger row (the step is in the row's key) and its
 * own claim and settle cycle. The delivery stage works over a step: its kind, the row it keys, the text it renders,
 * the refusals known before any request, and the request it makes. The steps: the first message (a DM, or a private
 * reply by `delivery`), and when the campaign has them the follow-up (FollowUp.ts) and the public reply
 * (PublicReply.ts); a new kind is a new value of this shape.
 */
import { Clock, Duration, Effect } from "effect"
import * as Buttons from "../Buttons.js"
import * as CampaignSpec from "../CampaignSpec.js"
import * as Ledger from "../Ledger.js"
import * as Template from "../Template.js"
import type * as UploadPost from "../UploadPost.js"
import type * as Errors from "../UploadPostError.js"
import * as FollowUp from "./FollowUp.js"
import * as Inbound from "./Inbound.js"
import * as PublicReply from "./PublicReply.js"

/**
 * A person as discovery hands them on: their matching comment; `firstSeenAt` when they come from the ledger (or were
 * claimed before), which tells a deadline that passed while they waited from one that had passed when they were found.
 */
export type Target = Ledger.Candidate & {
  readonly firstSeenAt?: Date | undefined
  /** With `auto`: the platform refused a DM to the person for the messaging window, so no DM is chosen again. */
  readonly dmRefused?: boolean | undefined
  /** A private reply in doubt, retried: it goes again as a private reply to the row's comment, whatever `delivery`. */
  readonly retryInDoubt?: boolean | undefined
  /** For a retry: when the attempt that left the reply in doubt was claimed, so no later than it went out. */
  readonly doubtSince?: Date | undefined
}

/** Instagram allows one private reply per comment, within 7 days of it. */
export const privateReplyWindow = Duration.days(7)

/** What a step does for a person now: send by a path, or settle without a request (a refusal or skip known before). */
export type Choice =
  | { readonly _tag: "Send"; readonly path: Ledger.MessagePath | undefined }
  | { readonly _tag: "Settle"; readonly settlement: Ledger.Settlement }

export interface Step {
  readonly kind: Ledger.StepKind
  /** The text a person gets in this step. */
  readonly render: (target: Target) => string
  /** The choice for the person now; made when their turn comes and again just before the request. */
  readonly choose: (target: Target, message: string) => Effect.Effect<Choice>
  /**
   * When the person's message must go by (epoch milliseconds, as things stand at `now`): a pass goes in this order.
   * Undefined: the step has no deadlines, and people go in the order they are found.
   */
  readonly deadline: ((target: Target, now: number) => number) | undefined
  /** The step's own pace, on top of the campaign's (public replies): a slot is reserved before the claim. */
  readonly throttle?: PublicReply.Throttle | undefined
  /** The request the step makes by a path: one attempt. */
  readonly send: (
    api: UploadPost.UploadPost,
    target: Target,
    message: string,
    path: Ledger.MessagePath | undefined
  ) => Effect.Effect<UploadPost.Delivered, Errors.SendError>
}

/** The row of a step of a person. */
export const keyOf = (step: Step, target: Target): Ledger.RecipientKey => ({
  campaign: target.campaign,
  platform: target.platform,
  userId: target.userId,
  step: step.kind
})

const tooLate = "the comment is older than 7 days; Instagram allows a private reply only within 7 days"

const send = (path: Ledger.MessagePath): Choice => ({ _tag: "Send", path })
const settle = (settlement: Ledger.Settlement): Choice => ({ _tag: "Settle", settlement })

/** When a private reply to the person's comment stops being allowed (none known without the comment's time). */
const replyDeadline = (target: Target): number | undefined =>
  target.commentTime === undefined ? undefined : target.commentTime.getTime() + Duration.toMillis(privateReplyWindow)

/**
 * `auto` for one person at `now`: a DM inside their window (with its margin), else a private reply within 7 days of
 * the comment, else a skip; never a DM to someone whose latest message is an opt-out word. A deadline that passed
 * while the person waited (both paths were open when they were first seen) ends `expired`, not skipped.
 */
export const autoChoice = (
  snapshot: Inbound.Snapshot,
  target: Target,
  now: number,
  isOptOut: (text: string) => boolean = Inbound.isOptOut
): Choice => {
  // The account's own comments never get here: discovery drops them (OwnAccount).
  const written = snapshot.latest.get(target.userId)
  if (written !== undefined && isOptOut(written.text)) {
    return settle(Ledger.Settlement.Suppressed({
      reason: `opted_out: their latest message to the account (${new Date(written.at).toISOString()}) is an ` +
        "opt-out word"
    }))
  }
  const dmUntil = Inbound.dmDeadline(snapshot, target.userId)
  if (dmUntil !== undefined && now < dmUntil && target.dmRefused !== true) return send("dm")
  const replyUntil = replyDeadline(target)
  // Without the comment's time its age is unknown: the platform says whether the reply is still allowed.
  if (replyUntil === undefined || now < replyUntil) return send("private_reply")
  const since = target.firstSeenAt?.getTime() ?? now
  if ((dmUntil !== undefined && since < dmUntil) || since < replyUntil) {
    return settle(Ledger.Settlement.Expired({
      reason: `its deadline passed while it waited: the private reply was allowed until ${
        new Date(replyUntil).toISOString()
      }`
    }))
  }
  return settle(Ledger.Settlement.Skipped({ reason: written === undefined ? "comment_too_old" : "window_closed" }))
}

/** What a template can say about the person. */
export const valuesOf = (target: Target): Template.Values => ({
  username: target.username,
  userId: target.userId,
  keyword: target.keyword ?? "",
  comment: target.commentText ?? "",
  commentId: target.commentId,
  postId: target.postId
})

/** The campaign's buttons for the person's private reply, if it has any (a DM carries none). */
const buttonsFor = (spec: CampaignSpec.CampaignSpec, target: Target) =>
  spec.buttons === undefined || spec.buttons.length === 0 ?
    {} :
    { buttons: Buttons.render(spec.buttons, valuesOf(target)) }

/**
 * The first message: a DM to the commenter or a private reply to their comment, by `delivery` (`auto`: per person,
 * from the conversations in `inbound`).
 */
export const firstMessage = (spec: CampaignSpec.CampaignSpec, inbound?: Inbound.Inbound): Step => {
  const delivery = CampaignSpec.deliveryOf(spec)
  const pathOf = (target: Target, now: number): Choice => {
    // A retry is the same request again, which the platform answers at most once: no deadline of ours applies.
    if (target.retryInDoubt === true) return send("private_reply")
    switch (delivery) {
      case "dm":
        return send("dm")
      case "private_reply": {
        const until = replyDeadline(target)
        return until === undefined || now <= until ? send("private_reply") : settle(Ledger.Settlement.Refused({
          reason: tooLate
        }))
      }
      case "auto":
        return autoChoice(inbound?.snapshot ?? Inbound.nothingSeen, target, now, inbound?.isOptOut)
    }
  }
  return {
    kind: "first_message",
    render: (target) => Template.render(Template.pick(spec.messages, spec.name, target.userId), valuesOf(target)),
    choose: (target, message) => {
      const tooLong = Template.checkLength(spec.platform, message)
      if (tooLong._tag === "Left") return Effect.succeed(settle(Ledger.Settlement.Refused({ reason: tooLong.left })))
      return Effect.map(Clock.currentTimeMillis, (now) => pathOf(target, now))
    },
    deadline: delivery === "dm" ? undefined : (target, now) => {
      const dmUntil = delivery === "auto"
        ? Inbound.dmDeadline(inbound?.snapshot ?? Inbound.nothingSeen, target.userId)
        : undefined
      return dmUntil !== undefined && now < dmUntil ? dmUntil : replyDeadline(target) ?? Number.MAX_SAFE_INTEGER
    },
    send: (api, target, message, path) =>
      path === "private_reply"
        ? api.privateReply({ user: spec.user, commentId: target.commentId, message, ...buttonsFor(spec, target) })
        : api.sendDm({ platform: spec.platform, user: spec.user, recipientId: target.userId, message })
  }
}

/**
 * The steps of a campaign, in the order a person goes through them: the first message, then the follow-up and the
 * public reply when the campaign has them. `paceHorizon`: how long a pass waits for a slot of a step's own pace.
 */
export const stepsOf = (
  spec: CampaignSpec.CampaignSpec,
  inbound?: Inbound.Inbound,
  paceHorizon = Number.POSITIVE_INFINITY
): readonly [Step, ...Array<Step>] => [
  firstMessage(spec, inbound),
  ...(spec.followUp === undefined ? [] : [FollowUp.step(spec, spec.followUp, inbound)]),
  ...(spec.publicReply === undefined
    ? []
    : [PublicReply.step(spec, spec.publicReply, CampaignSpec.publicReplyPerHour(spec), paceHorizon)])
]

/** What a settlement comes to in a step: a public reply whose request may have gone out is `unconfirmed`. */
export const finalOf = (step: Step, settlement: Ledger.Settlement): Ledger.Settlement =>
  step.kind === "public_reply" ? PublicReply.unconfirmed(settlement) : settlement
