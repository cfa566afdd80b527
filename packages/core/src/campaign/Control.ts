/**
 * Whether a run may still start requests: the one place that answers "are we halted?". A stop request (the
 * `StopSignal`) or a fatal answer (a bad request or key, a streak of unrecognised refusals) halts it; sends in flight
 * still settle.
 */
import { Deferred, Effect, Option } from "effect"
import { Event } from "../Run.js"
import * as StopSignal from "../StopSignal.js"
import * as Errors from "../UploadPostError.js"

/** Answers no row of the error table recognises, in a row, that stop the run. */
export const unrecognisedRefusalsToStop = 5

export type Fatal = Errors.InvalidRequest | Errors.Unauthorized | Errors.UnrecognisedRefusals

export class Control {
  /** Whether the stop was an interruption (SIGINT), rather than a wrap-up that judges the outcome by what is left. */
  interrupted = false
  /**
   * Whether a pass was cut short (by a stop, or a read answered with the daily limit): people on pages not read are
   * not in the ledger, so not all are settled.
   */
  private cut = false
  // Plain fields: they are read before every attempt, and a Ref would cost more than the read.
  private fatal: Fatal | undefined = undefined
  /** Sends refused in a row with answers the error table does not recognise. */
  private unrecognisedInARow = 0

  /** Completes when a stop is asked for. */
  readonly stopSignal: Effect.Effect<void>
  readonly isStopped: Effect.Effect<boolean>
  /** No new request may start: a stop was asked for, or a fatal error came. */
  readonly halted: Effect.Effect<boolean>
  /** Whether the stop the pass met cut it short; a pass asks once it has ended. */
  readonly notePassEnd: Effect.Effect<void>

  constructor(stopped: Deferred.Deferred<void>) {
    // Made once: they are asked before every attempt.
    this.stopSignal = Deferred.await(stopped)
    this.isStopped = Deferred.isDone(stopped)
    this.halted = Effect.map(this.isStopped, (stopped) => stopped || this.fatal !== undefined)
    this.notePassEnd = Effect.flatMap(this.isStopped, (stopped) =>
      Effect.sync(() => {
        this.cut ||= stopped
      }))
  }

  get passCut(): boolean {
    return this.cut
  }

  readonly cutPass: Effect.Effect<void> = Effect.sync(() => {
    this.cut = true
  })

  readonly failIfFatal: Effect.Effect<void, Fatal> = Effect.suspend(() =>
    this.fatal === undefined ? Effect.void : Effect.fail(this.fatal)
  )

  halt(error: Fatal): void {
    this.fatal ??= error
  }

  /** Counts answers no row of the error table recognises; a streak of them is fatal, any other answer ends it. */
  noteAnswer(error: Errors.SendError | undefined): void {
    if (error?._tag !== "UnrecognisedRefusal") {
      this.unrecognisedInARow = 0
      return
    }
    this.unrecognisedInARow++
    if (this.unrecognisedInARow >= unrecognisedRefusalsToStop) {
      this.halt(new Errors.UnrecognisedRefusals({ count: this.unrecognisedInARow, last: error }))
    }
  }
}

/** The run's control, listening to its `StopSignal` (if any) for as long as the scope lives. */
export const make = (emit: (event: Event) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const stopped = yield* Deferred.make<void>()
    const control = new Control(stopped)
    const signal = yield* Effect.serviceOption(StopSignal.StopSignal)
    const stopOn = (request: Effect.Effect<string>, interruption: boolean) =>
      Effect.forkScoped(Effect.gen(function*() {
        const reason = yield* request
        // An interruption after a wrap-up still makes the run end as interrupted.
        control.interrupted ||= interruption
        if (yield* Deferred.isDone(stopped)) return
        yield* emit(Event.Stopping({ reason }))
        yield* Deferred.succeed(stopped, undefined)
      }))
    if (Option.isSome(signal)) {
      yield* stopOn(Effect.as(signal.value.interrupt, "stop requested"), true)
      yield* stopOn(signal.value.wrapUp, false)
    }
    return control
  })
