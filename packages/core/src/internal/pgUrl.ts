import * as Predicate from "effect/Predicate"

const secretParameters = ["password", "sslpassword", "sslkey"]

/**
 * `user:password@` at the start of a setting that is not a URL with a host, after a scheme however mistyped
 * (`pg://`, `postgres:/`, `postgresql:`) or none. The password runs to the last `@`: a mistyped URL's password is
 * seldom percent-encoded.
 */
const looseUserInfo = /^(\s*(?:[a-z][a-z0-9+.-]*:\/{0,3})?[^:@/\s]*:)(.*)@/is

const looseParameter = /((?:ssl)?password=|sslkey=)([^&\s]*)/gi

/** The setting as a URL with a host, which locates its secrets exactly; undefined for anything else. */
const withHost = (url: string): URL | undefined => {
  try {
    const parsed = new URL(url)
    return parsed.host === "" ? undefined : parsed
  } catch {
    return undefined
  }
}

/**
 * The connection URL as it may be shown: `postgres://user:***@host/db`, with secret query parameters masked too.
 * Anything else that looks like `user:password@` (a mistyped URL, a path) is masked the same way.
 */
export const redactUrl = (url: string): string => {
  const parsed = withHost(url)
  if (parsed === undefined) return url.replace(looseUserInfo, "$1***@").replace(looseParameter, "$1***")
  if (parsed.password !== "") parsed.password = "***"
  for (const name of secretParameters) {
    if (parsed.searchParams.has(name)) parsed.searchParams.set(name, "***")
  }
  // URLSearchParams would encode the asterisks.
  return parsed.toString().replaceAll("%2A%2A%2A", "***")
}

/** The secrets that the URL holds, as written and decoded, so that they can be removed from any text. */
export const urlSecrets = (url: string): ReadonlyArray<string> => {
  const secrets: Array<string> = []
  const add = (secret: string) => {
    if (secret.length > 0) secrets.push(secret)
    try {
      const decoded = decodeURIComponent(secret)
      if (decoded.length > 0) secrets.push(decoded)
    } catch {
      // A malformed escape: the text as written is the secret.
    }
  }
  const parsed = withHost(url)
  if (parsed === undefined) {
    add(looseUserInfo.exec(url)?.[2] ?? "")
    for (const match of url.matchAll(looseParameter)) add(match[2] ?? "")
  } else {
    add(parsed.password)
    for (const name of secretParameters) {
      for (const value of parsed.searchParams.getAll(name)) add(value)
    }
  }
  // Longest first, so that a secret containing another is masked whole.
  return secrets.sort((a, b) => b.length - a.length)
}

/** Replaces every secret in the text with `***`. */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.reduce((scrubbed, secret) => scrubbed.replaceAll(secret, "***"), text)

/**
 * The driver's own words for a failure: the innermost message of the cause chain, or the messages of every address
 * tried when a host name resolves to several.
 */
const innermostMessage = (cause: unknown): string => {
  let description = "unknown error"
  let current: unknown = cause
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (current instanceof AggregateError && current.errors.length > 0) {
      return [...new Set(current.errors.map(innermostMessage))].join("; ")
    }
    if (!Predicate.hasProperty(current, "message")) return String(current)
    if (typeof current.message === "string" && current.message.trim().length > 0) description = current.message.trim()
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return description
}

/** A failure as an error with the driver's words and without any of the secrets (the original may carry them). */
export const scrubbedFailure = (cause: unknown, secrets: ReadonlyArray<string>): Error =>
  new Error(scrub(innermostMessage(cause), secrets))

const hints: ReadonlyArray<readonly [RegExp, string]> = [
  [
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|timed out|timeout/i,
    "Check that the PostgreSQL server is running and reachable at that host and port"
  ],
  [/password authentication failed|no password|SASL/i, "Check the user name and password in the URL"],
  [/database ".*" does not exist/i, "Create the database first, or name an existing one in the URL"],
  [/pg_hba\.conf/i, "The server does not accept this user from this address; see its pg_hba.conf"],
  [/Invalid URL/i, "Write the URL as postgres://user:password@host:port/database"]
]

/**
 * A connection failure as an error that can be shown and logged: the driver's words without any secret of the URL,
 * and what to check. The original error is dropped, since it may carry the URL (e.g. as the `input` of an invalid URL).
 */
export const connectionFailure = (cause: unknown, secrets: ReadonlyArray<string>): Error => {
  const description = scrubbedFailure(cause, secrets).message
  const hint = hints.find(([pattern]) => pattern.test(description))?.[1]
  return new Error(hint === undefined ? description : `${description}. ${hint}`)
}
