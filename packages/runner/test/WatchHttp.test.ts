import { Heartbeat } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as Health from "../src/watch/Health.js"
import * as WatchHttp from "../src/watch/Http.js"

const every = Duration.seconds(10)
const spec = { name: "c \"quoted\"", platform: "instagram", user: "studio" }

/** `/healthz` of a watcher whose tracker `change` sets up, as status and body. */
const healthz = (change: (tracker: Health.Tracker, now: number) => void) =>
  Effect.gen(function*() {
    const tracker = yield* Health.make(spec, every)
    change(tracker, Date.now())
    const url = yield* WatchHttp.serve({ host: "127.0.0.1", port: 0 }, tracker)
    return yield* Effect.promise(async () => {
      const response = await fetch(`${url}/healthz`)
      return { status: response.status, body: await response.json() as { problems: Array<string>; key: string } }
    })
  }).pipe(Effect.scoped, Effect.provide(SqliteLedger.layerClientMemory()))

describe("watch --http /healthz", () => {
  it.live("answers 200 while the last poll is within three intervals", () =>
    Effect.gen(function*() {
      // Beyond two intervals (20 s), and 9 s within three: the request's time on a busy machine counts too.
      const { body, status } = yield* healthz((t, now) => (t.lastPollAt = now - 21_000))
      assert.strictEqual(status, 200)
      assert.deepStrictEqual(body.problems, [])
    }))

  it.live("answers 503 when the last poll is older than three intervals", () =>
    Effect.gen(function*() {
      const { body, status } = yield* healthz((t, now) => (t.lastPollAt = now - 31_000))
      assert.strictEqual(status, 503)
      assert.deepStrictEqual(body.problems, ["the last poll is older than three intervals"])
    }))

  it.live("counts a wait that rate limits stretched, so a slowed watcher is not called stuck", () =>
    Effect.gen(function*() {
      const { status } = yield* healthz((t, now) => {
        t.lastPollAt = now - 100_000
        t.nextPollMillis = 60_000
      })
      assert.strictEqual(status, 200)
    }))

  it.live("answers 503 once the platform refused the key", () =>
    Effect.gen(function*() {
      const { body, status } = yield* healthz((t, now) => {
        t.lastPollAt = now
        t.keyRefused = true
      })
      assert.strictEqual(status, 503)
      assert.strictEqual(body.key, "refused")
    }))

  it.live("/metrics escapes the campaign's name as a label value", () =>
    Effect.gen(function*() {
      const tracker = yield* Health.make(spec, every)
      const url = yield* WatchHttp.serve({ host: "127.0.0.1", port: 0 }, tracker)
      const text = yield* Effect.promise(() => fetch(`${url}/metrics`).then((r) => r.text()))
      assert.include(text, `comment_dm_pending{campaign="c \\"quoted\\""} 0\n`)
      assert.include(text, `comment_dm_ledger_up{campaign="c \\"quoted\\""} 1\n`)
    }).pipe(Effect.scoped, Effect.provide(SqliteLedger.layerClientMemory())))
})

describe("Heartbeat", () => {
  it.effect("a written heartbeat reads back, and rewrites its own row", () =>
    Effect.gen(function*() {
      const tracker = yield* Health.make(spec, every)
      tracker.pausedUntil = 86_400_000
      tracker.lastError = "rate limited <429>"
      yield* Heartbeat.write(Health.heartbeat(tracker, 1_000))
      yield* Heartbeat.write(Health.heartbeat(tracker, 2_000))
      const [beat, ...others] = yield* Heartbeat.list
      assert.deepStrictEqual(others, [])
      assert.strictEqual(beat?.beatAt.getTime(), 2_000)
      assert.strictEqual(beat?.pausedUntil?.getTime(), 86_400_000)
      assert.strictEqual(beat?.lastError, "rate limited <429>")
      assert.isFalse(Heartbeat.isAlive(beat!, new Date(2_000 + 61_000)))
      assert.isTrue(Heartbeat.isAlive(beat!, new Date(2_000 + 59_000)))
    }).pipe(Effect.provide(SqliteLedger.layerClientMemory())))
})
