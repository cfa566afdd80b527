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

/** Runs `sends` copies of `request`, `concurrency` at a time, while the test clock moves on by `runFor`. */
const runConcurrently = <E>(
  request: Effect.Effect<void, E>,
  options: { sends: number; concurrency: number; runFor: Duration.Duration; clock?: Clock.Clock }
) =>
  Effect.gen(function*() {
    const all = Effect.all(Array.from({ length: options.sends }, () => request), {
      concurrency: options.concurrency,
      discard: true
    })
    const fiber = yield* Effect.fork(options.clock === undefined ? all : Effect.withClock(all, options.clock))
    yield* TestClock.adjust(options.runFor)
    yield* Fiber.join(fiber)
  })

/**
 * Sends `sends` times through the pacer, `concurrency` at a time, each wake-up late by `lateness`; returns when each
 * send started, in the order they started.
 */
const sendTimes = (
  pacer: Pacer.Service,
  options: { sends: number; concurrency: number; lateness?: (wakeUp: number) => number; runFor: Duration.Duration }
) =>
  Effect.gen(function*() {
    const base = yield* Effect.clock
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    // Each request is answered as it starts: these runs are about start times, the way to the platform is nil.
    const send = pacer.take.pipe(
      Effect.flatMap((slot) => slot.answered),
      Effect.zipRight(Clock.currentTimeMillis),
      Effect.flatMap((at) => Ref.update(times, (all) => [...all, at]))
    )
    const clock = options.lateness === undefined ? base : lateClock(base, options.lateness)
    yield* runConcurrently(send, { ...options, clock })
    return yield* Ref.get(times)
  })

/**
 * Sends `sends` requests through the pacer, `concurrency` at a time. The n-th request to start reaches the platform
 * `wayThere(n)` ms after it starts, or never when that is undefined (it failed on the way: no answer is reported);
 * its answer comes back `platformMillis` ms later. Returns when each request started and when each one arrived.
 */
const pacedRequests = (
  pacer: Pacer.Service,
  options: {
    sends: number
    concurrency: number
    wayThere: (n: number) => number | undefined
    platformMillis: number
    runFor: Duration.Duration
  }
) =>
  Effect.gen(function*() {
    const starts: Array<number> = []
    const arrivals: Array<number> = []
    const request = Effect.gen(function*() {
      const slot = yield* pacer.take
      const startedAt = yield* Clock.currentTimeMillis
      const way = options.wayThere(starts.length)
      starts.push(startedAt)
      if (way === undefined) return
      arrivals.push(startedAt + way)
      yield* Effect.sleep(Duration.millis(way + options.platformMillis))
      yield* slot.answered
    })
    yield* runConcurrently(request, options)
    return { starts, arrivals }
  })

/** The rate of `times` per second, counting n times as n - 1 intervals. */
const ratePerSecond = (times: ReadonlyArray<number>): number => {
  const sorted = [...times].sort((a, b) => a - b)
  return ((sorted.length - 1) / (sorted.at(-1)! - sorted[0]!)) * 1000
}

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
      const rate = ratePerSecond(times)
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

  it.effect("a request slow on its way to the platform lengthens its window by the time it took above the fastest", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacer.make(20, Duration.seconds(1))
      // The first request takes 27 ms to reach the platform, every other one 1 ms; each answer 100 ms after that.
      const { arrivals, starts } = yield* pacedRequests(pacer, {
        sends: 21,
        concurrency: 8,
        wayThere: (n) => n === 0 ? 27 : 1,
        platformMillis: 100,
        runFor: Duration.seconds(3)
      })
      // The window after the first start is 1,000 ms, 7 ms of margin and the 26 ms its way took above the fastest.
      assert.strictEqual(starts[20], starts[0]! + 1000 + 7 + 26)
      assert.isAtMost(mostInWindow(arrivals, 1000), 20)
    }))

  it.effect("a request whose answer never comes lengthens its window by the longest way allowed for, 50 ms", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacer.make(20, Duration.seconds(1))
      const { starts } = yield* pacedRequests(pacer, {
        sends: 22,
        concurrency: 8,
        wayThere: (n) => n === 0 ? undefined : 1,
        platformMillis: 100,
        runFor: Duration.seconds(3)
      })
      assert.strictEqual(starts[20], starts[0]! + 1000 + 7 + 50)
      // The window of the second request, answered as fast as any, is not lengthened: the 22nd is on its even slot.
      assert.strictEqual(starts[21], (21 * 1015) / 20)
    }))

  it.effect.prop(
    "no window of the platform counts more than its share, whatever the way there takes (up to 50 ms), once the fastest way was seen",
    [
      FastCheck.integer({ min: 2, max: 20 }),
      FastCheck.integer({ min: 1, max: 8 }),
      FastCheck.integer({ min: 0, max: 300 }),
      FastCheck.array(FastCheck.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 40 })
    ],
    ([perSecond, concurrency, platformMillis, ways]) =>
      Effect.gen(function*() {
        const pacer = yield* Pacer.make(perSecond * 60, Duration.minutes(1))
        const sends = 3 * perSecond + 3
        const { arrivals, starts } = yield* pacedRequests(pacer, {
          sends,
          concurrency,
          // The second request takes the fastest way, so it is known by the time the first window ends. (Ways
          // faster than any seen before are covered only by the 7 ms of margin.)
          wayThere: (n) => n === 1 ? Math.min(...ways) : ways[n % ways.length]!,
          platformMillis,
          runFor: Duration.minutes(1)
        })
        assert.strictEqual(arrivals.length, sends)
        assert.isAtMost(mostInWindow(arrivals, 1000), perSecond)
        assert.isAtMost(mostInWindow(starts, 1000), perSecond)
      }),
    { fastCheck: { numRuns: 25, seed: 20_261_204 } }
  )

  it.effect("keeps within 2% of the pace at 20 a second when the way to the platform varies by up to 9 ms", () =>
    Effect.gen(function*() {
      const pacer = yield* Pacer.make(72_000, Duration.hours(1))
      const random = Random.make(11)
      // Mostly 1 to 3 ms on the way, one request in twenty up to 9 ms: a loopback under load.
      const ways: Array<number> = []
      for (let n = 0; n < 600; n++) {
        const slow = (yield* random.next) < 0.05
        const by = yield* random.next
        ways.push(1 + Math.floor(by * (slow ? 9 : 3)))
      }
      const { arrivals } = yield* pacedRequests(pacer, {
        sends: 600,
        concurrency: 8,
        wayThere: (n) => ways[n]!,
        platformMillis: 100,
        runFor: Duration.minutes(1)
      })
      const rate = ratePerSecond(arrivals)
      assert.isAtMost(Math.abs(rate - 20) / 20, 0.02, `${rate} sends a second`)
      assert.isAtMost(mostInWindow(arrivals, 1000), 20)
    }))
})
