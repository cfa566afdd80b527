/**
 * examples/library-budget.ts, which docs/library.md quotes, run against the sandbox in this process: a client with a
 * request budget never asks beyond its plan, whatever the program asks of it at once.
 */
import { RequestBudget, UploadPost } from "@comment-dm/core"
import { Sandbox } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted } from "effect"
import * as Example from "../examples/library-budget.js"

describe("examples/library-budget.ts", () => {
  it.live("holds the client's requests to the plan: the rest wait, and no 429 comes", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make({ faults: { plan: { perMinute: 5, perTenMinutes: 20 } } })
      const client = Example.ApiWithBudget(sandbox.baseUrl, Redacted.make(sandbox.apiKey), { perMinute: 5 })
      yield* Effect.gen(function*() {
        const api = yield* UploadPost.UploadPost
        const budget = yield* RequestBudget.RequestBudget
        const reads = yield* Effect.fork(Effect.all(Array.from({ length: 8 }, () => api.me), { concurrency: 8 }))
        yield* Effect.sleep("1500 millis")
        const stats = yield* sandbox.stats
        assert.deepStrictEqual(stats.keys[sandbox.apiKey], {
          requests: 5,
          rateLimited: 0,
          maxPerMinute: 5,
          maxPerTenMinutes: 5
        })
        assert.strictEqual((yield* budget.stats).taken, 5)
        assert.strictEqual((yield* budget.snapshot).spentLastMinute, 5)
        yield* Fiber.interrupt(reads)
      }).pipe(Effect.provide(Layer.fresh(client)))
    }).pipe(Effect.scoped))
})
