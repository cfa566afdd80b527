/**
 * An `HttpClient` straight over Node's `http` / `https` with kept-alive connections, for JSON APIs: request bodies as
 * bytes or text, answers read whole before they are handed out. The command reaches Upload-Post through it: it costs a
 * fraction of the CPU per request of `NodeHttpClient` (no stream, promise or abort listener per answer), which matters
 * when the API answers fast and every DM is a request (see bench/RESULTS.md). Being an `HttpClient` built with
 * `HttpClient.make`, middleware (`HttpClient.mapRequest`, `tapRequest`, ...) applies and each request is a span when the
 * program has a tracer of its own (see {@link layer}). It applies the Upload-Post client's request timeout itself,
 * with one timer.
 */
import { HttpClient, type HttpClientRequest } from "@effect/platform"
import { Duration, Effect, Layer, type Scope } from "effect"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Exchange from "./internal/keepAliveExchange.js"
import * as RequestDeadline from "./internal/requestDeadline.js"

export interface Options {
  /**
   * How long an idle connection is kept for the next request. Default 4 s: shorter than a server's usual keep-alive
   * timeout (Node's default is 5 s), so that a request never goes out on a socket the server is closing.
   */
  readonly keepAlive?: Duration.DurationInput | undefined
  /**
   * Called as each request leaves (benchmarks). A middleware (`HttpClient.tapRequest`) sees requests as well, but
   * the client it makes no longer applies a caller's deadline itself (see `internal/requestDeadline.ts`).
   */
  readonly onRequest?: ((request: HttpClientRequest.HttpClientRequest) => void) | undefined
}

/** The client; its connections are closed with the scope. */
export const make = (options: Options = {}): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync((): Exchange.Agents => {
        const idleMillis = Duration.toMillis(options.keepAlive ?? Duration.seconds(4))
        return {
          http: new Http.Agent({ keepAlive: true, timeout: idleMillis }),
          https: new Https.Agent({ keepAlive: true, timeout: idleMillis })
        }
      }),
      (agents) =>
        Effect.sync(() => {
          agents.http.destroy()
          agents.https.destroy()
        })
    ),
    (agents) =>
      RequestDeadline.appliedBy(
        HttpClient.make((request, url, _signal, fiber) => {
          options.onRequest?.(request)
          return Exchange.exchange(agents, request, url, RequestDeadline.take(fiber))
        })
      )
  )

/** The tracer a program has when nobody installed one: its spans are seen nowhere. */
const defaultTracer = Effect.runSync(Effect.tracer)

/**
 * With the default tracer, the program's HTTP requests are not spans: a request's span (its attributes, the trace
 * headers) would cost CPU for nothing. Set once for the program, where a check per request would cost a FiberRef
 * change per request. A program with a tracer of its own (installed before this layer) keeps its spans.
 */
const noSpansWithoutTracer: Layer.Layer<never> = Layer.unwrapEffect(
  Effect.map(
    Effect.tracer,
    (tracer) =>
      tracer === defaultTracer ? Layer.locallyScoped(HttpClient.currentTracerDisabledWhen, () => true) : Layer.empty
  )
)

/** The client as the program's `HttpClient`. */
export const layer = (options?: Options): Layer.Layer<HttpClient.HttpClient> =>
  Layer.merge(Layer.scoped(HttpClient.HttpClient, make(options)), noSpansWithoutTracer)
