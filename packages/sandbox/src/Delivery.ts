/**
 * A message the sandbox delivered: the ground truth tests compare a campaign against.
 */
import { Schema } from "effect"

export const Kind = Schema.Literal("dm", "private_reply", "public_reply")
export type Kind = typeof Kind.Type

/** A button of a private reply, as the request carried it. */
export const Button = Schema.Struct({ title: Schema.String, url: Schema.String })
export type Button = typeof Button.Type

export const Delivery = Schema.Struct({
  /** The profile that sent it; only when the sandbox serves several profiles. */
  profile: Schema.optionalWith(Schema.String, { exact: true }),
  kind: Kind,
  /** The person reached; empty for a public reply to a comment whose author has no id. */
  recipientId: Schema.String,
  /** The comment answered (private and public replies). */
  commentId: Schema.optionalWith(Schema.String, { exact: true }),
  message: Schema.String,
  /** The buttons of a private reply that had them. */
  buttons: Schema.optionalWith(Schema.Array(Button), { exact: true }),
  /** `message_id` of a DM or private reply, `id` of a public reply. */
  messageId: Schema.String,
  /** Sandbox time of delivery, after the answer delay, ISO-8601 UTC. */
  at: Schema.String,
  /**
   * Sandbox time the request arrived, before the answer delay, ISO-8601 UTC: the moment the request-rate limit
   * counts it, as a platform's rate limits count requests as they arrive.
   */
  receivedAt: Schema.String
})
export type Delivery = typeof Delivery.Type
