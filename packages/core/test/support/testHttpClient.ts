/**
 * A test `HttpClient` built with `HttpClient.make`: a handler answers each request in memory, so that the real
 * Upload-Post client runs with no server and on the TestClock.
 */
import { HttpClient, HttpClientResponse, UrlParams } from "@effect/platform"
import type { HttpClientError, HttpClientRequest } from "@effect/platform"
import { Effect, Layer, Option } from "effect"

/** An answer to give: a status, headers and the body text. */
export interface Answer {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body: string
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

/** The text of a request's body (empty for a GET). */
export const bodyText = (request: HttpClientRequest.HttpClientRequest): string =>
  request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""

/** A query parameter of the request, if it has one. */
export const query = (request: HttpClientRequest.HttpClientRequest, name: string): string | undefined =>
  Option.getOrUndefined(UrlParams.getFirst(request.urlParams, name))

/** The path after the API root, e.g. `/uploadposts/dms/send`. */
export const path = (request: HttpClientRequest.HttpClientRequest): string =>
  new URL(request.url).pathname.replace(/^\/api/, "")

/** A client answering each request with `handler`'s answer, or failing as it fails (no answer). */
export const make = (
  handler: (
    request: HttpClientRequest.HttpClientRequest
  ) => Answer | Effect.Effect<Answer, HttpClientError.HttpClientError>
): HttpClient.HttpClient =>
  HttpClient.make((request) =>
    Effect.map(
      Effect.suspend(() => {
        const answer = handler(request)
        return Effect.isEffect(answer) ? answer : Effect.succeed(answer)
      }),
      (answer) =>
        HttpClientResponse.fromWeb(
          request,
          new Response(answer.body, { status: answer.status, headers: answer.headers ?? {} })
        )
    )
  )

/** {@link make} as the context's `HttpClient`. */
export const layer = (handler: Parameters<typeof make>[0]): Layer.Layer<HttpClient.HttpClient> =>
  Layer.succeed(HttpClient.HttpClient, make(handler))
