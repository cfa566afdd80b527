/**
 * Two watchers of one process sharing their key's read allowance (`ReadAllowance`), against the sandbox over real
 * HTTP in real time: together they stay within it, and the one whose post gets comments reads more of it.
 */
import { Sandbox } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, Redacted } from "effect"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as Pacer from "../src/Pacer.js"
import * as ReadAllowance from "../src/ReadAllowance.js"
import * as Retry from "../src/Retry.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as StopSignal from "../src/StopSignal.js"
import * as UploadPost from "../src/UploadPost.js"
import * as Watch from "../src/Watch.js"
import { countingReads } from "./support/commentReads.js"

const profile = "shared"
const postsOfA = ["post-hot", "post-a1", "post-a2", "post-a3", "post-a4"]
const postsOfB = ["post-b0", "post-b1", "post-b2", "post-b3", "post-b4"]

describe("Watch, shared allowance", () => {
  it.scopedLive(
    "two watchers on one key's allowance stay within it together; the one with the busy post reads more",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* Sandbox.make({
          profile,
          seed: 3,
          windows: "open",
          data: { _tag: "Listed", profile, posts: [...postsOfA, ...postsOfB].map((id) => ({ id, comments: [] })) },
          // The busy post has had a comment every two minutes for an hour, and goes on; none of them asks.
          arrivals: { perPost: { "post-hot": 0.5 }, posts: ["post-hot"], matchRatio: 0, historyMinutes: 60 }
        })
        const pages = new Map<string, number>()
        const started = Date.now()
        const transport = countingReads((post) => pages.set(post, (pages.get(post) ?? 0) + 1))
        const perMinute = 120
        const stop = yield* Deferred.make<void>()
        const services = yield* Layer.build(Layer.mergeAll(
          UploadPost.UploadPost.Default.pipe(
            Layer.provide(UploadPost.UploadPostConfig.layer({
              baseUrl: sandbox.baseUrl,
              apiKey: Redacted.make(sandbox.apiKey),
              retry: Retry.noWaiting
            })),
            Layer.provide(transport)
          ),
          SqliteLedger.layerMemory(),
          Pacer.layerUnlimited,
          StopSignal.layer({ interrupt: Deferred.await(stop) }),
          ReadAllowance.layer(perMinute)
        ))
        const watcherOf = (name: string, posts: ReadonlyArray<string>) =>
          Effect.gen(function*() {
            const spec = yield* CampaignSpec.make({
              name,
              platform: "instagram",
              user: profile,
              posts: [...posts],
              match: { keywords: ["guide"] },
              message: "Hi @{{username}}, here is your guide: https://example.com/guide",
              delivery: "dm"
            })
            return yield* Watch.watch(spec, { every: Duration.millis(500) })
          })

        const watchers = yield* Effect.forkAll([watcherOf("shared-a", postsOfA), watcherOf("shared-b", postsOfB)]).pipe(
          Effect.provide(services)
        )
        yield* Effect.sleep(Duration.seconds(15))
        yield* Deferred.succeed(stop, undefined)
        yield* Fiber.join(watchers)
        const elapsed = (Date.now() - started) / 60_000

        const sum = (posts: ReadonlyArray<string>) => posts.reduce((total, post) => total + (pages.get(post) ?? 0), 0)
        const a = sum(postsOfA)
        const b = sum(postsOfB)
        const shown = JSON.stringify(Object.fromEntries(pages))
        // Within the allowance: what flowed in, each seat's one request of burst, and the extra page a first read of the
        // busy post's 30 comments may take on credit.
        assert.isAtMost(a + b, perMinute * elapsed + 4, `${a} + ${b} pages in ${(elapsed * 60).toFixed(1)} s: ${shown}`)
        // Every post was read, B's too: a watcher that joins gets its first reads soon.
        for (const post of [...postsOfA, ...postsOfB]) assert.isAtLeast(pages.get(post) ?? 0, 1, shown)
        // Once the posts are known, A's busy one takes most of the allowance.
        assert.isAtLeast(a, 2 * b, shown)
        assert.isAtLeast(
          pages.get("post-hot") ?? 0,
          4 * Math.max(...postsOfB.map((post) => pages.get(post) ?? 0)),
          shown
        )
      }),
    60_000
  )
})
