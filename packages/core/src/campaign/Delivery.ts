/**
 * Delivery: one person's message, from their turn to their settlement. The turn (the stop request, the daily limit,
 * `max_sends`) -> claim (durable, before any request) -> for each attempt: confirm the claim -> wait for the pace ->
 * confirm again if the wait was long -> send -> a returned `Settlement` -> settle (durable) and record.
 *
 * From the claim on, the person is settled whatever happens: an interruption only cuts the waits short. An attempt
 * that has started is never abandoned, and an interruption between attempts settles from what the last attempt said.
 */
import type { Duration } from "effect"
import { Clock, Effect, Exit, Option } from "effect"
import type * as CampaignSpec from "../CampaignSpec.js"
import * as Ledger from "../Ledger.js"
import type * as Pacer from "../Pacer.js"
import * as RequestBudget from "../RequestBudget.js"
import * as Retry from "../Retry.js"
import type * as Sender from "../Sender.js"
import type * as UploadPost from "../UploadPost.js"
import type * as Errors from "../UploadPostError.js"
import type { Control } from "./Control.js"
import type { Gate } from "./DailyLimit.js"
import * as OptOut from "./OptOut.js"
import * as Period from "./Period.js"
import type { Recorder, Result } from "./Recording.js"
import * as ReplyRetry from "./ReplyRetry.js"
import * as Step from "./Step.js"
import type { Target } from "./Step.js"

export interface Deliverer {
  readonly spec: CampaignSpec.CampaignSpec
  /** Makes the requests (or, in a dry run, only tells of them). */
  readonly sender: Sender.Service
  readonly ledger: Ledger.Service
  readonly recorder: Recorder
  readonly control: Control
  readonly gate: Gate
  readonly pacer: Pacer.Service
  readonly retry: Retry.RetryPolicy
  readonly runner: string
  readonly lease: Duration.DurationInput
  /** How long after its claim a first attempt needs no confirmation: far below any lease. */
  readonly freshClaimMillis: number
  /** At most `concurrency` requests in flight; as many more workers claim the next people meanwhile. */
  readonly permits: Effect.Semaphore
  readonly maxSends: number | undefined
  /** Sends started by this run, against `maxSends`. */
  readonly started: { count: number }
  readonly names: StepNames
  /** The campaign version the claims are made under, once the run has recorded it (see `Engine.open`). */
  readonly version: { current: number | undefined }
  /** The earliest comment time the campaign considers (`since`), once the run has opened the campaign. */
  readonly cutoff?: { readonly current: number | undefined } | undefined
}

type Named = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/** Names the per-person steps (a span each), or leaves them as they are. */
export interface StepNames {
  readonly claim: Named
  readonly send: Named
  readonly settle: Named
}

const unnamed: Named = (effect) => effect
export const untraced: StepNames = { claim: unnamed, send: unnamed, settle: unnamed }

const named = (name: string): Named => (effect) => Effect.withSpan(effect, name, { captureStackTrace: false })
const traced: StepNames = {
  claim: named("Delivery.claim"),
  send: named("Delivery.send"),
  settle: named("Delivery.settle")
}

/** The tracer a program has when nobody installed one: its spans are seen nowhere. */
const defaultTracer = Effect.runSync(Effect.tracer)

/**
 * The per-person steps are spans only when the run has a tracer of its own (an exporter): with the default tracer
 * nobody sees them, and a span costs about 14 µs a call even without Effect.fn's stack capture (about 16 µs with it),
 * several percent of a DM's whole cost at zero latency (bench/Overhead.ts).
 */
export const stepNames: Effect.Effect<StepNames> = Effect.map(
  Effect.tracer,
  (tracer) => tracer === defaultTracer ? untraced : traced
)

/** Makes a part of an uninterruptible region interruptible again (from `Effect.uninterruptibleMask`). */
type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

const interruptedBeforeRequest = Ledger.Settlement.Pending({ reason: "interrupted before the request was made" })
const stoppedBeforeRequest = Ledger.Settlement.Pending({
  reason: "the run stopped sending before the request was made"
})

const who = (target: Target) => ({ userId: target.userId, username: target.username })

/**
 * How often one person's choice may change between their claim and their request (a DM whose window closed while it
 * waited, then a private reply): the choice only moves to later paths, so two changes are the most there can be.
 */
const mostChoices = 3

/**
 * Delivers one step to one person, when their turn comes; the result is recorded. A choice that no longer holds just
 * before the request (a DM whose window closed while it waited) releases the claim and chooses again.
 */
export const deliver = (d: Deliverer, step: Step.Step) => (target: Target): Effect.Effect<void, Ledger.LedgerError> =>
  Effect.gen(function*() {
    let person: Target | undefined = target
    for (let round = 0; person !== undefined && round < mostChoices; round++) {
      person = yield* deliverOnce(d, step, person, round > 0)
    }
  })

/**
 * One choice for the person and what follows it; succeeds with the person to choose for again, if the choice changed.
 * `again`: a later choice for the same person, who already counted against `max_sends`.
 */
const deliverOnce = (d: Deliverer, step: Step.Step, target: Target, again: boolean) =>
  Effect.gen(function*() {
    if (yield* d.control.halted) return undefined
    const message = step.render(target)
    const choice = yield* chooseWithin(d, step, target, message)
    // A settlement known before sending makes no request: the daily limit does not hold it back.
    const turn = choice._tag === "Settle" ? "send" : yield* d.gate.turn
    if (turn === "hold") return undefined
    const path = choice._tag === "Send" ? choice.path : undefined
    const paced = choice._tag === "Send" && !again ? ownPace(d, step) : Effect.succeed(true)
    const rest = Effect.flatMap(
      paced,
      (goes) =>
        goes
          ? inTurn(d, { step, target, message, path, probe: turn === "probe" }, choice, again)
          : Effect.succeed(undefined)
    )
    return yield* turn === "probe" ? Effect.ensuring(rest, d.gate.probeDone) : rest
  })

/**
 * Waits for a slot of the step's own pace, if it has one, before the claim (no send permit waits for it). Succeeds
 * with whether the person goes on: not when the slot is beyond the pass's horizon (the person stays pending for a
 * later pass) or a stop was asked for meanwhile.
 */
const ownPace = (d: Deliverer, step: Step.Step): Effect.Effect<boolean> => {
  const throttle = step.throttle
  // Past `max_sends` the person is held without a request: no slot is spent on them.
  if (throttle === undefined || (d.maxSends !== undefined && d.started.count >= d.maxSends)) {
    return Effect.succeed(true)
  }
  return Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const at = throttle.reserve(now)
    if (at === undefined) return Effect.succeed(false)
    if (at <= now) return Effect.succeed(true)
    return Effect.raceFirst(Effect.as(Effect.sleep(at - now), true), Effect.as(d.control.stopSignal, false))
  })
}

/**
 * The step's choice, within the campaign's period: a first message not sent by its end (`until`) ends expired, and
 * one whose comment is older than `since` (a row recorded before `since` was set) is skipped as `comment_too_old`,
 * judged again when the person comments again.
 */
const chooseWithin = (d: Deliverer, step: Step.Step, target: Target, message: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<Step.Choice> => {
    if (step.kind !== "first_message") return step.choose(target, message)
    const halt = Period.haltAt(d.spec, now)
    if (halt?._tag === "Ended") {
      return Effect.succeed({
        _tag: "Settle",
        settlement: Ledger.Settlement.Expired({ reason: Period.endedReason(halt.at) })
      })
    }
    const cutoff = d.cutoff?.current
    return cutoff !== undefined && target.commentTime !== undefined && target.commentTime.getTime() < cutoff
      ? Effect.succeed({ _tag: "Settle", settlement: Ledger.Settlement.Skipped({ reason: "comment_too_old" }) })
      : step.choose(target, message)
  })

/** {@link deliver} once the person's turn came: within the caps, claim, send and settle. */
const inTurn = (d: Deliverer, turn: Turn, choice: Step.Choice, again: boolean) =>
  Effect.gen(function*() {
    if (choice._tag === "Send" && !again) {
      if (d.maxSends !== undefined && d.started.count >= d.maxSends) {
        yield* d.recorder.record({ _tag: "HeldByCap" })
        return undefined
      }
      d.started.count++
    }
    return yield* Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        // Read before the claim, never after: a stall between the commit and this process seeing it must count
        // against the claim's freshness (the lease started no earlier than this).
        const claimedAt = yield* Clock.currentTimeMillis
        const claimed: Claimed = { ...turn, claimedAt }
        if (!(yield* claim(d, claimed))) {
          yield* notClaimed(d, claimed)
          return undefined
        }
        if (choice._tag === "Settle") {
          yield* settle(d, claimed, choice.settlement)
          return undefined
        }
        return yield* sendClaimed(d, claimed, restore)
      })
    )
  })

// The per-person steps are named through `names` (see `stepNames`); the per-run and per-page steps are named spans.
const claim = (d: Deliverer, { message, path, step, target }: Claimed): Effect.Effect<boolean, Ledger.LedgerError> =>
  d.names.claim(
    d.ledger.claim(Step.keyOf(step, target), {
      message,
      path,
      campaignVersion: d.version.current,
      inDoubt: target.retryInDoubt,
      runner: d.runner,
      lease: d.lease
    })
  )

/**
 * Sends to a claimed person and settles the outcome, holding one of the `concurrency` send permits from the first
 * attempt to the settlement (a person claimed ahead waits here for one). Waiting for a permit can be interrupted, like
 * the waits for the pace; the person is then released.
 */
const sendClaimed = (
  d: Deliverer,
  claimed: Claimed,
  restore: Restore
): Effect.Effect<Target | undefined, Ledger.LedgerError> =>
  Effect.flatMap(Effect.exit(restore(d.permits.take(1))), (permit) =>
    Exit.isFailure(permit)
      ? Effect.as(settle(d, claimed, interruptedBeforeRequest), undefined)
      : Effect.ensuring(
        Effect.flatMap(attempts(d, claimed, restore), (ended) => conclude(d, claimed, ended)),
        d.permits.release(1)
      ))

/** A person's turn for a step. `probe`: at the daily limit, this send checks whether the platform accepts again. */
interface Turn {
  readonly step: Step.Step
  readonly target: Target
  readonly message: string
  /** The path chosen, recorded by the claim. */
  readonly path: Ledger.MessagePath | undefined
  readonly probe: boolean
}

/** A person claimed for a step. `claimedAt`: read just before the claim's statement. */
interface Claimed extends Turn {
  readonly claimedAt: number
}

/**
 * Why the attempts ended without an answer to retry: the claim was lost, the run stopped sending first, or the choice
 * made at the claim no longer holds (a DM whose window closed while it waited for its slot).
 */
type Cut = "lost" | "halted" | "changed"

/**
 * The attempts of one claimed send, as many as the retry policy allows. Each is confirmed first: a runner that
 * stalled past its lease may have lost the person to another runner's recovery, and then neither sends nor settles. A
 * claim or confirmation less than a moment old (`freshClaimMillis`, timed from just before its statement, and checked
 * right before the attempt) stands for one: it cannot have expired. A retry is always confirmed anew.
 */
class Attempts {
  /** When the claim was made or last confirmed (read just before the statement). */
  confirmedAt: number
  /** Whether an attempt was made since the last confirmation: a retry always confirms first. */
  attemptedSinceConfirmed = false
  /** What the last attempt that got an answer said: the settlement when the retries end without one. */
  last: Option.Option<Exit.Exit<UploadPost.Delivered, Errors.SendError>> = Option.none()

  constructor(readonly d: Deliverer, readonly claimed: Claimed) {
    this.confirmedAt = claimed.claimedAt
  }

  /** Whether the attempt may go: `undefined` if so, else why not. */
  readonly confirm: Effect.Effect<Cut | undefined, Ledger.LedgerError> = Effect.suspend(() => {
    const { control, gate, ledger, lease, runner } = this.d
    return Effect.flatMap(control.halted, (halted) => {
      // A person claimed ahead may have waited for a send permit while the run was asked to stop or paused.
      if (halted || (gate.paused && !this.claimed.probe)) return Effect.succeed("halted" as const)
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (!this.attemptedSinceConfirmed && now - this.confirmedAt < this.d.freshClaimMillis) {
          return Effect.succeed(undefined)
        }
        return Effect.map(
          ledger.confirmClaim(Step.keyOf(this.claimed.step, this.claimed.target), runner, lease),
          (held) => {
            if (!held) return "lost" as const
            this.confirmedAt = now
            this.attemptedSinceConfirmed = false
            return undefined
          }
        )
      })
    })
  })

  /** The choice checked again right before the request: the same path, or the person is chosen for again. */
  readonly stillChosen: Effect.Effect<boolean> = Effect.suspend(() => {
    const { message, path, step, target } = this.claimed
    return Effect.map(step.choose(target, message), (choice) => choice._tag === "Send" && choice.path === path)
  })

  readonly send: Effect.Effect<UploadPost.Delivered, Errors.SendError> = Effect.suspend(() =>
    Effect.onExit(
      this.d.names.send(
        this.d.sender.send(this.claimed.step, this.claimed.target, this.claimed.message, this.claimed.path)
      ),
      (exit) =>
        Effect.sync(() => {
          this.last = Option.some(exit)
          this.attemptedSinceConfirmed = true
        })
    ).pipe(Effect.uninterruptible)
  )

  /**
   * One attempt: confirmed before the wait for the pace, so that the request leaves as soon as its slot comes; again
   * after it only when the wait outlasted the claim's freshness. The pacer hears of answers only: a request that
   * failed on the way says nothing of how long the way to the platform is.
   */
  readonly cycle: Effect.Effect<UploadPost.Delivered | Cut, Errors.SendError | Ledger.LedgerError> = Effect.suspend(
    () => {
      return Effect.gen(this, function*() {
        const before = yield* this.confirm
        if (before !== undefined) return before
        // A stop does not wait for a slot that may be minutes away at a slow pace: the person stays pending.
        const slot = yield* Effect.raceFirst(this.d.pacer.take, Effect.as(this.d.control.stopSignal, undefined))
        if (slot === undefined) return "halted" as const
        // And the request's place in the key's budget (see `RequestBudget.prepay`), before the claim is confirmed again;
        // a rehearsal makes no request and takes no place.
        const paid = this.d.sender.rehearsal ? unpaid : yield* Effect.raceFirst(
          RequestBudget.prepay({ priority: "send", profile: this.d.spec.user }),
          Effect.as(this.d.control.stopSignal, undefined)
        )
        if (paid === undefined) return "halted" as const
        const after = yield* this.confirm
        if (after !== undefined) return after
        if (!(yield* this.stillChosen)) return "changed" as const
        const delivered = yield* paid(this.send)
        yield* slot.answered
        return delivered
      })
    }
  )
}

/** A request that takes its place in the key's budget itself, if it makes one. */
const unpaid: RequestBudget.Paid = (self) => self

/** How the attempts of one send ended. */
interface Ended {
  readonly exit: Exit.Exit<UploadPost.Delivered | Cut, Errors.SendError | Ledger.LedgerError>
  readonly last: Option.Option<Exit.Exit<UploadPost.Delivered, Errors.SendError>>
}

const attempts = Effect.fnUntraced(function*(d: Deliverer, claimed: Claimed, restore: Restore) {
  const state = new Attempts(d, claimed)
  const exit = yield* Effect.exit(restore(Retry.retrying(state.cycle, d.retry)))
  return { exit, last: state.last } satisfies Ended
})

/**
 * What the attempts come to: the claim lost, or the settlement. The last attempt decides, also when the retries were
 * interrupted between attempts; a run that stopped sending before any attempt leaves the person pending.
 */
const settlementAfter = ({ exit, last }: Ended, now: Date): Ledger.Settlement | "lost" | "changed" => {
  if (Exit.isSuccess(exit) && (exit.value === "lost" || exit.value === "changed")) return exit.value
  if (Exit.isSuccess(exit) && exit.value === "halted" && Option.isNone(last)) return stoppedBeforeRequest
  return settlementOf(last, now)
}

/**
 * Settles what the attempts came to, and tells the run what it must know of the answer. Succeeds with the person to
 * choose for again when the choice changed (see {@link chooseAgain}).
 */
const conclude = (
  d: Deliverer,
  claimed: Claimed,
  ended: Ended
): Effect.Effect<Target | undefined, Ledger.LedgerError> =>
  Effect.gen(function*() {
    const { exit, last } = ended
    const failure = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
    if (failure?._tag === "LedgerError") return yield* failure
    const after = settlementAfter(ended, new Date(yield* Clock.currentTimeMillis))
    const settlement = typeof after === "string" ? after : Step.finalOf(claimed.step, after)
    if (settlement === "lost") {
      yield* notClaimed(d, claimed)
      return undefined
    }
    const error = Option.isSome(last) ? errorOf(last.value) : undefined
    if (Option.isSome(last)) d.control.noteAnswer(error)
    if (claimed.probe && Option.exists(last, Exit.isSuccess)) yield* d.gate.lift
    const again = settlement === "changed" || windowRefused(d, claimed, error)
    if (again) yield* release(d, claimed)
    else yield* settle(d, claimed, settlement)
    if (error?._tag === "DailyLimitReached") yield* d.gate.limitAnswered(error.detail, claimed.probe)
    if (error?._tag === "InvalidRequest" || error?._tag === "Unauthorized") d.control.halt(error)
    return again && !(yield* d.control.halted) ? chooseAgain(claimed, error !== undefined) : undefined
  })

/**
 * With `auto`, a DM the platform refused for the messaging window reached nobody: the person gets the next path
 * instead of ending refused (the conversations may have shown a message the platform does not count).
 */
const windowRefused = (d: Deliverer, claimed: Claimed, error: Errors.SendError | undefined): boolean =>
  d.spec.delivery === "auto" && claimed.path === "dm" && error?._tag === "RecipientRefused" &&
  /allowed window|messaging window|\(#10\)/i.test(error.reason)

/**
 * The person as they are chosen for again: first seen no later than this claim (so that a deadline that passes from
 * here on ends `expired`), and without the DM when the platform refused it for the window.
 */
const chooseAgain = (claimed: Claimed, dmRefused: boolean): Target => ({
  ...claimed.target,
  firstSeenAt: claimed.target.firstSeenAt ?? new Date(claimed.claimedAt),
  ...(dmRefused ? { dmRefused: true } : {})
})

/** A claim refused or lost: by the suppression list (the person is settled `suppressed`), or to another runner. */
const notClaimed = (d: Deliverer, { message, path, step, target }: Claimed) =>
  OptOut.notClaimed(d.ledger, d.recorder, Step.keyOf(step, target), {
    person: who(target),
    post: target.postId,
    message,
    path
  })

/** Gives the claim back (pending) without telling it as a result: the person is chosen for again at once. */
const release = (d: Deliverer, { step, target }: Claimed) =>
  Effect.asVoid(d.names.settle(d.ledger.settle(Step.keyOf(step, target), d.runner, choiceChanged)))

const choiceChanged = Ledger.Settlement.Pending({ reason: "the path chosen no longer held before the request" })

const errorOf = (exit: Exit.Exit<UploadPost.Delivered, Errors.SendError>): Errors.SendError | undefined =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined

/**
 * Records a settlement. The claim may have been lost while the request was in flight (a stall past the lease): the
 * row is then another runner's, and reconciliation, not this runner, says what became of the person.
 */
const settle = Effect.fnUntraced(function*(d: Deliverer, claimed: Claimed, outcome: Ledger.Settlement) {
  const { message, step, target } = claimed
  const settlement = target.retryInDoubt === true
    ? ReplyRetry.settlementOf(target, outcome, new Date(yield* Clock.currentTimeMillis))
    : outcome
  if (!(yield* d.names.settle(d.ledger.settle(Step.keyOf(step, target), d.runner, settlement)))) {
    return yield* d.recorder.record({ _tag: "ClaimedElsewhere" })
  }
  const { path } = claimed
  const result: Result = {
    _tag: "Settled",
    step: step.kind,
    person: who(target),
    post: target.postId,
    message,
    path,
    settlement
  }
  yield* d.recorder.record(result)
  if (settlement._tag === "Sent") yield* d.gate.countSent
})

/** The settlement the last attempt's answer calls for (none: interrupted before the request). */
export const settlementOf = (
  outcome: Option.Option<Exit.Exit<UploadPost.Delivered, Errors.SendError>>,
  now: Date
): Ledger.Settlement => {
  if (Option.isNone(outcome)) return interruptedBeforeRequest
  const exit = outcome.value
  if (Exit.isSuccess(exit)) return Ledger.Settlement.Sent({ messageId: exit.value.messageId, at: now })
  if (exit.cause._tag !== "Fail") {
    return Ledger.Settlement.InDoubt({ reason: "the send was interrupted while the request was in flight" })
  }
  const error = exit.cause.error
  switch (error._tag) {
    case "RecipientRefused":
      return Ledger.Settlement.Refused({ reason: error.reason })
    case "UnrecognisedRefusal":
      return Ledger.Settlement.Refused({
        reason: `${error.detail} (HTTP ${error.status}, an answer comment-dm does not recognise)`
      })
    case "SendInDoubt":
      return Ledger.Settlement.InDoubt({ reason: error.detail })
    case "DailyLimitReached":
      return Ledger.Settlement.Pending({ reason: "the daily DM limit was reached; run again after the reset" })
    case "RateLimited":
    case "Transient":
    case "InvalidRequest":
    case "Unauthorized":
      return Ledger.Settlement.Pending({ reason: error.message })
  }
}
