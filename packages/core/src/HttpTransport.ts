/**
 * How the Upload-Post client reaches the API: one request, and its answer's status, headers and text, within a
 * deadline. Two implementations:
 *
 * - {@link fromHttpClient}: over any `@effect/platform` `HttpClient` the program provides (tracing, proxies,
 *   middleware and test clients all apply). `UploadPost.Default` uses it.
 * - {@link layerNode}: straight over Node's `http` / `https` with a keep-alive agent. The command uses it: it costs a
 *   fraction of the CPU per request of the general client (no span, abort controller, URL object or stream per
 *   request), which matters when the API answers fast and every DM is a request (see bench/RESULTS.md).
 */
import { HttpBody, HttpClient, HttpClientRequest } from "@effect/platform"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import * as Https from "node:https"

export interface Request {
  readonly method: "GET" | "POST"
  /** The URL without its query. */
  readonly url: string
  /** The query parameters, if any. */
  readonly query?: Readonly<Record<string, string>> | undefined
  readonly headers: Readonly<Record<string, string>>
  /** A JSON body (POST). */
  readonly json?: string | undefined
}

export interface Answer {
  readonly status: number
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly text: string
}

/** No answer: the connection failed (`cause` carries the system error code) or the deadline passed. */
export class TransportFailure extends Data.TaggedError("TransportFailure")<{
  readonly cause: unknown
  readonly timedOut: boolean
}> {
  override get message(): string {
    return this.timedOut ? "no answer before the timeout" : `connection failed: ${String(this.cause)}`
  }
}

export interface Transport {
  /** One request, one attempt; fails with {@link TransportFailure} when there is no answer within `timeout`. */
  readonly exchange: (request: Request, timeout: Duration.Duration) => Effect.Effect<Answer, TransportFailure>
}

export class HttpTransport extends Context.Tag("@comment-dm/core/HttpTransport")<HttpTransport, Transport>() {}

const timedOut: unique symbol = Symbol("timedOut")

/** The transport over the context's `HttpClient`. */
export const fromHttpClient: Layer.Layer<HttpTransport, never, HttpClient.HttpClient> = Layer.effect(
  HttpTransport,
  Effect.map(HttpClient.HttpClient, (client): Transport => ({
    exchange: (request, timeout) =>
      client.execute(
        HttpClientRequest.make(request.method)(request.url, {
          headers: request.headers,
          ...(request.query === undefined ? {} : { urlParams: request.query }),
          ...(request.json === undefined ? {} : { body: HttpBody.text(request.json, "application/json") })
        })
      ).pipe(
        Effect.flatMap((response) =>
          Effect.map(response.text, (text): Answer => ({ status: response.status, headers: response.headers, text }))
        ),
        Effect.timeoutFail({ duration: timeout, onTimeout: () => timedOut }),
        Effect.mapError((cause) =>
          cause === timedOut
            ? new TransportFailure({ cause: undefined, timedOut: true })
            : new TransportFailure({ cause, timedOut: false })
        )
      )
  }))
)

export interface NodeOptions {
  /**
   * How long an idle connection is kept for the next request. Default 4 s: shorter than a server's usual keep-alive
   * timeout (Node's default is 5 s), so that a send never goes out on a socket the server is closing.
   */
  readonly keepAlive?: Duration.DurationInput | undefined
  /** Called as each request leaves (metrics, benchmarks). */
  readonly onRequest?: ((request: Request) => void) | undefined
}

const cutOff = new Error("the connection closed before the answer ended")

const flatten = (headers: Http.IncomingHttpHeaders): Record<string, string | undefined> => {
  const flat: Record<string, string | undefined> = {}
  for (const [name, value] of Object.entries(headers)) flat[name] = Array.isArray(value) ? value.join(", ") : value
  return flat
}

/** The transport over Node's `http` and `https`; its connections are closed with the layer's scope. */
export const layerNode = (options: NodeOptions = {}): Layer.Layer<HttpTransport> =>
  Layer.scoped(
    HttpTransport,
    Effect.gen(function*() {
      const idleMillis = Duration.toMillis(options.keepAlive ?? Duration.seconds(4))
      const agents = yield* Effect.acquireRelease(
        Effect.sync(() => ({
          http: new Http.Agent({ keepAlive: true, timeout: idleMillis }),
          https: new Https.Agent({ keepAlive: true, timeout: idleMillis })
        })),
        (agents) =>
          Effect.sync(() => {
            agents.http.destroy()
            agents.https.destroy()
          })
      )
      const onRequest = options.onRequest
      return {
        exchange: (request, timeout) =>
          Effect.async<Answer, TransportFailure>((resume) => {
            let settled = false
            const finish = (outcome: Effect.Effect<Answer, TransportFailure>) => {
              if (settled) return
              settled = true
              clearTimeout(deadline)
              resume(outcome)
            }
            const failed = (cause: unknown) => finish(Effect.fail(new TransportFailure({ cause, timedOut: false })))
            let outgoing: Http.ClientRequest | undefined
            const deadline = setTimeout(() => {
              finish(Effect.fail(new TransportFailure({ cause: undefined, timedOut: true })))
              outgoing?.destroy()
            }, Duration.toMillis(timeout))
            const secure = request.url.startsWith("https:")
            const search = request.query === undefined ? "" : new URLSearchParams(request.query).toString()
            const headers: Record<string, string | number> = { ...request.headers }
            if (request.json !== undefined) {
              headers["content-type"] = "application/json"
              headers["content-length"] = Buffer.byteLength(request.json)
            }
            try {
              outgoing = (secure ? Https.request : Http.request)(
                search === "" ? request.url : `${request.url}?${search}`,
                { method: request.method, headers, agent: secure ? agents.https : agents.http },
                (incoming) => {
                  incoming.setEncoding("utf8")
                  let text = ""
                  incoming.on("data", (chunk: string) => {
                    text += chunk
                  })
                  incoming.on("end", () =>
                    finish(
                      Effect.succeed({ status: incoming.statusCode ?? 0, headers: flatten(incoming.headers), text })
                    ))
                  incoming.on("error", failed)
                  // A connection that closes in the middle of the body: the answer is lost. (After "end" this is
                  // the normal close, and nothing is made.)
                  incoming.on("close", () => {
                    if (!settled) failed(cutOff)
                  })
                }
              )
            } catch (cause) {
              // A URL or header Node refuses: nothing was sent.
              return failed(cause)
            }
            outgoing.on("error", failed)
            onRequest?.(request)
            outgoing.end(request.json)
            return Effect.sync(() => {
              settled = true
              clearTimeout(deadline)
              outgoing?.destroy()
            })
          })
      } satisfies Transport
    })
  )
