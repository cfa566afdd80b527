/**
 * A long-lived watcher takes over the claims of a runner that died elsewhere (another host's `serve`): once their
 * lease runs out they are put in doubt between polls, reconciled, and sent by the watcher; not only at a start.
 */
import { type DataSet, Sandbox } from "@comment-dm/sandbox"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Layer, Redacted } from "effect"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as Ledger from "../src/Ledger.js"
import * as Pacer from "../src/Pacer.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as StopSignal from "../src/StopSignal.js"
import * as UploadPost from "../src/UploadPost.js"
import * as Watch from "../src/Watch.js"

const profile = "taker"
const post = "17900000000008001"
const userId = "17841400000008001"
const message = "Hi @viewer, here is your guide"

const data: DataSet.Listed = {
  _tag: "Listed",
  profile,
  posts: [{
    id: post,
    comments: [{
      id: "c-taken",
      text: "guide please",
      timestamp: new Date(Date.now() - 60_000).toISOString(),
      user: { id: userId, username: "viewer" }
    }]
  }]
}

describe("Watch", () => {
  it.scopedLive(
    "takes over, between polls, the claims of a runner on another host whose lease ran out",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* Sandbox.make({ data, seed: 1, windows: "open" })
        const spec = yield* CampaignSpec.make({
          name: "takeover",
          platform: "instagram",
          user: profile,
          posts: [post],
          match: { keywords: ["guide"] },
          message,
          delivery: "dm"
        })
        const stop = yield* Deferred.make<void>()
        const services = Layer.mergeAll(
          UploadPost.UploadPost.Default.pipe(
            Layer.provide(UploadPost.UploadPostConfig.layer({
              baseUrl: sandbox.baseUrl,
              apiKey: Redacted.make(sandbox.apiKey)
            })),
            Layer.provide(NodeHttpClient.layer)
          ),
          Pacer.layerUnlimited,
          StopSignal.layer({ interrupt: Deferred.await(stop) })
        )
        const ledger = yield* Ledger.Ledger
        const key = { campaign: spec.name, platform: "instagram", userId, step: "first_message" as const }
        yield* ledger.record([{
          ...key,
          username: "viewer",
          postId: post,
          commentId: "c-taken",
          commentText: "guide please",
          commentTime: undefined,
          keyword: "guide"
        }])
        // A runner on another host (never judged by its pid) claimed the person and died before its request.
        const elsewhere = "other-host/4242/1/0000"
        assert.isTrue(yield* ledger.claim(key, { message, runner: elsewhere, lease: Duration.seconds(1), path: "dm" }))

        const polls: Array<number> = []
        const summary = yield* Watch.watch(spec, {
          every: Duration.millis(250),
          onEvent: (event) =>
            Effect.gen(function*() {
              if (event._tag !== "Polled") return
              polls.push(event.poll)
              // Claims younger than 5 s stay in doubt (the conversation may not list the message yet): 40 polls is 10 s.
              if ((yield* sandbox.deliveries).length > 0 || polls.length >= 40) yield* Deferred.succeed(stop, undefined)
            })
        }).pipe(Effect.provide(services))

        const sent = (yield* sandbox.deliveries).map((delivery) => delivery.recipientId)
        assert.deepStrictEqual(sent, [userId], `sent after ${polls.length} polls`)
        assert.strictEqual(summary.counts.sent, 1)
      }).pipe(Effect.provide(SqliteLedger.layerMemory())),
    30_000
  )
})
