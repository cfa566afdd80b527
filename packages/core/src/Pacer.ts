/**
 * Send pacing. `per_hour` is a ceiling over every window of an hour, not an average: sends are spaced evenly,
 * one every `1h / per_hour`, so no window of any length ever holds more than its share (plus the one at its edge).
 * Each attempt of a send takes a slot, retries included.
 */
import { Clock, Context, Duration, Effect, Layer, Ref } from "effect"

export interface Pacer {
  /** Waits for the next free slot, then returns. Interrupting the wait gives the slot up for no one (safe side). */
  readonly take: Effect.Effect<void>
}

export const Pacer = Context.GenericTag<Pacer>("@comment-dm/core/Pacer")

/** `count` sends per `per` (e.g. 200 per hour), evenly spaced. */
export const make = (count: number, per: Duration.DurationInput = Duration.hours(1)): Effect.Effect<Pacer> =>
  Effect.gen(function*() {
    const spacing = Duration.toMillis(per) / Math.max(1, count)
    const next = yield* Ref.make(Number.NEGATIVE_INFINITY)
    const take = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const slot = yield* Ref.modify(next, (earliest) => {
        const at = Math.max(now, earliest)
        return [at, at + spacing] as const
      })
      if (slot > now) yield* Effect.sleep(Duration.millis(slot - now))
    })
    return { take }
  })

/** No pacing at all: benchmarks and rehearsals on the sandbox. */
export const unlimited: Pacer = { take: Effect.void }

export const layer = (count: number, per?: Duration.DurationInput): Layer.Layer<Pacer> =>
  Layer.effect(Pacer, make(count, per))
