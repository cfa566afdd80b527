import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Ref, TestClock } from "effect"
import * as Retry from "../src/Retry.js"
import * as Errors from "../src/UploadPostError.js"

const policy: Retry.RetryPolicy = {
  maxAttempts: 4,
  baseDelay: Duration.millis(100),
  maxDelay: Duration.seconds(1),
  maxElapsed: Duration.seconds(30),
  maxRateLimitWaits: 3,
  maxRateLimitWait: Duration.minutes(5)
}

const transient = new Errors.Transient({ endpoint: "POST /x", detail: "HTTP 500", status: 500 })

/** An effect that fails with the given errors in turn, then succeeds, counting its attempts. */
const scripted = (attempts: Ref.Ref<number>, failures: ReadonlyArray<Errors.UploadPostError>) =>
  Ref.getAndUpdate(attempts, (n) => n + 1).pipe(
    Effect.flatMap((n) => n < failures.length ? Effect.fail(failures[n]!) : Effect.succeed("ok"))
  )

describe("the retry policy", () => {
  it.effect("retries a transient failure with back-off until it succeeds", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const fiber = yield* Effect.fork(Retry.retrying(scripted(attempts, [transient, transient]), policy))
      yield* TestClock.adjust(Duration.seconds(5))
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.strictEqual(yield* Ref.get(attempts), 3)
    }))

  it.effect("waits between transient attempts rather than hammering the API", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const fiber = yield* Effect.fork(Retry.retrying(scripted(attempts, [transient, transient]), policy))
      yield* TestClock.adjust(Duration.millis(1))
      assert.strictEqual(yield* Ref.get(attempts), 1, "the second attempt waits for its back-off")
      yield* TestClock.adjust(Duration.seconds(5))
      yield* Fiber.join(fiber)
    }))

  it.effect("gives up after maxAttempts and returns the transient error", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const fiber = yield* Effect.fork(
        Effect.flip(Retry.retrying(scripted(attempts, Array(10).fill(transient)), policy))
      )
      yield* TestClock.adjust(Duration.seconds(30))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "Transient")
      assert.strictEqual(yield* Ref.get(attempts), policy.maxAttempts)
    }))

  it.effect("stops retrying once maxElapsed has passed", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const slow = { ...policy, maxAttempts: 100, baseDelay: Duration.seconds(1), maxDelay: Duration.seconds(1) }
      const fiber = yield* Effect.fork(
        Effect.flip(
          Retry.retrying(scripted(attempts, Array(100).fill(transient)), { ...slow, maxElapsed: "4 seconds" })
        )
      )
      yield* TestClock.adjust(Duration.seconds(60))
      yield* Fiber.join(fiber)
      const made = yield* Ref.get(attempts)
      assert.isTrue(made >= 2 && made <= 6, `attempts within the time bound, got ${made}`)
    }))

  it.effect("never retries the daily limit, a refusal, an invalid request, a bad key or a send in doubt", () =>
    Effect.gen(function*() {
      const final: ReadonlyArray<Errors.UploadPostError> = [
        new Errors.DailyLimitReached({ endpoint: "e", detail: "Daily DM limit exceeded." }),
        new Errors.RecipientRefused({ endpoint: "e", status: 400, reason: "(#10) window" }),
        new Errors.InvalidRequest({ endpoint: "e", status: 400, detail: "Invalid account" }),
        new Errors.Unauthorized({ endpoint: "e", status: 401, detail: "Invalid API key" }),
        new Errors.SendInDoubt({ endpoint: "e", detail: "socket hang up" }),
        new Errors.MalformedResponse({ endpoint: "e", status: 200, problem: "p", excerpt: "x" })
      ]
      for (const error of final) {
        const attempts = yield* Ref.make(0)
        const result = yield* Effect.flip(Retry.retrying(scripted(attempts, [error]), policy))
        assert.strictEqual(result._tag, error._tag)
        assert.strictEqual(yield* Ref.get(attempts), 1, `${error._tag} is tried once`)
      }
    }))

  it.effect("a request-rate 429 waits exactly for its reset, then goes on", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const limited = new Errors.RateLimited({ endpoint: "e", retryAfter: Duration.seconds(20), detail: "slow" })
      const fiber = yield* Effect.fork(Retry.retrying(scripted(attempts, [limited]), policy))
      yield* TestClock.adjust(Duration.seconds(19))
      assert.strictEqual(yield* Ref.get(attempts), 1, "no attempt before the reset")
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(yield* Fiber.join(fiber), "ok")
      assert.strictEqual(yield* Ref.get(attempts), 2)
    }))

  it.effect("a reset too far away is not waited for", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const limited = new Errors.RateLimited({ endpoint: "e", retryAfter: Duration.hours(2), detail: "slow" })
      const error = yield* Effect.flip(Retry.retrying(scripted(attempts, [limited]), policy))
      assert.strictEqual(error._tag, "RateLimited")
      assert.strictEqual(yield* Ref.get(attempts), 1)
    }))

  it.effect("request-rate waits are bounded in number", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const limited = new Errors.RateLimited({ endpoint: "e", retryAfter: Duration.seconds(1), detail: "slow" })
      const fiber = yield* Effect.fork(Effect.flip(Retry.retrying(scripted(attempts, Array(10).fill(limited)), policy)))
      yield* TestClock.adjust(Duration.minutes(1))
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "RateLimited")
      assert.strictEqual(yield* Ref.get(attempts), policy.maxRateLimitWaits + 1)
    }))
})
