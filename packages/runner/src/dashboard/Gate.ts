/**
 * The dashboard's token gate. On a loopback address the page is the machine's own and open; bound to any other
 * address it asks for the token (COMMENT_DM_DASHBOARD_TOKEN or --token-file) once, as `?token=` or an
 * `Authorization: Bearer` / `X-Dashboard-Token` header, then keeps a session value derived from it in an HttpOnly,
 * SameSite=Strict cookie. Tokens are compared in constant time over their SHA-256 hashes, and never logged or echoed.
 */
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Data, Effect, Redacted } from "effect"
import * as Crypto from "node:crypto"

export const cookieName = "comment_dm_dashboard"

/** The dashboard is bound to an address others can reach, and no token was given. */
export class TokenMissing extends Data.TaggedError("TokenMissing")<{ readonly host: string }> {
  override get message(): string {
    return `the dashboard bound to ${this.host} (not a loopback address) needs a token: set ` +
      "COMMENT_DM_DASHBOARD_TOKEN or pass --token-file FILE (at least 16 characters), or bind 127.0.0.1"
  }
}

/** Only this machine can reach these. */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)

/** The shortest token accepted: a guessable one protects nothing. */
export const minimumLength = 16

const digest = (text: string): Buffer => Crypto.createHash("sha256").update(text, "utf8").digest()

/** Constant-time equality of two strings, over their hashes (equal lengths whatever was typed). */
export const same = (given: string, expected: string): boolean =>
  Crypto.timingSafeEqual(digest(given), digest(expected))

export interface Gate {
  /** Undefined: the dashboard is open (loopback). */
  readonly token: Redacted.Redacted<string> | undefined
}

/** What the cookie holds: derived from the token, so the token itself is sent once only. */
const sessionOf = (token: Redacted.Redacted<string>): string =>
  Crypto.createHmac("sha256", Redacted.value(token)).update("comment-dm dashboard session").digest("base64url")

const refused = (status: 401 | 403, text: string) =>
  HttpServerResponse.html(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" ` +
      `content="width=device-width, initial-scale=1"><title>comment-dm dashboard</title></head><body>` +
      `<main><h1>${status === 401 ? "Token needed" : "Wrong token"}</h1><p>${text}</p></main></body></html>`
  ).pipe(HttpServerResponse.setStatus(status))

/** The request's URL without its `token` parameter, to send the browser to once the cookie is set. */
const withoutToken = (url: URL): string => {
  url.searchParams.delete("token")
  const search = url.searchParams.toString()
  return `${url.pathname}${search === "" ? "" : `?${search}`}`
}

const bearer = (headers: Readonly<Record<string, string | undefined>>): string | undefined => {
  const authorization = headers["authorization"]
  if (authorization !== undefined && /^bearer /i.test(authorization)) return authorization.slice(7).trim()
  return headers["x-dashboard-token"]
}

/**
 * Lets a request through to `app` when the gate is open or it carries the session cookie; a valid token sets the
 * cookie (and a `?token=` is taken out of the address by a redirect); anything else gets a 401 or 403 page.
 */
export const guard = (gate: Gate) =>
<E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>
) =>
  Effect.gen(function*() {
    const token = gate.token
    if (token === undefined) return yield* app
    const request = yield* HttpServerRequest.HttpServerRequest
    const session = sessionOf(token)
    const cookie = request.cookies[cookieName]
    if (cookie !== undefined && same(cookie, session)) return yield* app
    const url = new URL(request.url, "http://dashboard")
    const given = url.searchParams.get("token") ?? bearer(request.headers)
    if (given === undefined || given === null || given === "") {
      return refused(401, "Open the address with ?token=... once (or send it in an Authorization header).")
    }
    if (!same(given, Redacted.value(token))) return refused(403, "That token is not this dashboard's.")
    const response = url.searchParams.has("token")
      ? HttpServerResponse.redirect(withoutToken(url), { status: 303 })
      : yield* app
    return HttpServerResponse.unsafeSetCookie(response, cookieName, session, {
      httpOnly: true,
      sameSite: "strict",
      path: "/"
    })
  })
