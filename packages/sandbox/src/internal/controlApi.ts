/**
 * The control endpoints under /__sandbox/: the control API over HTTP, for a sandbox running in another process.
 * They take the same key as the API but no rate limit, latency or faults, and are not counted in the stats.
 */
import { HttpRouter, HttpServerRequest } from "@effect/platform"
import { Effect, ParseResult, Schema } from "effect"
import type { SandboxControl } from "../Control.js"
import * as Control from "../Control.js"
import * as Faults from "../Faults.js"
import { apiKeyOf, type Env, invalidApiKey, json } from "./env.js"

const errorStatus = {
  PostNotFound: 404,
  PostExists: 409,
  CommentExists: 409,
  ProfileNotFound: 404,
  KeyNotFound: 404
} as const

export const router = (env: Env, control: SandboxControl): HttpRouter.HttpRouter => {
  const authorized = <E, R>(
    handler: Effect.Effect<unknown, E, R>
  ) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      // Any configured key, revoked or not: a test that revokes a key can still drive the sandbox with it.
      if (env.accounts.key(apiKeyOf(request.headers)) === undefined) return json(401, invalidApiKey)
      return yield* handler.pipe(
        Effect.map((body) => json(200, body)),
        Effect.catchAll((error) =>
          Effect.succeed(
            ParseResult.isParseError(error)
              ? json(400, { success: false, message: ParseResult.TreeFormatter.formatErrorSync(error) })
              : Schema.is(Control.ControlError)(error)
              ? json(errorStatus[error._tag], {
                success: false,
                message: error.message,
                error: Schema.encodeSync(Control.ControlError)(error)
              })
              : json(400, { success: false, message: "The request body must be JSON" })
          )
        )
      )
    })

  const decodeBody = <A, I>(schema: Schema.Schema<A, I>) =>
    HttpServerRequest.schemaBodyJson(schema, { onExcessProperty: "error" })

  return HttpRouter.empty.pipe(
    HttpRouter.get(
      "/__sandbox/deliveries",
      authorized(Effect.map(control.deliveries, (deliveries) => ({ deliveries })))
    ),
    HttpRouter.post(
      "/__sandbox/comments",
      authorized(
        decodeBody(Control.NewComment).pipe(
          Effect.flatMap(control.addComment),
          Effect.map((comment) => ({ comment }))
        )
      )
    ),
    HttpRouter.post(
      "/__sandbox/posts",
      authorized(
        decodeBody(Control.NewPost).pipe(
          Effect.flatMap(control.addPost),
          Effect.map((post) => ({ post }))
        )
      )
    ),
    HttpRouter.post(
      "/__sandbox/messages",
      authorized(
        decodeBody(Control.NewMessage).pipe(
          Effect.flatMap(control.personWrites),
          Effect.map((message) => ({ message }))
        )
      )
    ),
    HttpRouter.get("/__sandbox/posts", authorized(Effect.map(control.postIds, (postIds) => ({ postIds })))),
    HttpRouter.post(
      "/__sandbox/reset-daily",
      authorized(Effect.as(control.resetDaily, { success: true }))
    ),
    HttpRouter.get("/__sandbox/faults", authorized(Effect.map(control.faults, (faults) => ({ faults })))),
    HttpRouter.post(
      "/__sandbox/faults",
      authorized(
        decodeBody(Faults.FaultsPatch).pipe(
          Effect.flatMap(control.setFaults),
          Effect.map((faults) => ({ faults }))
        )
      )
    ),
    HttpRouter.get("/__sandbox/stats", authorized(control.stats)),
    HttpRouter.get("/__sandbox/profiles", authorized(Effect.map(control.profiles, (profiles) => ({ profiles })))),
    HttpRouter.post(
      "/__sandbox/profiles/:name",
      authorized(
        Effect.all([HttpRouter.params, decodeBody(Control.ProfilePatch)]).pipe(
          Effect.flatMap(([{ name }, patch]) => control.setProfile(name ?? "", patch)),
          Effect.map((profile) => ({ profile }))
        )
      )
    ),
    HttpRouter.get("/__sandbox/keys", authorized(Effect.map(control.keys, (keys) => ({ keys })))),
    HttpRouter.post(
      "/__sandbox/keys",
      authorized(
        decodeBody(Control.KeyPatch).pipe(
          Effect.flatMap(control.setKey),
          Effect.map((key) => ({ key }))
        )
      )
    ),
    HttpRouter.get("/__sandbox/arrivals", authorized(control.arrivals))
  )
}
