/**
 * Rules that depend on the sandbox clock, driven by the TestClock: request windows, the daily counter, the 7-day
 * private-reply rule and latency.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { dm, now, privateReply, withStudio } from "./fixtures.js"
import { get, post } from "./support.js"

const me = "/uploadposts/me"
const windowEnd = Math.ceil((now.getTime() + 60_000) / 60_000) * 60

describe("request-rate limit", () => {
  it.scoped("counts down X-RateLimit-Remaining, then answers 429 with Retry-After until the window ends", () =>
    withStudio({ requestLimit: { requests: 3, windowSeconds: 60 } }, (sandbox) =>
      Effect.gen(function*() {
        const allowed = [yield* get(sandbox, me), yield* get(sandbox, me), yield* get(sandbox, me)]
        assert.deepStrictEqual(allowed.map((answer) => answer.status), [200, 200, 200])
        assert.deepStrictEqual(allowed.map((answer) => answer.headers["x-ratelimit-remaining"]), ["2", "1", "0"])
        assert.isTrue(allowed.every((answer) => answer.headers["x-ratelimit-limit"] === "3"))
        assert.isTrue(allowed.every((answer) => answer.headers["x-ratelimit-reset"] === String(windowEnd)))

        const limited = yield* post(sandbox, "/uploadposts/dms/send", dm("u1"))
        assert.strictEqual(limited.status, 429)
        assert.deepStrictEqual(limited.body, { success: false, message: "Too many requests, retry after the reset" })
        assert.strictEqual(limited.headers["x-ratelimit-remaining"], "0")
        assert.strictEqual(limited.headers["retry-after"], String(windowEnd - now.getTime() / 1000))
        assert.deepStrictEqual(yield* sandbox.deliveries, [])

        yield* TestClock.adjust("20 seconds")
        const stillLimited = yield* get(sandbox, me)
        assert.strictEqual(stillLimited.headers["retry-after"], String(windowEnd - now.getTime() / 1000 - 20))

        yield* TestClock.adjust("40 seconds")
        const next = yield* get(sandbox, me)
        assert.strictEqual(next.status, 200)
        assert.strictEqual(next.headers["x-ratelimit-remaining"], "2")
      })))

  it.scoped("limits each key on its own", () =>
    withStudio({ requestLimit: { requests: 1, windowSeconds: 60 } }, (sandbox) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* get(sandbox, me, {}, "someone-else")).status, 401)
        assert.strictEqual((yield* get(sandbox, me)).status, 200)
        assert.strictEqual((yield* get(sandbox, me)).status, 429)
      })))
})

describe("sandbox clock", () => {
  it.scoped("lets a private reply through within 7 days of the comment and refuses it after", () =>
    withStudio({}, (sandbox) =>
      Effect.gen(function*() {
        // c1 was written at 10:00 on 2026-03-28, c2 a day earlier; the clock starts at 12:00 on the 28th.
        yield* TestClock.adjust("6 days")
        assert.strictEqual((yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c1"))).status, 200)
        yield* TestClock.adjust("1 day")
        const tooOld = yield* post(sandbox, "/uploadposts/comments/reply", privateReply("c2"))
        assert.deepStrictEqual([tooOld.status, tooOld.body], [400, {
          success: false,
          error: "(#10903) This comment is too old for a private reply"
        }])
      })))

  it.scoped("starts a new daily count at midnight UTC", () =>
    withStudio({ dailyDmLimit: 1 }, (sandbox) =>
      Effect.gen(function*() {
        assert.strictEqual((yield* post(sandbox, "/uploadposts/dms/send", dm("u1"))).status, 200)
        assert.strictEqual((yield* post(sandbox, "/uploadposts/dms/send", dm("u2"))).status, 429)
        yield* TestClock.adjust("11 hours")
        assert.strictEqual((yield* post(sandbox, "/uploadposts/dms/send", dm("u2"))).status, 429)
        yield* TestClock.adjust("1 hour")
        assert.strictEqual((yield* post(sandbox, "/uploadposts/dms/send", dm("u2"))).status, 200)
        assert.strictEqual((yield* sandbox.stats).dailyCount, 1)
      }), "open"))

  it.scoped("holds each answer for the configured latency", () =>
    withStudio({ latency: { minMs: 1500, maxMs: 1500 } }, (sandbox) =>
      Effect.gen(function*() {
        const request = yield* Effect.fork(get(sandbox, me))
        // Wait (in real time) until the server's pause is registered with the TestClock.
        while ((yield* TestClock.sleeps()).length === 0) {
          yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
        }
        yield* TestClock.adjust("1499 millis")
        assert.isTrue((yield* Fiber.poll(request))._tag === "None")
        yield* TestClock.adjust("1 millis")
        const answer = yield* Fiber.join(request)
        assert.strictEqual(answer.status, 200)
      })))
})
