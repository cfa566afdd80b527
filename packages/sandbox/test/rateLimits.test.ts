/**
 * The plan's request limits per key in its two windows (a minute and ten minutes), the per-profile limit, the
 * `X-RateLimit-*` headers that tell them, and the counts per key the control reports. Driven by the TestClock.
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { Faults } from "../src/index.js"
import { Sandbox } from "../src/index.js"
import { now } from "./fixtures.js"
import { type Answer, get, post, type Target } from "./support.js"

const seconds = now.getTime() / 1000
const minuteEnd = seconds + 60
const tenMinutesEnd = seconds + 600

const listed = (postId: string) => ({ _tag: "Listed" as const, posts: [{ id: postId, comments: [] }] })

const agency = <A, E, R>(
  faults: Faults.FaultsPatch,
  f: (sandbox: Sandbox.SandboxHandle) => Effect.Effect<A, E, R>,
  keys: NonNullable<Sandbox.SandboxOptions["keys"]> = [
    { key: "key-a", profiles: ["alpha"] },
    { key: "key-b" }
  ]
) =>
  Sandbox.make({
    now,
    faults,
    profiles: [{ name: "alpha", data: listed("a1") }, { name: "beta", data: listed("b1") }],
    keys
  }).pipe(Effect.flatMap(f))

const as = (sandbox: Sandbox.SandboxHandle, apiKey: string): Target => ({ baseUrl: sandbox.baseUrl, apiKey })

const read = (target: Target, user: string, postId: string) =>
  get(target, "/uploadposts/comments", { platform: "instagram", user, post_id: postId })

const headers = (answer: Answer) => [
  answer.status,
  answer.headers["x-ratelimit-limit"],
  answer.headers["x-ratelimit-remaining"],
  answer.headers["x-ratelimit-reset"],
  answer.headers["retry-after"]
]

describe("the plan's limits per key", () => {
  it.scoped("count a minute and ten minutes, each answered 429 with its own reset, each key on its own", () =>
    agency({ plan: { perMinute: 3, perTenMinutes: 5 } }, (sandbox) =>
      Effect.gen(function*() {
        const keyA = as(sandbox, "key-a")
        const answers = [yield* read(keyA, "alpha", "a1"), yield* read(keyA, "alpha", "a1")]
        answers.push(yield* get(keyA, "/uploadposts/me"))
        assert.deepStrictEqual(answers.map(headers), [
          [200, "3", "2", String(minuteEnd), undefined],
          [200, "3", "1", String(minuteEnd), undefined],
          [200, "3", "0", String(minuteEnd), undefined]
        ])
        const overMinute = yield* read(keyA, "alpha", "a1")
        assert.deepStrictEqual(headers(overMinute), [429, "3", "0", String(minuteEnd), "60"])
        assert.deepStrictEqual(overMinute.body, { success: false, message: "Too many requests, retry after the reset" })
        assert.strictEqual((yield* get(as(sandbox, "key-b"), "/uploadposts/me")).status, 200, "another key")

        yield* TestClock.adjust("1 minute")
        // Four counted in ten minutes (the refused one too): the fifth is the last, and the ten-minute window binds.
        assert.deepStrictEqual(headers(yield* read(keyA, "alpha", "a1")), [
          200,
          "5",
          "0",
          String(tenMinutesEnd),
          undefined
        ])
        assert.deepStrictEqual(headers(yield* read(keyA, "alpha", "a1")), [
          429,
          "5",
          "0",
          String(tenMinutesEnd),
          "540"
        ])
        yield* TestClock.adjust("9 minutes")
        assert.deepStrictEqual(headers(yield* read(keyA, "alpha", "a1")), [
          200,
          "3",
          "2",
          String(tenMinutesEnd + 60),
          undefined
        ])

        const stats = yield* sandbox.stats
        assert.deepStrictEqual(stats.keys["key-a"], {
          requests: 7,
          rateLimited: 2,
          maxPerMinute: 4,
          maxPerTenMinutes: 6
        })
        assert.deepStrictEqual(stats.keys["key-b"], {
          requests: 1,
          rateLimited: 0,
          maxPerMinute: 1,
          maxPerTenMinutes: 1
        })
        assert.strictEqual(stats.responses["429"], 2)
      })).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scoped("take a key's own plan over the knob, and change at run time through the knob", () =>
    agency(
      {},
      (sandbox) =>
        Effect.gen(function*() {
          const keyA = as(sandbox, "key-a")
          const keyB = as(sandbox, "key-b")
          assert.deepStrictEqual(headers(yield* get(keyA, "/uploadposts/me")), [
            200,
            "1",
            "0",
            String(minuteEnd),
            undefined
          ])
          assert.strictEqual((yield* get(keyA, "/uploadposts/me")).status, 429)
          // No plan for key-b: only the request-limit knob's generous window.
          assert.deepStrictEqual(headers(yield* get(keyB, "/uploadposts/me")), [
            200,
            "100000",
            "99999",
            String(minuteEnd),
            undefined
          ])
          yield* sandbox.setFaults({ plan: { perMinute: 2, perTenMinutes: 100 } })
          assert.deepStrictEqual(headers(yield* get(keyB, "/uploadposts/me")), [
            200,
            "2",
            "0",
            String(minuteEnd),
            undefined
          ])
          assert.strictEqual((yield* get(keyB, "/uploadposts/me")).status, 429)
          assert.strictEqual((yield* get(keyA, "/uploadposts/me")).status, 429, "its own plan still holds")
        }),
      [{ key: "key-a", profiles: ["alpha"], plan: { perMinute: 1, perTenMinutes: 10 } }, { key: "key-b" }]
    ).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scoped("are off by default: the one-profile headers are the request-limit knob's", () =>
    agency({}, (sandbox) =>
      Effect.gen(function*() {
        const answer = yield* read(as(sandbox, "key-a"), "alpha", "a1")
        assert.deepStrictEqual(headers(answer), [200, "100000", "99999", String(minuteEnd), undefined])
      })).pipe(Effect.provide(FetchHttpClient.layer)))
})

describe("the per-profile limit", () => {
  it.scoped("counts the requests that name a profile, whatever the key, and answers 429 with its window", () =>
    agency({ profileRequestLimit: 2 }, (sandbox) =>
      Effect.gen(function*() {
        const keyA = as(sandbox, "key-a")
        const keyB = as(sandbox, "key-b")
        assert.deepStrictEqual(headers(yield* read(keyA, "alpha", "a1")), [200, "2", "1", String(minuteEnd), undefined])
        assert.strictEqual((yield* get(keyA, "/uploadposts/me")).status, 200, "names no profile")
        assert.deepStrictEqual(headers(yield* read(keyB, "alpha", "a1")), [200, "2", "0", String(minuteEnd), undefined])
        const limited = yield* read(keyB, "alpha", "a1")
        assert.deepStrictEqual(headers(limited), [429, "2", "0", String(minuteEnd), "60"])
        assert.strictEqual((yield* read(keyB, "beta", "b1")).status, 200, "another profile")
        const notOwned = yield* read(keyA, "beta", "b1")
        assert.strictEqual(notOwned.status, 400, "a profile the key does not own is not counted for it")

        const stats = yield* sandbox.stats
        assert.deepStrictEqual(
          [stats.profiles["alpha"]?.requests, stats.profiles["alpha"]?.rateLimited, stats.profiles["beta"]?.requests],
          [3, 1, 1]
        )
        assert.deepStrictEqual([stats.keys["key-b"]?.requests, stats.keys["key-b"]?.rateLimited], [3, 1])
        yield* TestClock.adjust("1 minute")
        assert.strictEqual((yield* read(keyB, "alpha", "a1")).status, 200)
      })).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scoped("counts sends by the body's user", () =>
    agency({ profileRequestLimit: 1 }, (sandbox) =>
      Effect.gen(function*() {
        const keyB = as(sandbox, "key-b")
        const dm = { platform: "instagram", user: "beta", recipient_id: "u1", message: "hi" }
        assert.strictEqual((yield* post(keyB, "/uploadposts/dms/send", dm)).status, 400, "window closed, but counted")
        assert.strictEqual((yield* post(keyB, "/uploadposts/dms/send", dm)).status, 429)
        const elsewhere = { ...dm, user: "alpha" }
        assert.strictEqual((yield* post(keyB, "/uploadposts/dms/send", elsewhere)).status, 400, "alpha's own window")
      })).pipe(Effect.provide(FetchHttpClient.layer)))
})
