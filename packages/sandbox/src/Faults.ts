/**
 * The sandbox's fault knobs: latency, injected errors, the daily DM cap, refused and unreachable recipients, the
 * request-rate limit and broken paging. All of them can be changed while the sandbox runs.
 */
import { Either, Schema } from "effect"

const Share = Schema.Number.pipe(Schema.between(0, 1, { message: () => "expected a share between 0 and 1" }))

/** Latency added to every API answer: a uniform pick in [minMs, maxMs]. */
export const Latency = Schema.Struct({
  minMs: Schema.NonNegativeInt,
  maxMs: Schema.NonNegativeInt
}).pipe(Schema.filter((latency) => latency.minMs <= latency.maxMs || "minMs must not exceed maxMs"))
export type Latency = typeof Latency.Type

/** A fixed-window request limit per API key. */
export const RequestLimit = Schema.Struct({
  requests: Schema.Int.pipe(Schema.positive()),
  windowSeconds: Schema.Int.pipe(Schema.positive())
})
export type RequestLimit = typeof RequestLimit.Type

/**
 * An Upload-Post plan's request limits per API key, in its two fixed windows: a minute and ten minutes (Free 60 and
 * 300, up to Business 500 and 2,500).
 */
export const Plan = Schema.Struct({
  perMinute: Schema.Int.pipe(Schema.positive()),
  perTenMinutes: Schema.Int.pipe(Schema.positive())
})
export type Plan = typeof Plan.Type

/**
 * Sends refused with an answer of the test's choosing, as a platform would that words its refusals in a way no table
 * knows: `recipients` (or `"all"`) are answered with `status` and `{"success": false, "error": text}`.
 */
export const OddRefusal = Schema.Struct({
  recipients: Schema.Union(Schema.Literal("all"), Schema.Array(Schema.String)),
  status: Schema.Int.pipe(Schema.between(400, 599, { message: () => "expected an HTTP status from 400 to 599" })),
  text: Schema.String
})
export type OddRefusal = typeof OddRefusal.Type

export const Faults = Schema.Struct({
  latency: Latency,
  /** Share of reads (me, comments, media, conversations) answered with a 500. */
  readErrorRate: Share,
  /** Share of sends answered with a 500; nothing is delivered. */
  sendErrorRate: Share,
  /** Share of sends whose connection is destroyed after the message was delivered. */
  resetAfterDeliveryRate: Share,
  /** Sends per day (DMs, private and public replies together) before "Daily DM limit exceeded.". */
  dailyDmLimit: Schema.NonNegativeInt,
  /** Recipients whose messaging window is closed whatever they write: /dms/send refuses them. */
  refusedRecipients: Schema.Array(Schema.String),
  /** Recipients that cannot be reached by a DM or a private reply. */
  unreachableRecipients: Schema.Array(Schema.String),
  requestLimit: RequestLimit,
  /** The plan's limits per key (both windows), for every key without a plan of its own; null: none. */
  plan: Schema.NullOr(Plan),
  /** Requests per minute per profile, whatever the key (Upload-Post says 2; unconfirmed); null: none. */
  profileRequestLimit: Schema.NullOr(Schema.Int.pipe(Schema.positive())),
  /** When set, the conversations endpoint answers every call with a 500. */
  conversationsFailing: Schema.Boolean,
  /** When set, these recipients' DMs and private replies get this answer (before any other refusal). */
  oddRefusal: Schema.NullOr(OddRefusal),
  /**
   * Posts whose comment pages form a cycle: from the second page on, `next_cursor` points back at the first page, so a
   * reader that follows it reads the first pages again and again.
   */
  cursorLoops: Schema.Array(Schema.String),
  /**
   * The most conversations the conversations endpoint lists (the most recently active first), as an answer cut short
   * by the platform's paging would; null lists them all.
   */
  maxConversations: Schema.NullOr(Schema.Int.pipe(Schema.positive())),
  /** The most messages listed per conversation (the newest first). */
  messagesPerConversation: Schema.Int.pipe(Schema.positive()),
  /** When set, the profile's Instagram account needs a new login (`reauth_required` in `GET /uploadposts/users/{profile}`). */
  reauthRequired: Schema.Boolean
})
export type Faults = typeof Faults.Type

/** A partial update: the keys present replace the current values. */
export const FaultsPatch = Schema.partialWith(Faults, { exact: true })
export type FaultsPatch = typeof FaultsPatch.Type

/**
 * No faults, the paid plan's 500 DMs a day, and a request limit high enough that only a test that asks for a
 * lower one will meet it.
 */
export const defaults: Faults = {
  latency: { minMs: 0, maxMs: 0 },
  readErrorRate: 0,
  sendErrorRate: 0,
  resetAfterDeliveryRate: 0,
  dailyDmLimit: 500,
  refusedRecipients: [],
  unreachableRecipients: [],
  requestLimit: { requests: 100_000, windowSeconds: 60 },
  plan: null,
  profileRequestLimit: null,
  conversationsFailing: false,
  oddRefusal: null,
  cursorLoops: [],
  maxConversations: null,
  messagesPerConversation: 25,
  reauthRequired: false
}

export const apply = (faults: Faults, patch: FaultsPatch): Faults => ({ ...faults, ...patch })

/** Reads "50" (fixed) or "20..200" (a range) in milliseconds. */
export const parseLatency = (text: string): Either.Either<Latency, string> => {
  const match = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(text)
  if (match?.[1] === undefined) {
    return Either.left(`latency must be milliseconds like "50" or a range like "20..200", got "${text}"`)
  }
  const minMs = Number(match[1])
  const maxMs = match[2] === undefined ? minMs : Number(match[2])
  return minMs <= maxMs
    ? Either.right({ minMs, maxMs })
    : Either.left(`latency range "${text}" starts above its end`)
}
