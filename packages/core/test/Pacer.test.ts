import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Ref, TestClock } from "effect"
import * as Pacer from "../src/Pacer.js"

describe("Pacer", () => {
  it.effect("spaces sends evenly: 60 per minute is one a second, concurrency or not", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacer.make(60, Duration.minutes(1))
      const times = yield* Ref.make<ReadonlyArray<number>>([])
      const send = pacer.take.pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.flatMap((at) => Ref.update(times, (all) => [...all, at]))
      )
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 10 }, () => send), { concurrency: 4 }))
      yield* TestClock.adjust(Duration.seconds(20))
      yield* Fiber.join(fiber)
      const sorted = [...(yield* Ref.get(times))].sort((a, b) => a - b)
      assert.deepStrictEqual(sorted, Array.from({ length: 10 }, (_, i) => i * 1000))
    }))

  it.effect("never lets a window of the period hold more than the limit", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacer.make(5, Duration.seconds(10))
      const times = yield* Ref.make<ReadonlyArray<number>>([])
      const send = pacer.take.pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.flatMap((at) => Ref.update(times, (all) => [...all, at]))
      )
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 23 }, () => send), { concurrency: 8 }))
      yield* TestClock.adjust(Duration.minutes(2))
      yield* Fiber.join(fiber)
      const all = yield* Ref.get(times)
      for (const start of all) {
        const inWindow = all.filter((at) => at >= start && at < start + 10_000).length
        assert.isAtMost(inWindow, 5)
      }
    }))
})
