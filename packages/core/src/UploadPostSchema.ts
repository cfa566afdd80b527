/**
 * Schemas for every request and answer of the Upload-Post endpoints the pipeline uses: tolerant where the API is
 * (flat `username`, missing `user`, extra fields, `+0000` timestamps), strict where it matters (a comment page
 * without `comments` is malformed).
 */
import { Schema } from "effect"

/** Ids arrive as strings; some networks send numbers. Either becomes a string. */
export const Id = Schema.Union(
  Schema.String.pipe(Schema.minLength(1)),
  Schema.transform(Schema.Int, Schema.String, { strict: true, decode: (n) => String(n), encode: (s) => Number(s) })
)

const Nullish = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

export const WireCommentUser = Schema.Struct({
  id: Nullish(Id),
  username: Nullish(Schema.String)
})

export const WireComment = Schema.Struct({
  id: Id,
  /** Absent or null: no text (a sticker, a deleted text). */
  text: Schema.optionalWith(Schema.String, { default: () => "", nullable: true }),
  timestamp: Nullish(Schema.String),
  user: Nullish(WireCommentUser),
  /** The older flat form of the commenter's name. */
  username: Nullish(Schema.String)
})
export type WireComment = typeof WireComment.Type

export const CommentPage = Schema.Struct({
  success: Schema.optional(Schema.Boolean),
  comments: Schema.Array(WireComment),
  pagination: Nullish(Schema.Struct({
    next_cursor: Nullish(Schema.String),
    has_next: Nullish(Schema.Boolean)
  }))
})
export type CommentPage = typeof CommentPage.Type

export const DmSendRequest = Schema.Struct({
  platform: Schema.String,
  user: Schema.String,
  recipient_id: Schema.String,
  message: Schema.String
})

export const PrivateReplyButton = Schema.Struct({ title: Schema.String, url: Schema.String })

export const PrivateReplyRequest = Schema.Struct({
  platform: Schema.Literal("instagram"),
  user: Schema.String,
  comment_id: Schema.String,
  message: Schema.String,
  buttons: Schema.optional(Schema.Array(PrivateReplyButton).pipe(Schema.maxItems(3)))
})

export const PublicReplyRequest = Schema.Struct({
  platform: Schema.String,
  user: Schema.String,
  comment_id: Schema.String,
  message: Schema.String
})

/** `/dms/send` and `/comments/reply` both answer with the message id. */
export const SendAnswer = Schema.Struct({
  success: Schema.optional(Schema.Boolean),
  recipient_id: Nullish(Id),
  message_id: Id,
  message: Nullish(Schema.String)
})

export const PublicReplyAnswer = Schema.Struct({
  success: Schema.optional(Schema.Boolean),
  id: Id
})

const Party = Schema.Struct({ id: Id, username: Nullish(Schema.String) })

export const ConversationMessage = Schema.Struct({
  id: Id,
  created_time: Nullish(Schema.String),
  from: Nullish(Party),
  to: Nullish(Schema.Struct({ data: Schema.Array(Party) })),
  message: Nullish(Schema.String)
})

export const Conversation = Schema.Struct({
  id: Id,
  participants: Nullish(Schema.Struct({ data: Schema.Array(Party) })),
  messages: Nullish(Schema.Struct({ data: Schema.Array(ConversationMessage) }))
})

export const ConversationsAnswer = Schema.Struct({
  success: Schema.optional(Schema.Boolean),
  conversations: Schema.Array(Conversation)
})
export type ConversationsAnswer = typeof ConversationsAnswer.Type

export const MeAnswer = Schema.Struct({
  success: Schema.optional(Schema.Boolean),
  email: Nullish(Schema.String),
  plan: Nullish(Schema.String)
})

/**
 * One social account of a profile (`social_accounts.<platform>`): an object once connected; `""` or null before. For
 * Instagram its `username` is the account's user id and `handle` the @name. Unconfirmed beyond that, so every field is
 * optional and `reauth_required` is read as whatever it is.
 */
export const WireSocialAccount = Schema.Struct({
  username: Nullish(Id),
  handle: Nullish(Schema.String),
  display_name: Nullish(Schema.String),
  reauth_required: Schema.optional(Schema.Unknown)
})
export type WireSocialAccount = typeof WireSocialAccount.Type

const WireProfile = Schema.Struct({
  username: Nullish(Schema.String),
  /** Per platform; each value is read on its own, so that an odd entry for one network spoils no other. */
  social_accounts: Nullish(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

/**
 * `GET /uploadposts/users/{profile}`: documented as `{success, profile: {username, social_accounts, ...}}`; the
 * envelope is unconfirmed, so a profile at the top level is read too.
 */
export const ProfileAnswer = Schema.Struct({
  success: Schema.optional(Schema.Boolean),
  profile: Nullish(WireProfile),
  username: Nullish(Schema.String),
  social_accounts: Nullish(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})

export const MediaAnswer = Schema.Struct({
  success: Schema.optional(Schema.Boolean),
  media: Schema.Array(Schema.Struct({
    id: Id,
    url: Nullish(Schema.String),
    caption: Nullish(Schema.String),
    timestamp: Nullish(Schema.String)
  })),
  pagination: Nullish(Schema.Struct({
    next_cursor: Nullish(Schema.String),
    has_more: Nullish(Schema.Boolean)
  }))
})

/** The fields error bodies use across endpoints: DM endpoints say `error`, others `message`, `detail`, `error_code`. */
export const ErrorBody = Schema.Struct({
  success: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.Unknown),
  message: Schema.optional(Schema.Unknown),
  detail: Schema.optional(Schema.Unknown),
  error_code: Schema.optional(Schema.Unknown)
})

/**
 * Parses the API's timestamps: ISO-8601, with Instagram's `+0000` offset (no colon) as well as `Z` and `+00:00`.
 * Unreadable text gives `undefined`, never an error: a timestamp only orders and ages comments.
 */
export const parseTimestamp = (text: string | null | undefined): Date | undefined => {
  if (text === null || text === undefined) return undefined
  const normalised = text.trim().replace(/([+-]\d{2})(\d{2})$/, "$1:$2")
  const millis = Date.parse(normalised)
  return Number.isNaN(millis) ? undefined : new Date(millis)
}

/** Formats a date the way Instagram does: `2026-03-28T10:15:00+0000`. */
export const formatTimestamp = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, "+0000")
