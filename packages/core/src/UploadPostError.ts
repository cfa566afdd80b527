/**
 * The typed failures of the Upload-Post API, one class per way a campaign must react.
 * The mapping from HTTP answers to these classes lives in one table: `internal/errorTable.ts`.
 */
import { Data, Duration } from "effect"

/** 429 `Daily DM limit exceeded.`: nothing more can be sent today from this profile. */
export class DailyLimitReached extends Data.TaggedError("DailyLimitReached")<{
  readonly endpoint: string
  readonly detail: string
}> {
  override get message() {
    return `Upload-Post refused ${this.endpoint}: the profile's daily DM limit is reached ("${this.detail}"). ` +
      "People not yet sent stay pending; run the campaign again after the daily reset."
  }
}

/** 429 on the request rate (not the daily cap): wait `retryAfter`, then go on. */
export class RateLimited extends Data.TaggedError("RateLimited")<{
  readonly endpoint: string
  readonly retryAfter: Duration.Duration
  readonly detail: string
}> {
  override get message() {
    return `Upload-Post rate-limited ${this.endpoint} ("${this.detail}"); ` +
      `the limit resets in ${Duration.format(this.retryAfter)}.`
  }
}

/** The platform refused this one recipient (messaging window, private reply rules, unreachable person). */
export class RecipientRefused extends Data.TaggedError("RecipientRefused")<{
  readonly endpoint: string
  readonly status: number
  readonly reason: string
}> {
  override get message() {
    return `The platform refused this recipient on ${this.endpoint} (HTTP ${this.status}): ${this.reason}. ` +
      "The person is settled as refused and not retried."
  }
}

/**
 * A 4xx on a send that no row of the error table recognises: neither a known refusal of the person nor a known problem
 * of the request. Meta's refusals are not all documented, so the person is refused with the platform's text; a run
 * stops only when such answers come several times in a row ({@link UnrecognisedRefusals}).
 */
export class UnrecognisedRefusal extends Data.TaggedError("UnrecognisedRefusal")<{
  readonly endpoint: string
  readonly status: number
  readonly detail: string
}> {
  override get message() {
    return `The platform refused this recipient on ${this.endpoint} with an answer comment-dm does not recognise ` +
      `(HTTP ${this.status}): ${this.detail}. The person is settled as refused and not retried.`
  }
}

/** Sends refused in a row with answers no row of the error table recognises: something changed on the platform. */
export class UnrecognisedRefusals extends Data.TaggedError("UnrecognisedRefusals")<{
  readonly count: number
  readonly last: UnrecognisedRefusal
}> {
  override get message() {
    return `${this.count} sends in a row were refused with an answer comment-dm does not recognise, so the run stops ` +
      `before it refuses everyone. Last answer: ${this.last.endpoint} HTTP ${this.last.status}: ` +
      `${JSON.stringify(this.last.detail)}. Those people are refused with that text; the rest stay pending. Please ` +
      "report this answer (it holds no key) so that it can be recognised."
  }
}

/** 400 and similar: the request itself is wrong (missing fields, unknown account or post, bad limit). */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{
  readonly endpoint: string
  readonly status: number
  readonly detail: string
}> {
  override get message() {
    return `Upload-Post rejected ${this.endpoint} as invalid (HTTP ${this.status}): ${this.detail}. ` +
      "Check the campaign's platform, user (the Upload-Post profile username) and posts."
  }
}

/** 401/403 on the key. */
export class Unauthorized extends Data.TaggedError("Unauthorized")<{
  readonly endpoint: string
  readonly status: number
  readonly detail: string
  /** The setting the key came from, to check (`UPLOAD_POST_API_KEY`, or the key given in code). */
  readonly keySetting?: string
}> {
  override get message() {
    return `Upload-Post did not accept the API key on ${this.endpoint} (HTTP ${this.status}): ${this.detail}. ` +
      `Check ${this.keySetting ?? "the API key"}; repeated bad keys can block the caller for minutes.`
  }
}

/** A failure that another attempt may not see: 5xx, connection refused, a read that timed out. */
export class Transient extends Data.TaggedError("Transient")<{
  readonly endpoint: string
  readonly detail: string
  readonly status?: number
}> {
  override get message() {
    const status = this.status === undefined ? "" : ` (HTTP ${this.status})`
    return `Upload-Post failed ${this.endpoint}${status}: ${this.detail}. It is retried with back-off; ` +
      "if it persists the people concerned stay pending for the next run."
  }
}

/** A body that does not fit the documented schema. */
export class MalformedResponse extends Data.TaggedError("MalformedResponse")<{
  readonly endpoint: string
  readonly status: number
  readonly problem: string
  readonly excerpt: string
}> {
  override get message() {
    return `Upload-Post answered ${this.endpoint} (HTTP ${this.status}) with a body that does not fit the API: ` +
      `${this.problem}. Body starts: ${JSON.stringify(this.excerpt)}`
  }
}

/**
 * A send whose outcome is unknown: the request may have reached the platform (timeout or connection reset after the
 * body went out, or a 2xx whose body cannot be read). Never resent blindly: reconciliation decides.
 */
export class SendInDoubt extends Data.TaggedError("SendInDoubt")<{
  readonly endpoint: string
  readonly detail: string
}> {
  override get message() {
    return `The outcome of ${this.endpoint} is unknown: ${this.detail}. The person is kept in doubt and is not ` +
      "resent until reconciliation reads the conversations and finds no such message."
  }
}

/**
 * A paged read whose next cursor repeats one it has already followed: the pages would come round again forever. The
 * read stops there; what it read before is kept.
 */
export class CursorCycle extends Data.TaggedError("CursorCycle")<{
  readonly endpoint: string
  /** The post (id or URL) whose comments were read. */
  readonly post: string
  readonly cursor: string
  /** Pages read before the cursor came round again. */
  readonly pages: number
}> {
  override get message() {
    return `Upload-Post's ${this.endpoint} for post ${this.post} pointed back to a cursor it had already given ` +
      `(${JSON.stringify(this.cursor.slice(0, 80))}) after ${this.pages} pages: the pages would repeat forever, so ` +
      "the post was read only that far. Its comments below that point were not read."
  }
}

/** Every failure a read (comments, conversations, media, key check) can end with. */
export type ReadError =
  | DailyLimitReached
  | RateLimited
  | InvalidRequest
  | Unauthorized
  | Transient
  | MalformedResponse

/** Every failure a send (DM, private reply, public reply) can end with. */
export type SendError =
  | DailyLimitReached
  | RateLimited
  | RecipientRefused
  | UnrecognisedRefusal
  | InvalidRequest
  | Unauthorized
  | Transient
  | SendInDoubt

export type UploadPostError = ReadError | SendError | CursorCycle
