/**
 * The one table that maps an Upload-Post answer (status, headers, body text) to a typed error.
 * Rows are tried in order; the first that applies wins. Keep unconfirmed wording here, in one place.
 */
import { Duration } from "effect"
import * as Errors from "../UploadPostError.js"

export type Operation = "read" | "send"

export interface Answer {
  readonly endpoint: string
  readonly operation: Operation
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  /** The most specific message the body carries (`error`, `message`, `detail` or `error_code`), else an excerpt. */
  readonly detail: string
  /** Current time in epoch milliseconds, for `X-RateLimit-Reset`. */
  readonly now: number
  /** The setting a refused key's message tells to check, as the key was given (environment variable or code). */
  readonly keySetting?: string
}

export interface Row {
  readonly name: string
  readonly applies: (answer: Answer) => boolean
  readonly error: (answer: Answer) => Errors.ReadError | Errors.SendError
}

const dailyLimitText = /daily\s+(dm\s+)?limit/i

/**
 * Meta's wording for refusals of one person: messaging window closed (#10), private reply already used (#10900) or
 * too old (#10903), person unreachable (#551), and their plain-language variants.
 */
const recipientRefusalText = new RegExp(
  [
    String.raw`\(#(10|10900|10903|551|100\d\d)\)`,
    "outside (of )?(the )?allowed window",
    "messaging window",
    "already replied",
    "too old",
    "isn'?t available",
    "is not available",
    "cannot (be )?(reached|messaged)",
    "not allowed to (message|reply)",
    "user (has )?blocked",
    "recipient .*(not|no longer) (found|reachable|available)"
  ].join("|"),
  "i"
)

/**
 * The problems of the request itself a send can be answered with (a configuration error: the campaign stops): missing
 * fields, an account that is not the key's, an unknown post or comment, a platform without private replies, bad buttons.
 */
const requestProblemText = new RegExp(
  [
    // Also as an error code: MISSING_FIELDS, INVALID_ACCOUNT.
    "missing[ _](required|fields?|param)",
    "invalid[ _]account",
    "unsupported platform",
    String.raw`\b(post|comment|media|account) not found`,
    "could not find media",
    "only supported on",
    "buttons must"
  ].join("|"),
  "i"
)

const defaultRateLimitWait = Duration.seconds(60)

const header = (answer: Answer, name: string): string | undefined => answer.headers[name.toLowerCase()]

/** The wait before a request-rate 429 clears: `Retry-After` (seconds or a date), else `X-RateLimit-Reset`. */
export const rateLimitWait = (answer: Answer): Duration.Duration => {
  const retryAfter = header(answer, "retry-after")
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter)
    if (Number.isFinite(seconds) && seconds >= 0) return Duration.seconds(seconds)
    const date = Date.parse(retryAfter)
    if (!Number.isNaN(date)) return Duration.millis(Math.max(0, date - answer.now))
  }
  const reset = Number(header(answer, "x-ratelimit-reset"))
  if (Number.isFinite(reset) && reset > 0) {
    return Duration.millis(Math.max(0, reset * 1000 - answer.now))
  }
  return defaultRateLimitWait
}

/**
 * The wait a request-rate 429 asks for, or `undefined` for any other answer (a 429 that names the daily DM limit
 * limits sends, not requests): what the request budget holds the key for.
 */
export const requestRateWait = (
  answer: { readonly status: number; readonly headers: Answer["headers"]; readonly text?: string; readonly now: number }
): Duration.Duration | undefined =>
  answer.status === 429 && !dailyLimitText.test(answer.text ?? "")
    ? rateLimitWait({ ...answer, endpoint: "", operation: "read", detail: "" })
    : undefined

const isClientError = (status: number) => status >= 400 && status < 500

export const table: ReadonlyArray<Row> = [
  {
    name: "429 with daily-limit text -> DailyLimitReached",
    applies: (a) => a.status === 429 && dailyLimitText.test(a.detail),
    error: (a) => new Errors.DailyLimitReached({ endpoint: a.endpoint, detail: a.detail })
  },
  {
    name: "429 otherwise -> RateLimited (wait from Retry-After or X-RateLimit-Reset)",
    applies: (a) => a.status === 429,
    error: (a) => new Errors.RateLimited({ endpoint: a.endpoint, retryAfter: rateLimitWait(a), detail: a.detail })
  },
  {
    name: "4xx on a send with a refusal of the person -> RecipientRefused",
    applies: (a) => a.operation === "send" && isClientError(a.status) && recipientRefusalText.test(a.detail),
    error: (a) => new Errors.RecipientRefused({ endpoint: a.endpoint, status: a.status, reason: a.detail })
  },
  {
    name: "401 or 403 -> Unauthorized",
    applies: (a) => a.status === 401 || a.status === 403,
    error: (a) =>
      new Errors.Unauthorized({
        endpoint: a.endpoint,
        status: a.status,
        detail: a.detail,
        ...(a.keySetting === undefined ? {} : { keySetting: a.keySetting })
      })
  },
  {
    name: "408 or 5xx -> Transient (the server did not complete the request)",
    applies: (a) => a.status === 408 || a.status >= 500,
    error: (a) => new Errors.Transient({ endpoint: a.endpoint, status: a.status, detail: a.detail })
  },
  {
    name: "4xx on a send without a known request problem -> UnrecognisedRefusal (the person is refused)",
    applies: (a) => a.operation === "send" && isClientError(a.status) && !requestProblemText.test(a.detail),
    // Kept short: it becomes each such person's refusal reason.
    error: (a) => new Errors.UnrecognisedRefusal({ endpoint: a.endpoint, status: a.status, detail: excerpt(a.detail) })
  },
  {
    name: "other 4xx -> InvalidRequest",
    applies: (a) => isClientError(a.status),
    error: (a) => new Errors.InvalidRequest({ endpoint: a.endpoint, status: a.status, detail: a.detail })
  },
  {
    name: "any other status on a read -> MalformedResponse",
    applies: (a) => a.operation === "read",
    error: (a) =>
      new Errors.MalformedResponse({
        endpoint: a.endpoint,
        status: a.status,
        problem: "unexpected status",
        excerpt: a.detail
      })
  },
  {
    name: "any other status on a send -> SendInDoubt",
    applies: () => true,
    error: (a) => new Errors.SendInDoubt({ endpoint: a.endpoint, detail: `unexpected HTTP ${a.status}: ${a.detail}` })
  }
]

export const classify = (answer: Answer): Errors.ReadError | Errors.SendError => {
  for (const row of table) {
    if (row.applies(answer)) return row.error(answer)
  }
  // The last row applies to everything; this keeps the compiler satisfied without a cast.
  return new Errors.SendInDoubt({ endpoint: answer.endpoint, detail: answer.detail })
}

/** Transport failures that prove the request never left: safe to retry even for a send. */
const notSentCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])

export const errorCode = (cause: unknown): string | undefined => {
  let current: unknown = cause
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if ("code" in current && typeof current.code === "string") return current.code
    current = "cause" in current ? current.cause : undefined
  }
  return undefined
}

/** A failure with no answer at all: connection refused, reset, timeout. */
export const classifyTransport = (
  endpoint: string,
  operation: Operation,
  cause: unknown,
  timedOut: boolean
): Errors.Transient | Errors.SendInDoubt => {
  const code = errorCode(cause)
  const detail = timedOut ? "no answer before the timeout" : `connection failed (${code ?? "transport error"})`
  if (operation === "read" || (!timedOut && code !== undefined && notSentCodes.has(code))) {
    return new Errors.Transient({ endpoint, detail })
  }
  return new Errors.SendInDoubt({ endpoint, detail: `${detail} after the request was sent` })
}

/** Pulls the most specific text out of an error body, or an excerpt of the raw text. */
export const detailOf = (body: unknown, text: string): string => {
  if (typeof body === "object" && body !== null) {
    for (const field of ["error", "message", "detail", "error_code"] as const) {
      const value: unknown = (body as Record<string, unknown>)[field]
      if (typeof value === "string" && value.length > 0) return value
      if (typeof value === "object" && value !== null && "message" in value && typeof value.message === "string") {
        return value.message
      }
    }
  }
  const trimmed = text.trim()
  return trimmed.length === 0 ? "(empty body)" : excerpt(trimmed)
}

export const excerpt = (text: string, max = 200): string => text.length <= max ? text : `${text.slice(0, max)}…`
