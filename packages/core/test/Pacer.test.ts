import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, FastCheck, Fiber, Random, Ref, TestClock } from "effect"
import * as Pacer from "../src/Pacer.js"

/** The most start times in any half-open window `[t, t + window)`. */
const mostInWindow = (times: ReadonlyArray<number>, window: number): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  let first = 0
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= window) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}

/** The Clock of the test, whose sleeps wake up `lateness(wakeUp)` milliseconds after they should. */
const lateClock = (base: Clock.Clock, lateness: (wakeUp: number) => number): Clock.Clock => ({
  [Clock.ClockTypeId]: Clock.ClockTypeId,
  unsafeCurrentTimeMillis: () => base.unsafeCurrentTimeMillis(),
  unsafeCurrentTimeNanos: () => base.unsafeCurrentTimeNanos(),
  currentTimeMillis: base.currentTimeMillis,
  currentTimeNanos: base.currentTimeNanos,
  sleep: (duration) => {
    const wakeUp = base.unsafeCurrentTimeMillis() + Duration.toMillis(duration)
    return base.sleep(Duration.sum(duration, Duration.millis(lateness(wakeUp))))
  }
})

/**
 * Sends `sends` times through the pacer, `concurrency` at a time, each wake-up late by `lateness`; returns when each
 * send started, in the order they started.
 */
const sendTimes = (
  pacer: Pacer.Pacer,
  options: { sends: number; concurrency: number; lateness?: (wakeUp: number) => number; runFor: Duration.Duration }
) =>
  Effect.gen(function*() {
    const base = yield* Effect.clock
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    const send = pacer.take.pipe(
      Effect.zipRight(Clock.currentTimeMillis),
      Effect.flatMap((at) => Ref.update(times, (all) => [...all, at]))
    )
    const clock = options.lateness === undefined ? base : lateClock(base, options.lateness)
    const fiber = yield* Effect.all(Array.from({ length: options.sends }, () => send), {
      concurrency: options.concurrency,
      discard: true
    }).pipe(Effect.withClock(clock), Effect.fork)
    yield* TestClock.adjust(options.runFor)
    yield* Fiber.join(fiber)
    return yield* Ref.get(times)
  })

describe("Pacer", () => {
  it.effect("spaces sends evenly: 60 per minute is one a second and 1.5% of slack, concurrency or not", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacer.make(60, Duration.minutes(1))
      const times = yield* sendTimes(pacer, { sends: 10, concurrency: 4, runFor: Duration.seconds(20) })
      assert.deepStrictEqual(times, Array.from({ length: 10 }, (_, i) => i * 1015))
    }))

  it.effect("never lets a window of the period hold more than the limit", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacer.make(5, Duration.seconds(10))
      const times = yield* sendTimes(pacer, { sends: 23, concurrency: 8, runFor: Duration.minutes(2) })
      assert.strictEqual(times.length, 23)
      assert.isAtMost(mostInWindow(times, 10_000), 5)
    }))

  it.effect("a late wake-up does not let the next sends in early: no second holds more than its share", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacer.make(20, Duration.seconds(1))
      // The second send, due about 50 ms in, wakes up 45 ms late; every other wake-up is on time.
      const times = yield* sendTimes(pacer, {
        sends: 60,
        concurrency: 4,
        lateness: (wakeUp) => wakeUp > 0 && wakeUp < 60 ? 45 : 0,
        runFor: Duration.seconds(10)
      })
      assert.isAtLeast(times[1]!, 95)
      assert.isBelow(times[2]!, times[1]! + 10, "the third send is on time, close after the late one")
      // Evenly spaced slots alone would start the 22nd send 21 slots in, less than a second after the late one.
      assert.isAtLeast(times[21]!, times[1]! + 1000)
      assert.strictEqual(mostInWindow(times, 1000), 20)
    }))

  it.effect("keeps within 2% of the pace over 30 s when some wake-ups are late", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacer.make(36_000, Duration.hours(1))
      const random = Random.make(7)
      const lateBy = new Map<number, number>()
      // One wake-up in ten is up to 40 ms late (seeded); the same wake-up time is always late by the same amount.
      const lateness = (wakeUp: number) => {
        const known = lateBy.get(wakeUp)
        if (known !== undefined) return known
        const [late, by] = Effect.runSync(Effect.all([random.next, random.next]))
        const drawn = late < 0.1 ? Math.floor(by * 40) : 0
        lateBy.set(wakeUp, drawn)
        return drawn
      }
      const times = yield* sendTimes(pacer, { sends: 300, concurrency: 8, lateness, runFor: Duration.minutes(1) })
      const sorted = [...times].sort((a, b) => a - b)
      const rate = ((sorted.length - 1) / (sorted.at(-1)! - sorted[0]!)) * 1000
      assert.isAtLeast(sorted.at(-1)! - sorted[0]!, 29_000)
      assert.isAtMost(Math.abs(rate - 10) / 10, 0.02, `${rate} sends a second`)
      assert.isAtMost(mostInWindow(times, 1000), 10)
      assert.isAtMost(mostInWindow(times, 5000), 50)
    }))

  it.effect.prop(
    "no window holds more than its share, whatever the pace, the concurrency and the late wake-ups",
    [
      FastCheck.integer({ min: 1, max: 12 }),
      FastCheck.integer({ min: 1, max: 3 }),
      FastCheck.integer({ min: 1, max: 8 }),
      FastCheck.array(FastCheck.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 30 })
    ],
    ([perSecond, seconds, concurrency, delays]) =>
      Effect.gen(function*() {
        const count = perSecond * seconds
        const pacer = yield* Pacer.make(count, Duration.seconds(seconds))
        let sleeps = 0
        const times = yield* sendTimes(pacer, {
          sends: 2 * perSecond + 3,
          concurrency,
          lateness: () => delays[sleeps++ % delays.length]!,
          runFor: Duration.minutes(1)
        })
        assert.strictEqual(times.length, 2 * perSecond + 3)
        assert.isAtMost(mostInWindow(times, 1000), perSecond)
        assert.isAtMost(mostInWindow(times, seconds * 1000), count)
      }),
    { fastCheck: { numRuns: 25, seed: 20_260_328 } }
  )
})
