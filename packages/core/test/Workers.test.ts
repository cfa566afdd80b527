import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as Workers from "../src/campaign/Workers.js"

/** Pages of 50, as the comment stream delivers them. */
const pages = (count: number) =>
  Stream.fromChunks(
    ...Array.from(
      { length: Math.ceil(count / 50) },
      (_, page) =>
        Chunk.unsafeFromArray(Array.from({ length: Math.min(50, count - page * 50) }, (_, i) => page * 50 + i))
    )
  )

describe("forEachConcurrently", () => {
  it.live("handles every element once, never more than `concurrency` at a time", () =>
    Effect.gen(function*() {
      const handled: Array<number> = []
      let running = 0
      let peak = 0
      yield* Workers.forEachConcurrently(
        pages(2_000),
        (n) =>
          Effect.gen(function*() {
            running++
            peak = Math.max(peak, running)
            yield* Effect.sleep(n % 3)
            handled.push(n)
            running--
          }),
        8
      )
      assert.deepStrictEqual([...handled].sort((a, b) => a - b), Array.from({ length: 2_000 }, (_, i) => i))
      assert.strictEqual(peak, 8)
    }))

  it.live("a failing element fails the whole and stops the others", () =>
    Effect.gen(function*() {
      const handled: Array<number> = []
      const error = yield* Effect.flip(Workers.forEachConcurrently(
        pages(500),
        (n) => n === 100 ? Effect.fail("boom") : Effect.sync(() => handled.push(n)).pipe(Effect.delay(1)),
        4
      ))
      assert.strictEqual(error, "boom")
      assert.isBelow(handled.length, 500)
    }))

  it.live("a failing stream fails the whole; no element is handled twice", () =>
    Effect.gen(function*() {
      const handled: Array<number> = []
      const error = yield* Effect.flip(Workers.forEachConcurrently(
        Stream.concat(pages(100), Stream.fail("read failed")),
        (n) => Effect.sync(() => handled.push(n)),
        8
      ))
      assert.strictEqual(error, "read failed")
      // Elements still queued when the read fails may be dropped, as a read error stops the run; none is repeated.
      assert.isTrue(handled.every((n) => n < 100))
      assert.strictEqual(new Set(handled).size, handled.length)
    }))
})
