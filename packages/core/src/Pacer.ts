/**
 * Send pacing. `per_hour` is a ceiling over every window, not an average, and it holds on the moments sends really
 * start, not on the moments they were meant to:
 *
 * - slots are handed out evenly, `count` per `per` less a little slack (at most 1.5% of the rate), which sets the rate;
 * - a send starts only when the window of about a second before it holds fewer than its share of earlier starts:
 *   never before the n-th previous start plus the window plus a small margin. A wake-up that comes late is not made
 *   up by squeezing the next send closer to it; the slack lets the sends after a late one get back on schedule, and
 *   keeps jitter on the way to the platform from tipping one of its windows over.
 *
 * The short window's share divides `count`, so every window of the length of `per` holds at most `count` starts, and
 * a window of a second at most its share. Each attempt of a send takes a slot, retries included.
 */
import { Clock, Context, Duration, Effect, Layer, Ref } from "effect"

export interface Pacer {
  /** Waits for the next free slot, then returns. Interrupting the wait gives the slot up for no one (safe side). */
  readonly take: Effect.Effect<void>
}

export const Pacer = Context.GenericTag<Pacer>("@comment-dm/core/Pacer")

/** The window counted on actual starts is at most this long: platforms count request rates per second. */
const longestWindowMillis = 1_000

/** Starts remembered at most, whatever the pace. */
const mostRemembered = 1_000

/**
 * The margin after the window that no start may fall inside: room for jitter between a start here and its arrival at
 * the platform (scheduling of both ends, the network), 7 ms, at most 0.7% of the window. Half the slack: a send on
 * schedule never waits for it, and the sends after a late wake-up can still make up half a slack a window.
 */
const marginMillis = 7
const marginShare = 0.007

/**
 * The slack of the slots over a window: at most 15 ms, and at most 1.5% of the window (the rate it costs). Time lost
 * to a late wake-up cannot be made up by starting closer together than the window and its margin allow; the slack
 * beyond the margin is what lets the sends after it get back on schedule.
 */
const slackMillis = 15
const slackShare = 0.015

/** How many sends the short window holds: the most that fit a second and divide `count`, at least one. */
const windowShare = (count: number, spacingMillis: number): number => {
  // The epsilon keeps a whole number of sends a second whole through the division (1000 / (1000 / 49)).
  const fit = Math.min(mostRemembered, Math.floor(longestWindowMillis / spacingMillis + 1e-9))
  for (let share = fit; share > 1; share--) {
    if (count % share === 0) return share
  }
  return 1
}

/** The last `capacity` start times, oldest first. */
class RecentStarts {
  private readonly times: Float64Array
  private next = 0
  private size = 0
  constructor(private readonly capacity: number) {
    this.times = new Float64Array(capacity)
  }
  /** The start `capacity` starts ago, if there were that many. */
  get oldest(): number | undefined {
    return this.size < this.capacity ? undefined : this.times[this.next]
  }
  record(at: number) {
    this.times[this.next] = at
    this.next = (this.next + 1) % this.capacity
    this.size = Math.min(this.capacity, this.size + 1)
  }
}

/** `count` sends per `per` (e.g. 200 per hour), evenly spaced, and never more than the share of a window. */
export const make = (count: number, per: Duration.DurationInput = Duration.hours(1)): Effect.Effect<Pacer> =>
  Effect.gen(function*() {
    const sends = Math.max(1, count)
    const share = windowShare(sends, Duration.toMillis(per) / sends)
    const window = (share * Duration.toMillis(per)) / sends
    const margin = Math.min(marginMillis, window * marginShare)
    const spacing = (window + Math.min(slackMillis, window * slackShare)) / share
    const nextSlot = yield* Ref.make(Number.NEGATIVE_INFINITY)
    const starts = new RecentStarts(share)

    /** Starts a send now if the window allows it (one step, so no other fiber comes between); else the wait. */
    const startNow = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const oldest = starts.oldest
        const earliest = oldest === undefined ? now : oldest + window + margin
        if (now < earliest) return earliest - now
        starts.record(now)
        return 0
      }))

    const take = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const slot = yield* Ref.modify(nextSlot, (earliest) => {
        const at = Math.max(now, earliest)
        return [at, at + spacing] as const
      })
      if (slot > now) yield* Effect.sleep(Duration.millis(slot - now))
      let wait = yield* startNow
      while (wait > 0) {
        yield* Effect.sleep(Duration.millis(Math.ceil(wait)))
        wait = yield* startNow
      }
    })
    return { take }
  })

/** No pacing at all: benchmarks and rehearsals on the sandbox. */
export const unlimited: Pacer = { take: Effect.void }

export const layer = (count: number, per?: Duration.DurationInput): Layer.Layer<Pacer> =>
  Layer.effect(Pacer, make(count, per))
