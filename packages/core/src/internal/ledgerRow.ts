import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type {
  CampaignVersion,
  Candidate,
  ConversationsRead,
  LedgerEntry,
  ReadMark,
  TallyRow,
  Unrecorded
} from "../Ledger.js"
import { DeliveryState, MessagePath, StepKind } from "../Ledger.js"
import { storable, storableOrNull } from "./storable.js"

/**
 * An integer column. SQLite returns numbers; PostgreSQL returns BIGINT (and COUNT) as strings, or bigints when the
 * client asks for them.
 */
export const Integer = Schema.Union(
  Schema.Number,
  Schema.NumberFromString,
  Schema.transform(Schema.BigIntFromSelf, Schema.Number, { strict: true, decode: Number, encode: BigInt })
)

/** Timestamps are stored as epoch milliseconds so that both dialects compare them as integers. */
export const EpochMillis = Schema.transform(Integer, Schema.DateFromSelf, {
  strict: true,
  decode: (millis) => new Date(millis),
  encode: (date) => date.getTime()
})

/** A `comment_dm_recipients` row as the database returns it. */
const RecipientRow = Schema.Struct({
  campaign: Schema.String,
  platform: Schema.String,
  user_id: Schema.String,
  step: StepKind,
  path: Schema.NullOr(MessagePath),
  username: Schema.NullOr(Schema.String),
  post_id: Schema.String,
  comment_id: Schema.String,
  comment_text: Schema.NullOr(Schema.String),
  comment_time: Schema.NullOr(EpochMillis),
  keyword: Schema.NullOr(Schema.String),
  state: DeliveryState,
  reason: Schema.NullOr(Schema.String),
  message: Schema.NullOr(Schema.String),
  message_id: Schema.NullOr(Schema.String),
  campaign_version: Schema.NullOr(Integer),
  attempts: Integer,
  claimed_at: Schema.NullOr(EpochMillis),
  claimed_by: Schema.NullOr(Schema.String),
  lease_until: Schema.NullOr(EpochMillis),
  settled_at: Schema.NullOr(EpochMillis),
  first_seen_at: EpochMillis,
  updated_at: EpochMillis
})

const orUndefined = <A>(value: A | null): A | undefined => value === null ? undefined : value

const toEntry = (row: typeof RecipientRow.Type): LedgerEntry => ({
  campaign: row.campaign,
  platform: row.platform,
  userId: row.user_id,
  step: row.step,
  path: orUndefined(row.path),
  username: orUndefined(row.username),
  postId: row.post_id,
  commentId: row.comment_id,
  commentText: orUndefined(row.comment_text),
  commentTime: orUndefined(row.comment_time),
  keyword: orUndefined(row.keyword),
  state: row.state,
  reason: orUndefined(row.reason),
  message: orUndefined(row.message),
  messageId: orUndefined(row.message_id),
  campaignVersion: orUndefined(row.campaign_version),
  attempts: row.attempts,
  claimedAt: orUndefined(row.claimed_at),
  claimedBy: orUndefined(row.claimed_by),
  leaseUntil: orUndefined(row.lease_until),
  settledAt: orUndefined(row.settled_at),
  firstSeenAt: row.first_seen_at,
  updatedAt: row.updated_at
})

const decodeRecipientRows = Schema.decodeUnknown(Schema.Array(RecipientRow))

/** Decodes `SELECT * FROM comment_dm_recipients` rows into entries. */
export const decodeEntries = (
  rows: ReadonlyArray<unknown>
): Effect.Effect<Array<LedgerEntry>, ParseResult.ParseError> =>
  Effect.map(decodeRecipientRows(rows), (decoded) => decoded.map(toEntry))

const StateRow = Schema.Struct({ user_id: Schema.String, state: DeliveryState })

/** Decodes `SELECT user_id, state` rows. */
export const decodeStates = Schema.decodeUnknown(Schema.Array(StateRow))

const CountRow = Schema.Struct({ state: DeliveryState, n: Integer })

/** Decodes `SELECT state, COUNT(*) AS n ... GROUP BY state` rows. */
export const decodeCounts = Schema.decodeUnknown(Schema.Array(CountRow))

const ClaimHolderRow = Schema.Struct({ claimed_by: Schema.String })

/** Decodes `SELECT DISTINCT claimed_by` rows of claimed people, whose claimant is always recorded. */
export const decodeClaimHolders = Schema.decodeUnknown(Schema.Array(ClaimHolderRow))

const KeepsCommentTextRow = Schema.Struct({ keeps: Schema.NullOr(Integer) })

/** Decodes `SELECT keeps_comment_text AS keeps` rows of a campaign. */
export const decodeKeepsCommentText = Schema.decodeUnknown(Schema.Array(KeepsCommentTextRow))

/**
 * The columns `discover` writes for a new candidate; absent values are stored as NULL, and text from the platform
 * (the commenter and their comment) as the database can hold it (see `storable`). The campaign, platform, post and
 * keyword come from the campaign file and are stored as the other statements look them up.
 */
export const candidateRow = (candidate: Candidate, now: number) => ({
  campaign: candidate.campaign,
  platform: candidate.platform,
  user_id: storable(candidate.userId),
  step: candidate.step,
  username: storableOrNull(candidate.username),
  post_id: candidate.postId,
  comment_id: storable(candidate.commentId),
  comment_text: storableOrNull(candidate.commentText),
  comment_time: candidate.commentTime?.getTime() ?? null,
  keyword: candidate.keyword ?? null,
  state: "pending",
  attempts: 0,
  first_seen_at: now,
  updated_at: now
})

const PostReadRow = Schema.Struct({
  campaign: Schema.String,
  post: Schema.String,
  newest_ids: Schema.parseJson(Schema.Array(Schema.String)),
  match_key: Schema.String,
  read_at: EpochMillis,
  comments: Schema.NullOr(Integer)
})

const decodePostReadRows = Schema.decodeUnknown(Schema.Array(PostReadRow))

/** Decodes `SELECT * FROM comment_dm_post_reads` rows into read marks. */
export const decodeReadMarks = (rows: ReadonlyArray<unknown>): Effect.Effect<Array<ReadMark>, ParseResult.ParseError> =>
  Effect.map(decodePostReadRows(rows), (decoded) =>
    decoded.map((row) => ({
      campaign: row.campaign,
      post: row.post,
      newestIds: row.newest_ids,
      matchKey: row.match_key,
      readAt: row.read_at,
      ...(row.comments === null ? {} : { comments: row.comments })
    })))

const UnrecordedRow = Schema.Struct({
  user_id: Schema.String,
  username: Schema.NullOr(Schema.String),
  reason: Schema.String
})

const decodeUnrecordedRows = Schema.decodeUnknown(Schema.Array(UnrecordedRow))

/** Decodes `SELECT user_id, username, reason FROM comment_dm_unrecorded` rows. */
export const decodeUnrecorded = (
  rows: ReadonlyArray<unknown>
): Effect.Effect<Array<Unrecorded>, ParseResult.ParseError> =>
  Effect.map(
    decodeUnrecordedRows(rows),
    (decoded) =>
      decoded.map((row) => ({ userId: row.user_id, username: orUndefined(row.username), reason: row.reason }))
  )

const ConversationReadRow = Schema.Struct({ conversations: Integer, read_at: EpochMillis })

const decodeConversationReadRows = Schema.decodeUnknown(Schema.Array(ConversationReadRow))

/** Decodes `SELECT conversations, read_at FROM comment_dm_conversation_reads` rows. */
export const decodeConversationReads = (
  rows: ReadonlyArray<unknown>
): Effect.Effect<Array<ConversationsRead>, ParseResult.ParseError> =>
  Effect.map(
    decodeConversationReadRows(rows),
    (decoded) => decoded.map((row) => ({ conversations: row.conversations, readAt: row.read_at }))
  )

const CampaignVersionRow = Schema.Struct({ version: Integer, fingerprint: Schema.String })

/** Decodes `SELECT version, fingerprint FROM comment_dm_campaign_versions` rows. */
export const decodeCampaignVersions = Schema.decodeUnknown(Schema.Array(CampaignVersionRow))

const CampaignVersionSpecRow = Schema.Struct({ version: Integer, spec: Schema.String, created_at: EpochMillis })

const decodeCampaignVersionSpecRows = Schema.decodeUnknown(Schema.Array(CampaignVersionSpecRow))

/** Decodes `SELECT version, spec, created_at FROM comment_dm_campaign_versions` rows (a spec that is not JSON: null). */
export const decodeCampaignVersionSpecs = (
  rows: ReadonlyArray<unknown>
): Effect.Effect<Array<CampaignVersion>, ParseResult.ParseError> =>
  Effect.map(decodeCampaignVersionSpecRows(rows), (decoded) =>
    decoded.map((row) => {
      let spec: unknown = null
      try {
        spec = JSON.parse(row.spec)
      } catch {
        // A row written by hand or cut short: no delivery to compare, which the caller treats as unknown.
      }
      return { version: row.version, spec, createdAt: row.created_at }
    }))

const TallyDbRow = Schema.Struct({
  state: DeliveryState,
  path: Schema.NullOr(MessagePath),
  reason: Schema.NullOr(Schema.String),
  n: Integer
})

const decodeTallyRows = Schema.decodeUnknown(Schema.Array(TallyDbRow))

/** Decodes `SELECT state, path, reason, COUNT(*) AS n ... GROUP BY state, path, reason` rows. */
export const decodeTally = (rows: ReadonlyArray<unknown>): Effect.Effect<Array<TallyRow>, ParseResult.ParseError> =>
  Effect.map(decodeTallyRows(rows), (decoded) =>
    decoded.map((row) => ({
      state: row.state,
      path: orUndefined(row.path),
      reason: orUndefined(row.reason),
      count: row.n
    })))
