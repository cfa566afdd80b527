/**
 * One request straight over Node's `http` / `https` and its whole answer in memory: the work behind
 * `KeepAliveHttpClient`. The answer is a `HttpClientResponse` whose body is already read, so that reading it costs no
 * stream, promise or abort controller.
 */
import { Cookies, Headers, HttpClientError, HttpClientResponse, HttpIncomingMessage, UrlParams } from "@effect/platform"
import type { HttpClientRequest } from "@effect/platform"
import { Duration, Effect, Inspectable, Option, Stream } from "effect"
import * as Http from "node:http"
import * as Https from "node:https"
import * as RequestDeadline from "./requestDeadline.js"

export interface Agents {
  readonly http: Http.Agent
  readonly https: Https.Agent
}

/** A response whose body arrived whole before it was handed out. */
class BufferedResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly status: number,
    private readonly source: Http.IncomingHttpHeaders,
    private readonly body: Buffer,
    readonly remoteAddress: Option.Option<string>
  ) {
    super()
  }

  private cachedHeaders: Headers.Headers | undefined
  get headers(): Headers.Headers {
    return this.cachedHeaders ??= Headers.fromInput(this.source)
  }

  get cookies(): Cookies.Cookies {
    const header = this.source["set-cookie"]
    return header === undefined ? Cookies.empty : Cookies.fromSetCookie(header)
  }

  private decodeError(cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.sync(() => this.body.toString("utf8"))
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.try({
      try: () => {
        const text = this.body.toString("utf8")
        return text === "" ? null : JSON.parse(text) as unknown
      },
      catch: (cause) => this.decodeError(cause)
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.try({
      try: () => UrlParams.fromInput(new URLSearchParams(this.body.toString("utf8"))),
      catch: (cause) => this.decodeError(cause)
    })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.sync(() => new Uint8Array(this.body).buffer)
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.succeed(new Uint8Array(this.body))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.tryPromise({
      try: () => new Response(new Uint8Array(this.body), { headers: this.headers }).formData(),
      catch: (cause) => this.decodeError(cause)
    })
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}

/** What `end` sends: bytes or text; streams and form data are not supported by this client. */
const bodyOf = (request: HttpClientRequest.HttpClientRequest): Uint8Array | string | undefined | null => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return undefined
    case "Uint8Array":
      return body.body
    case "Raw":
      return typeof body.body === "string" || body.body instanceof Uint8Array ? body.body : null
    default:
      return null
  }
}

/**
 * Sends `request` to `url` and reads its answer whole. Interrupting it, or the `deadline` passing first, destroys the
 * request, and with it the connection. A connection that fails before the answer is a `RequestError` ("Transport",
 * the system error as its cause, or a `TimeoutException` for the deadline); one that closes in the middle of the body
 * is a `ResponseError` ("Decode").
 */
export const exchange = (
  agents: Agents,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  deadline: Duration.Duration | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.async((resume) => {
    const body = bodyOf(request)
    if (body === null) {
      return resume(Effect.fail(
        new HttpClientError.RequestError({
          request,
          reason: "Encode",
          description: `KeepAliveHttpClient sends only byte or text bodies, not ${request.body._tag}`
        })
      ))
    }
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    // The outcome is made only for the first event that settles the request: an error (with its stack) made for a
    // later event, such as the normal close after the end, would be thrown away.
    const settle = (
      outcome: () => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>
    ) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(outcome())
    }
    const failed = (cause: unknown) =>
      settle(() => Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
    let outgoing: Http.ClientRequest
    try {
      const secure = url.protocol === "https:"
      outgoing = (secure ? Https.request : Http.request)(
        url,
        { method: request.method, headers: request.headers, agent: secure ? agents.https : agents.http },
        (incoming) => {
          const chunks: Array<Buffer> = []
          incoming.on("data", (chunk: Buffer) => chunks.push(chunk))
          const answer = (bytes: Buffer) =>
            new BufferedResponse(
              request,
              incoming.statusCode ?? 0,
              incoming.headers,
              bytes,
              Option.fromNullable(incoming.socket?.remoteAddress)
            )
          incoming.on("end", () =>
            settle(() => Effect.succeed(answer(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)))))
          const cutOff = (cause: () => unknown) =>
            settle(() =>
              Effect.fail(
                new HttpClientError.ResponseError({
                  request,
                  response: answer(Buffer.alloc(0)),
                  reason: "Decode",
                  cause: cause()
                })
              )
            )
          incoming.on("error", (error) =>
            cutOff(() => error))
          // A connection that closes in the middle of the body: the answer is lost. (After "end" this is the normal
          // close, and nothing is made.)
          incoming.on("close", () => cutOff(() => new Error("the connection closed before the answer ended")))
        }
      )
    } catch (cause) {
      // A URL or header Node refuses: nothing was sent.
      return failed(cause)
    }
    outgoing.on("error", failed)
    if (deadline !== undefined) {
      timer = setTimeout(() => {
        if (!settled) failed(RequestDeadline.passed())
        outgoing.destroy()
      }, Duration.toMillis(deadline))
    }
    outgoing.end(body)
    return Effect.sync(() => {
      settled = true
      clearTimeout(timer)
      outgoing.destroy()
    })
  })
