/**
 * The library example (examples/library.ts, quoted in the README) run against the sandbox, in this process.
 */
import { Matcher, UploadPost } from "@comment-dm/core"
import { Sandbox } from "@comment-dm/sandbox"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Either, Layer, Logger, LogLevel, Option, Redacted, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { program } from "../examples/library.js"

const tempLedger = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-library-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => Path.join(dir, "ledger.sqlite")))

describe("examples/library.ts", () => {
  it.scopedLive(
    "runs the campaign against the sandbox: one message per matching commenter it can reach, none on a second run",
    () =>
      Effect.gen(function*() {
        // Open windows: the example DMs every matching commenter, and only the demo's refused people are refused.
        const sandbox = yield* Sandbox.make({ seed: 3, windows: "open" })
        const ledger = yield* tempLedger
        const api = { baseUrl: sandbox.baseUrl, apiKey: Redacted.make(sandbox.apiKey) }
        const quiet = Logger.withMinimumLogLevel(LogLevel.None)

        const first = yield* program({ ledger, api, perHour: 360_000 }).pipe(quiet)
        const deliveries = yield* sandbox.deliveries
        const expected = yield* matchingCommenters(sandbox)
        // `delivery: auto` (the example's default): the generated posts' commenters wrote nothing the conversations
        // show, so each gets a private reply while their comment is younger than 7 days, and is skipped after.
        assert.includeMembers(expected, deliveries.map((d) => d.recipientId))
        assert.strictEqual(new Set(deliveries.map((d) => d.recipientId)).size, deliveries.length, "no duplicates")
        assert.isTrue(deliveries.every((d) => /^Hi @\S+! Here is the guide you asked for/.test(d.message)))
        assert.isAbove(deliveries.length, 0)
        assert.strictEqual(first.counts.sent, deliveries.length)
        assert.strictEqual(first.counts.matched, expected.length)
        assert.strictEqual(
          first.counts.sent + first.counts.refused + first.counts.skipped + first.counts.expired,
          expected.length,
          "everyone reached, refused or skipped"
        )
        assert.deepStrictEqual(Object.keys(first.skipped), first.counts.skipped > 0 ? ["comment_too_old"] : [])
        assert.strictEqual(first.outcome, "completed")

        const second = yield* program({ ledger, api, perHour: 360_000 }).pipe(quiet)
        assert.strictEqual(second.counts.sent, 0)
        assert.strictEqual(second.counts.already_sent, deliveries.length)
        assert.strictEqual((yield* sandbox.deliveries).length, deliveries.length)
      }),
    60_000
  )
})

/** The commenters of the example's posts whose comment matches its keywords, read straight from the sandbox. */
const matchingCommenters = (sandbox: Sandbox.SandboxHandle) =>
  Effect.gen(function*() {
    const matcher = Either.getOrThrow(Matcher.make({ mode: "word", keywords: ["guide"], exclude: ["stop"] }))
    const client = yield* UploadPost.UploadPost.Default.pipe(
      Layer.provide(
        UploadPost.UploadPostConfig.layer({ baseUrl: sandbox.baseUrl, apiKey: Redacted.make(sandbox.apiKey) })
      ),
      Layer.provide(NodeHttpClient.layer),
      Layer.build,
      Effect.map(Context.get(UploadPost.UploadPost))
    )
    const people = new Set<string>()
    for (const postId of ["17900000000000001", "17900000000000002"]) {
      const comments = yield* Stream.runCollect(
        client.comments({ platform: "instagram", user: "demo", post: { postId } })
      )
      for (const comment of Chunk.toArray(comments)) {
        if (comment.userId !== undefined && Option.isSome(Matcher.match(matcher, comment.text))) {
          people.add(comment.userId)
        }
      }
    }
    return [...people]
  })
