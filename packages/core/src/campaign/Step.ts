/**
 * A step: one message a campaign sends each person, with its own ledger row (the step is in the row's key) and its
 * own claim and settle cycle. The delivery stage works over a step: its kind, the row it keys, the text it renders,
 * the refusals known before any request, and the request it makes. Today's campaigns have one step, the first
 * message (a DM, or a private reply by `delivery`); a new kind is a new value of this shape.
 */
import { Clock, Duration, Effect, Option } from "effect"
import type * as CampaignSpec from "../CampaignSpec.js"
import type * as Ledger from "../Ledger.js"
import * as Template from "../Template.js"
import type * as UploadPost from "../UploadPost.js"
import type * as Errors from "../UploadPostError.js"

/** A person as discovery hands them on: the first matching comment of theirs. */
export type Target = Ledger.Candidate

/** Instagram allows one private reply per comment, within 7 days of it. */
export const privateReplyWindow = Duration.days(7)

export interface Step {
  readonly kind: Ledger.StepKind
  /** The first message's path, recorded on its row by the claim; the other steps have none. */
  readonly path: Ledger.MessagePath | undefined
  /** Whether people go in order of their deadline (private replies expire 7 days after the comment). */
  readonly deadlineFirst: boolean
  /** The text a person gets in this step. */
  readonly render: (target: Target) => string
  /** A refusal known without asking the platform, if any. */
  readonly refusal: (target: Target, message: string) => Effect.Effect<Option.Option<string>>
  /** The request the step makes: one attempt. */
  readonly send: (
    api: UploadPost.UploadPost,
    target: Target,
    message: string
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

/** The first message: a DM to the commenter, or a private reply to their comment. */
export const firstMessage = (spec: CampaignSpec.CampaignSpec): Step => {
  const privateReply = spec.delivery === "private_reply"
  return {
    kind: "first_message",
    path: spec.delivery,
    deadlineFirst: privateReply,
    render: (target) =>
      Template.render(Template.pick(spec.messages, spec.name, target.userId), {
        username: target.username,
        userId: target.userId,
        keyword: target.keyword ?? "",
        comment: target.commentText ?? "",
        commentId: target.commentId,
        postId: target.postId
      }),
    refusal: (target, message) => {
      const tooLong = Template.checkLength(spec.platform, message)
      if (tooLong._tag === "Left") return Effect.succeed(Option.some(tooLong.left))
      const commentTime = target.commentTime
      if (!privateReply || commentTime === undefined) return Effect.succeed(Option.none())
      return Effect.map(
        Clock.currentTimeMillis,
        (now) =>
          now - commentTime.getTime() <= Duration.toMillis(privateReplyWindow) ? Option.none() : Option.some(tooLate)
      )
    },
    send: privateReply
      ? (api, target, message) => api.privateReply({ user: spec.user, commentId: target.commentId, message })
      : (api, target, message) =>
        api.sendDm({ platform: spec.platform, user: spec.user, recipientId: target.userId, message })
  }
}

/** The steps of a campaign, in the order a person goes through them. */
export const stepsOf = (spec: CampaignSpec.CampaignSpec): readonly [Step, ...Array<Step>] => [firstMessage(spec)]
