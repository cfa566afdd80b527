import * as Predicate from "effect/Predicate"

const secretParameters = ["password", "sslpassword", "sslkey"]

/** The connection URL as it may be shown: `postgres://user:***@host/db`, with secret query parameters masked too. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    for (const name of secretParameters) {
      if (parsed.searchParams.has(name)) parsed.searchParams.set(name, "***")
    }
    // URLSearchParams would encode the asterisks.
    return parsed.toString().replaceAll("%2A%2A%2A", "***")
  } catch {
    // Not a URL (the driver also takes other forms): mask whatever could be a password.
    return url
      .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@]*@/i, "$1:***@")
      .replace(/((?:ssl)?password=)[^&\s]*/gi, "$1***")
  }
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
  try {
    const parsed = new URL(url)
    add(parsed.password)
    for (const name of secretParameters) {
      for (const value of parsed.searchParams.getAll(name)) add(value)
    }
  } catch {
    const userInfo = /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:([^@]*)@/i.exec(url)
    if (userInfo?.[1] !== undefined) add(userInfo[1])
    for (const match of url.matchAll(/(?:ssl)?password=([^&\s]*)/gi)) add(match[1] ?? "")
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
  const description = scrub(innermostMessage(cause), secrets)
  const hint = hints.find(([pattern]) => pattern.test(description))?.[1]
  return new Error(hint === undefined ? description : `${description}. ${hint}`)
}
