import { FetchHttpClient, FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import { DataSet, Sandbox } from "../src/index.js"
import { now } from "./fixtures.js"
import { post, readAll } from "./support.js"

const demoJson = fileURLToPath(new URL("../data/demo.json", import.meta.url))

const reasonOf = (input: unknown) =>
  Effect.map(Effect.flip(DataSet.fromJson(input, "test.json")), (error) => error.message)

describe("JSON data sets", () => {
  it.scopedLive("serve data/demo.json newest first, keeping every user shape", () =>
    Effect.gen(function*() {
      const data = yield* DataSet.load(demoJson)
      const sandbox = yield* Sandbox.make({ data, now })
      assert.strictEqual(sandbox.profile, "my-profile")
      assert.deepStrictEqual(yield* sandbox.postIds, ["17900000000000101", "17900000000000102"])
      const comments = yield* readAll(sandbox, "17900000000000101", 4)
      assert.strictEqual(comments.length, 10)
      assert.deepStrictEqual(comments[0], {
        id: "17858893269000101",
        text: "GUIDE please",
        timestamp: "2026-03-28T10:15:00+0000",
        user: { id: "17841400100000001", username: "anna.travels" }
      })
      assert.deepStrictEqual(comments[3], {
        id: "17858893269000104",
        text: "ＧＵＩＤＥ",
        timestamp: "2026-03-27T18:30:00+0000",
        username: "fatima.art",
        user: { id: "17841400100000004" }
      })
      assert.isUndefined(comments[5]?.user)
      const reply = { platform: "instagram", user: "my-profile", message: "Here you go" }
      const recent = yield* post(sandbox, "/uploadposts/comments/reply", { ...reply, comment_id: "17858893269000201" })
      assert.strictEqual(recent.status, 200)
      const old = yield* post(sandbox, "/uploadposts/comments/reply", { ...reply, comment_id: "17858893269000204" })
      assert.strictEqual(old.status, 400)
    }).pipe(Effect.provide([FetchHttpClient.layer, NodeContext.layer])))

  it.effect("reject unknown keys, bad timestamps and duplicate ids with the place of the problem", () =>
    Effect.gen(function*() {
      const comment = { id: "c1", text: "hi", timestamp: "2026-03-28T10:15:00+0000" }
      assert.match(yield* reasonOf({ posts: [{ id: "p", comments: [{ ...comment, txt: "x" }] }] }), /txt/)
      assert.match(
        yield* reasonOf({ posts: [{ id: "p", comments: [{ ...comment, timestamp: "yesterday" }] }] }),
        /ISO-8601/
      )
      assert.match(
        yield* reasonOf({ posts: [{ id: "p", comments: [] }, { id: "p", comments: [] }] }),
        /post id p appears twice/
      )
      assert.match(
        yield* reasonOf({ posts: [{ id: "p", comments: [comment] }, { id: "q", comments: [comment] }] }),
        /comment id c1 appears twice/
      )
      assert.match(yield* reasonOf({ post: [] }), /posts/)
    }))

  it.scoped("reports a file that is not JSON", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* fs.makeTempFileScoped({ prefix: "data-set" })
      yield* fs.writeFileString(path, "{ posts: ")
      const error = yield* Effect.flip(DataSet.load(path))
      assert.match(error.message, /not JSON/)
      assert.include(error.message, path)
      const missing = yield* Effect.flip(DataSet.load(`${path}.missing`))
      assert.include(missing.message, "README")
    }).pipe(Effect.provide(NodeContext.layer)))
})
