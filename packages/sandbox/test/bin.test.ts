/**
 * The command in its own process: start it, read what it prints, drive it over HTTP, stop it with SIGINT.
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Control } from "../src/index.js"
import { get, post, startCommand as start } from "./support.js"

describe("the sandbox command", () => {
  it.scopedLive("prints its base URL, profile and post ids, serves and stops on SIGINT", () =>
    Effect.gen(function*() {
      const running = yield* start(["--port", "0", "--api-key", "k-123", "--daily-limit", "1", "--open-windows"], 5)
      const [baseUrl = "", profile, ...postIds] = running.lines
      assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/api$/)
      assert.strictEqual(profile, "demo")
      assert.deepStrictEqual(postIds, ["17900000000000001", "17900000000000002", "17900000000000003"])

      const target = { baseUrl, apiKey: "k-123" }
      assert.strictEqual((yield* get(target, "/uploadposts/me")).status, 200)
      assert.strictEqual((yield* get(target, "/uploadposts/me", {}, "sandbox-key")).status, 401)

      const remote = yield* Control.remote(target)
      const faults = yield* remote.faults
      assert.strictEqual(faults.dailyDmLimit, 1)
      assert.strictEqual(faults.refusedRecipients.length, 2, "the demo shows refusals")
      const dm = { platform: "instagram", user: "demo", recipient_id: "17841500000000001", message: "hi" }
      assert.strictEqual((yield* post(target, "/uploadposts/dms/send", dm)).status, 200)
      assert.strictEqual((yield* post(target, "/uploadposts/dms/send", dm)).status, 429)
      assert.strictEqual((yield* remote.deliveries).length, 1)

      running.child.kill("SIGINT")
      const code = yield* Effect.promise(() => running.exited)
      assert.strictEqual(code, 0)
      const after = yield* Effect.either(get(target, "/uploadposts/me"))
      assert.isTrue(after._tag === "Left", "the port is closed")
    }).pipe(Effect.provide(FetchHttpClient.layer)), { timeout: 60_000 })
})
