/**
 * A real HTTP client (Node's) that tells each comment read as it goes out: the post it reads. The watch tests count
 * reads per post with it, from the client's side, where the sandbox counts only per endpoint.
 */
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer } from "effect"

export const countingReads = (onRead: (post: string) => void): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(
      HttpClient.HttpClient,
      HttpClient.tapRequest((request) =>
        Effect.sync(() => {
          if (!request.url.endsWith("/uploadposts/comments")) return
          onRead(request.urlParams.find(([name]) => name === "post_id")?.[1] ?? "?")
        })
      )
    )
  ).pipe(Layer.provide(NodeHttpClient.layer))
