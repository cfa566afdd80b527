/**
 * A clock whose time moves only when told, for benchmarks that simulate hours of traffic in minutes. Unlike Effect's
 * TestClock it forgets a sleep that is interrupted (every request's timeout is one) and does not wait for every fiber
 * to suspend at each wake-up: the caller decides when the simulated world is idle, and moves time on then.
 */
import { Clock, Duration, Effect } from "effect"

interface Sleeper {
  readonly at: number
  readonly wake: () => void
}

export class VirtualClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private now: number
  private nextId = 0
  private readonly sleepers = new Map<number, Sleeper>()

  constructor(start: number) {
    this.now = start
  }

  unsafeCurrentTimeMillis(): number {
    return this.now
  }

  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.round(this.now)) * 1_000_000n
  }

  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const millis = Duration.toMillis(duration)
      if (millis <= 0) {
        resume(Effect.void)
        return
      }
      return this.register(this.now + millis, resume)
    })
  }

  private register(at: number, resume: (effect: Effect.Effect<void>) => void) {
    const id = this.nextId++
    this.sleepers.set(id, { at, wake: () => resume(Effect.void) })
    return Effect.sync(() => {
      this.sleepers.delete(id)
    })
  }

  /** Sets the time to `at` (never back) and wakes every sleep due by then, earliest first. */
  advanceTo(at: number): void {
    this.now = Math.max(this.now, at)
    const due = [...this.sleepers].filter(([, sleeper]) => sleeper.at <= this.now)
    due.sort(([, a], [, b]) => a.at - b.at)
    for (const [id, sleeper] of due) {
      this.sleepers.delete(id)
      sleeper.wake()
    }
  }

  /** Sleeps pending. */
  get pending(): number {
    return this.sleepers.size
  }
}
