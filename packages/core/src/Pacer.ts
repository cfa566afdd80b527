/**
 * Send pacing. `per_hour` is a ceiling over every window, not an average, and it holds on the moments the platform
 * counts requests, not only on the moments they were meant to leave:
 *
 * - slots are handed out evenly, `count` per `per` less a little slack (at most 1.5% of the rate), which sets the rate;
 * - a send starts only when the window of about a second before it holds fewer than its share of earlier starts:
 *   never before the n-th previous start plus the window plus a small margin. A wake-up that comes late is not made
 *   up by squeezing the next send closer to it; the slack lets the sends after a late one get back on schedule;
 * - the way to the platform varies, and a request that took longer on its way may be counted later than it left:
 *   a window is lengthened by how much longer its first request's round trip took than the fastest recent one (a
 *   request may have reached the platform that much later than it left), so that a slow request and a fast one
 *   after it never land in one window of the platform together.
 *
 * The short window's share divides `count`, so every window of the length of `per` holds at most `count` starts, and
 * a window of a second at most its share. Each attempt of a send takes a slot, retries included.
 */
import { Clock, Context, Duration, Effect, Layer, Ref } from "effect"

/** A slot a request has started in. */
export interface Slot {
  /**
   * Tells the pacer that the platform's answer came back now. A slot whose answer is never reported (its request
   * failed on the way, or no request was made) counts as having taken the longest way the pacer allows for.
   */
  readonly answered: Effect.Effect<void>
}

export interface Service {
  /** Waits for the next free slot, then starts it. Interrupting the wait gives the slot up for no one (safe side). */
  readonly take: Effect.Effect<Slot>
}

/** The pace of a run's sends; without one, a run paces itself by its campaign's `pace`. */
export class Pacer extends Context.Tag("@comment-dm/core/Pacer")<Pacer, Service>() {}

/** The window counted on actual starts is at most this long: platforms count request rates per second. */
const longestWindowMillis = 1_000

/** Starts remembered at most, whatever the pace. */
const mostRemembered = 1_000

/**
 * The margin after the window that no start may fall inside: room for the jitter on the way to the platform that
 * round trips do not show (scheduling of both ends), 7 ms, at most 0.7% of the window. Half the slack: a send on
 * schedule never waits for it, and the sends after a late wake-up can still make up half a slack a window.
 */
const marginMillis = 7
const marginShare = 0.007

/**
 * The most a window is lengthened for a slow way to the platform: 50 ms, at most 5% of the window. It is what a
 * window waits for when its first request's answer has not come back (or never will), and it bounds what one slow
 * round trip can cost the rate.
 */
const longestWayMillis = 50
const longestWayShare = 0.05

/** Round trips the fastest way is taken from: recent ones, so that a platform that slows down for good is followed. */
const roundTripsRemembered = 64

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

/**
 * The last `capacity` starts, each with its round trip once answered (NaN before), and the recent round trips. Start
 * number `n` is kept until start `n + capacity` replaces it.
 */
class RecentStarts {
  private readonly starts: Float64Array
  private readonly roundTrips: Float64Array
  private readonly recentRoundTrips = new Float64Array(roundTripsRemembered).fill(Number.POSITIVE_INFINITY)
  private count = 0
  private answers = 0
  constructor(private readonly capacity: number) {
    this.starts = new Float64Array(capacity)
    this.roundTrips = new Float64Array(capacity)
  }
  /** The start `capacity` starts ago and its round trip (NaN if unanswered), if there were that many starts. */
  get oldest(): { readonly at: number; readonly roundTrip: number } | undefined {
    if (this.count < this.capacity) return undefined
    const index = this.count % this.capacity
    return { at: this.starts[index]!, roundTrip: this.roundTrips[index]! }
  }
  /** The fastest of the recent round trips; infinite before the first answer. */
  get fastestRoundTrip(): number {
    let fastest = Number.POSITIVE_INFINITY
    for (const roundTrip of this.recentRoundTrips) fastest = Math.min(fastest, roundTrip)
    return fastest
  }
  /** Records a start; returns its number. */
  record(at: number): number {
    const index = this.count % this.capacity
    this.starts[index] = at
    this.roundTrips[index] = Number.NaN
    return this.count++
  }
  answer(start: number, at: number) {
    // A start already replaced no longer bounds any window.
    if (this.count - start > this.capacity) return
    const index = start % this.capacity
    const roundTrip = at - this.starts[index]!
    this.roundTrips[index] = roundTrip
    this.recentRoundTrips[this.answers++ % roundTripsRemembered] = roundTrip
  }
}

/** `count` sends per `per` (e.g. 200 per hour), evenly spaced, and never more than the share of a window. */
export const make = (count: number, per: Duration.DurationInput = Duration.hours(1)): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const sends = Math.max(1, count)
    const share = windowShare(sends, Duration.toMillis(per) / sends)
    const window = (share * Duration.toMillis(per)) / sends
    const margin = Math.min(marginMillis, window * marginShare)
    const longestWay = Math.min(longestWayMillis, window * longestWayShare)
    const spacing = (window + Math.min(slackMillis, window * slackShare)) / share
    const nextSlot = yield* Ref.make(Number.NEGATIVE_INFINITY)
    const starts = new RecentStarts(share)

    /** How much later than it left the platform may have counted a start: its round trip above the fastest. */
    const slowerWay = (roundTrip: number) =>
      Number.isNaN(roundTrip) ? longestWay : Math.min(longestWay, Math.max(0, roundTrip - starts.fastestRoundTrip))

    const slotOf = (start: number): Slot => ({
      answered: Effect.map(Clock.currentTimeMillis, (now) => starts.answer(start, now))
    })

    /** Starts a send now if the window allows it (one step, so no other fiber comes between); else the wait. */
    const startNow = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const oldest = starts.oldest
        const earliest = oldest === undefined ? now : oldest.at + window + margin + slowerWay(oldest.roundTrip)
        if (now < earliest) return { wait: earliest - now } as const
        return { slot: slotOf(starts.record(now)) } as const
      }))

    const take = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const slot = yield* Ref.modify(nextSlot, (earliest) => {
        const at = Math.max(now, earliest)
        return [at, at + spacing] as const
      })
      if (slot > now) yield* Effect.sleep(Duration.millis(slot - now))
      let started = yield* startNow
      while ("wait" in started) {
        yield* Effect.sleep(Duration.millis(Math.ceil(started.wait)))
        started = yield* startNow
      }
      return started.slot
    })
    return { take }
  })

/** A slot whose answer nobody needs to hear of. */
export const unheeded: Slot = { answered: Effect.void }

/** No pacing at all: benchmarks and rehearsals on the sandbox. */
export const unlimited: Service = { take: Effect.succeed(unheeded) }

export const layer = (count: number, per?: Duration.DurationInput): Layer.Layer<Pacer> =>
  Layer.effect(Pacer, make(count, per))

/** No pacing: the sandbox, benchmarks. */
export const layerUnlimited: Layer.Layer<Pacer> = Layer.succeed(Pacer, unlimited)
