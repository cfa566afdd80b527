/**
 * The daily DM limit as a gate before each send. The limit pauses sends (reading goes on, so everyone is accounted
 * for); while paused, one send at a time may probe, from `probeAt` on, whether the platform accepts again: the next
 * person's real, claimed message. What the profile's other runners know comes from the `DailyBudget`, if any.
 */
import { Clock, Deferred, Duration, Effect } from "effect"
import * as CampaignSpec from "../CampaignSpec.js"
import type * as DailyBudget from "../DailyBudget.js"
import type * as Ledger from "../Ledger.js"
import { Event } from "../Run.js"
import type { Control } from "./Control.js"

/** How the daily DM limit is checked after a pause: a run probes at once, a watcher at the assumed reset. */
export type Mode = "run" | "watch"

/** A watcher still paused at the daily limit after its assumed reset checks again this often. */
export const probeInterval = Duration.minutes(15)

/** The start of the next UTC day: when the profile's own daily count starts over. */
export const nextUtcDay = (now: number): Date => {
  const date = new Date(now)
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1))
}

/** Why sends pause: this run's send (`answer`) or probe (`probe`), another runner (`budget`), the profile's own cap. */
export type Cause = "answer" | "probe" | "budget" | "cap"

/** Whether the next person may be sent to now, probe whether the platform accepts again, or stays pending. */
export type Turn = "send" | "probe" | "hold"

const capDetail = "the profile's own daily DM limit is reached (counted by every runner)"

export class Gate {
  // Plain fields, read before every attempt: a Ref would cost more than the read.
  private pause: { readonly probeAt: number | undefined } | undefined = undefined
  /** Completes when the probe in flight has its answer; the senders waiting for it then look again. */
  private probing: Deferred.Deferred<void> | undefined = undefined
  /** Whether the run met the limit and it has not lifted since: the outcome is then `daily_limit` if it held anyone. */
  hit = false
  /**
   * Whether a read was answered with the limit since it last lifted: a post not read to its end is not done, so the
   * outcome is `daily_limit` even with nobody pending.
   */
  cutRead = false

  constructor(
    private readonly options: {
      readonly campaign: string
      readonly dailyReset: CampaignSpec.DailyReset
      readonly mode: Mode
      readonly emit: (event: Event) => Effect.Effect<void>
      readonly control: Control
      readonly budget: DailyBudget.Service | undefined
    }
  ) {}

  /** Whether sends are paused (a probe may still go). */
  get paused(): boolean {
    return this.pause !== undefined
  }

  /** When a watcher paused at the daily limit checks again with one real message, if it is paused. */
  readonly nextProbeAt: Effect.Effect<number | undefined> = Effect.sync(() => this.pause?.probeAt)

  /**
   * Pauses sends. A run probes at once only when it learned of the limit from another runner; a watcher probes at the
   * assumed reset, then every 15 minutes.
   */
  pauseAt(detail: string, cause: Cause, reachedAt?: number): Effect.Effect<void> {
    const { dailyReset, emit, mode } = this.options
    return Effect.gen(this, function*() {
      const now = yield* Clock.currentTimeMillis
      const reset = cause === "cap"
        ? nextUtcDay(now).getTime()
        : CampaignSpec.assumedReset(dailyReset, reachedAt ?? now)
      const probeAt = mode === "run"
        ? (cause === "budget" ? now : undefined)
        : cause === "probe"
        ? now + Duration.toMillis(probeInterval)
        : reset
      const known = this.pause !== undefined
      this.pause = { probeAt }
      // A run that learned of the limit from another runner says nothing until its probe has an answer.
      if (mode === "run" && cause === "budget") return
      const wasHit = this.hit
      this.hit = true
      if (wasHit && known && cause !== "probe") return
      yield* emit(Event.DailyLimit({ detail, resumesAt: new Date(probeAt ?? reset) }))
    })
  }

  /** The platform answered a read with the daily limit: the read ends there, and sends pause. */
  readAnswered(detail: string): Effect.Effect<void> {
    return Effect.zipRight(Effect.sync(() => (this.cutRead = true)), this.pauseAt(detail, "answer"))
  }

  /** The platform answered a send (or probe) with the daily limit: pause, and tell the profile's other runners. */
  limitAnswered(detail: string, probe: boolean): Effect.Effect<void> {
    const tell = this.options.budget === undefined ? Effect.void : Effect.ignore(this.options.budget.markExhausted)
    return Effect.zipRight(this.pauseAt(detail, probe ? "probe" : "answer"), tell)
  }

  /** The probe's message was accepted: the platform's day started over, for every runner of the profile. */
  readonly lift: Effect.Effect<void> = Effect.suspend(() => {
    this.pause = undefined
    this.hit = false
    this.cutRead = false
    const tell = this.options.budget === undefined ? Effect.void : Effect.ignore(this.options.budget.markLifted)
    return Effect.zipRight(tell, this.options.emit(Event.DailyLimitLifted({ campaign: this.options.campaign })))
  })

  /** Counts an accepted DM for the profile; at the profile's own cap, sends pause. */
  readonly countSent: Effect.Effect<void, Ledger.LedgerError> = Effect.suspend(() => {
    const budget = this.options.budget
    if (budget === undefined) return Effect.void
    return Effect.flatMap(budget.recordSent, (capped) => capped ? this.pauseAt(capDetail, "cap") : Effect.void)
  })

  /** Whether what the profile's runners know of the daily limit pauses sends now (and pauses them if so). */
  private readonly pausedByBudget: Effect.Effect<boolean, Ledger.LedgerError> = Effect.suspend(() => {
    const budget = this.options.budget
    if (budget === undefined) return Effect.succeed(false)
    return Effect.gen(this, function*() {
      const status = yield* budget.status
      if (status.capReached) {
        yield* this.pauseAt(capDetail, "cap")
        return true
      }
      const reachedAt = status.limitReachedAt?.getTime()
      if (reachedAt === undefined) return false
      if ((yield* Clock.currentTimeMillis) >= CampaignSpec.assumedReset(this.options.dailyReset, reachedAt)) {
        return false
      }
      yield* this.pauseAt("another runner of this profile reached the daily DM limit", "budget", reachedAt)
      return true
    })
  })

  /**
   * Whether the next person may be sent to now: `send`; `probe` (paused at the daily limit, and this send checks
   * whether the platform accepts again, while the others wait for its answer); or `hold` (they stay pending).
   */
  readonly turn: Effect.Effect<Turn, Ledger.LedgerError> = Effect.suspend(() => {
    return Effect.gen(this, function*() {
      while (true) {
        if (yield* this.options.control.halted) return "hold"
        if (this.probing !== undefined) {
          yield* Deferred.await(this.probing)
          continue
        }
        if (this.pause === undefined) {
          if (yield* this.pausedByBudget) continue
          return "send"
        }
        const probeAt = this.pause.probeAt
        if (probeAt === undefined || (yield* Clock.currentTimeMillis) < probeAt) return "hold"
        this.probing = yield* Deferred.make<void>()
        return "probe"
      }
    })
  })

  /** The probe has its answer (or none: the next sender probes instead); the waiting senders look again. */
  readonly probeDone: Effect.Effect<void> = Effect.suspend(() => {
    const done = this.probing
    this.probing = undefined
    return done === undefined ? Effect.void : Deferred.succeed(done, undefined)
  })
}
