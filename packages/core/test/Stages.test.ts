/**
 * The engine's stages one at a time, with test services only (no HTTP, the TestClock): recording folds results into
 * counts and events, the poll intervals back off on rate limits, the control halts on a stop or a streak of
 * unrecognised refusals, and the daily-limit gate holds, probes and lifts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Either, Schedule, TestClock } from "effect"
import * as Control from "../src/campaign/Control.js"
import * as DailyLimit from "../src/campaign/DailyLimit.js"
import * as Polling from "../src/campaign/Polling.js"
import * as Recording from "../src/campaign/Recording.js"
import * as Ledger from "../src/Ledger.js"
import type * as Run from "../src/Run.js"
import * as StopSignal from "../src/StopSignal.js"
import * as Errors from "../src/UploadPostError.js"

const person = { userId: "u1", username: "ada" }

const collecting = () => {
  const events: Array<Run.Event> = []
  return { events, emit: (event: Run.Event) => Effect.sync(() => void events.push(event)) }
}

const ending: Recording.Ending = {
  rehearsal: false,
  stoppedOnRequest: false,
  interrupted: false,
  dailyLimitHit: false,
  dailyLimitCutRead: false,
  passCut: false
}

describe("Recording", () => {
  it.effect("folds each person's result into the counts and tells it as an event", () =>
    Effect.gen(function*() {
      const { emit, events } = collecting()
      const recorder = new Recording.Recorder("spring", emit, 0)
      const told = { _tag: "Settled", person, post: "p1", message: "Hi" } as const
      yield* recorder.record({ ...told, settlement: Ledger.Settlement.Sent({ messageId: "m1", at: new Date(0) }) })
      yield* recorder.record({ ...told, settlement: Ledger.Settlement.Pending({ reason: "later" }) })
      yield* recorder.record({ _tag: "ClaimedElsewhere" })
      yield* recorder.record({ _tag: "HeldByCap" })
      yield* recorder.report("a problem")
      yield* recorder.report("a problem")
      assert.deepStrictEqual(events.map((event) => event._tag), ["Sent", "Postponed", "Problem"])
      const progress = recorder.progress()
      assert.deepStrictEqual([progress.sent, progress.pending, progress.skipped], [1, 1, 1])
      const totals = { ...Ledger.noCounts(), sent: 1, pending: 1, claimed: 1 }
      const summary = yield* recorder.summary(Effect.succeed({ totals, unrecorded: 0 }), ending)
      assert.deepStrictEqual([summary.counts.held_by_cap, summary.counts.claimed_elsewhere], [1, 1])
      assert.deepStrictEqual(summary.problems, ["a problem"])
      assert.strictEqual(summary.outcome, "failed")
    }))

  it("the folds are pure: a page, a lookup and each result make a new tally and leave the old one as it was", () => {
    const settled = (settlement: Ledger.Settlement, path?: Ledger.MessagePath): Recording.Result => ({
      _tag: "Settled",
      person,
      post: "p1",
      message: "Hi",
      path,
      settlement
    })
    const start = Recording.emptyTally
    const paged = Recording.addPage(start, { comments: 3, dropped: ["no user id", "no user id"] })
    assert.deepStrictEqual([paged.comments, paged.dropped], [3, { "no user id": 2 }])
    assert.deepStrictEqual([start.comments, start.dropped], [0, {}])
    const looked = Recording.addLookup(paged, { matched: 2, fresh: 1, alreadySent: 1, claimedElsewhere: 0 })
    assert.deepStrictEqual([looked.matched, looked.fresh, looked.alreadySent], [2, 1, 1])
    const sent = settled(Ledger.Settlement.Sent({ messageId: "m", at: new Date(0) }))
    assert.strictEqual(Recording.addResult(looked, sent, false).sent, 1)
    assert.deepStrictEqual(
      [Recording.addResult(looked, sent, true).wouldSend, Recording.addResult(looked, sent, true).sent],
      [1, 0],
      "a rehearsal's send is one the run would make"
    )
    const skipped = settled(Ledger.Settlement.Skipped({ reason: "window_closed" }))
    const afterSkip = Recording.addResult(looked, skipped, false)
    assert.deepStrictEqual([afterSkip.refused, afterSkip.passedOver], [0, 1], "a skip is no refusal")
    assert.deepStrictEqual(afterSkip.skippedReasons, { window_closed: 1 })
    const byDm = Recording.addResult(
      looked,
      settled(Ledger.Settlement.Sent({ messageId: "m", at: new Date(0) }), "dm"),
      false
    )
    assert.deepStrictEqual(byDm.sentPaths, { dm: 1 })
    assert.strictEqual(Recording.addResult(looked, { _tag: "Held" }, false), looked, "a held person changes nothing")
  })

  it("decides the outcome from the counts and how the run ended", () => {
    const counts = (pending: number, inDoubt = 0) =>
      ({
        comments: 0,
        dropped: 0,
        matched: 0,
        new: 0,
        sent: 0,
        already_sent: 0,
        refused: 0,
        skipped: 0,
        expired: 0,
        suppressed: 0,
        pending,
        in_doubt: inDoubt,
        claimed_elsewhere: 0,
        would_send: 0,
        held_by_cap: 0,
        reconciled: 0,
        unrecorded: 0
      }) satisfies Run.Counts
    assert.strictEqual(Recording.outcomeOf(counts(0), 0, ending), "completed")
    assert.strictEqual(Recording.outcomeOf(counts(0, 1), 0, ending), "incomplete")
    assert.strictEqual(Recording.outcomeOf(counts(0), 0, { ...ending, passCut: true }), "incomplete")
    assert.strictEqual(Recording.outcomeOf(counts(2), 0, { ...ending, dailyLimitHit: true }), "daily_limit")
    assert.strictEqual(Recording.outcomeOf(counts(0), 0, { ...ending, dailyLimitHit: true }), "completed")
    // A post not read to its end because of the daily limit is not done, even with nobody pending.
    const cutRead = { ...ending, dailyLimitHit: true, dailyLimitCutRead: true, passCut: true }
    assert.strictEqual(Recording.outcomeOf(counts(0), 0, cutRead), "daily_limit")
    assert.strictEqual(
      Recording.outcomeOf(counts(2), 0, { ...ending, stoppedOnRequest: true, interrupted: true }),
      "interrupted"
    )
    // A problem met after a stop request does not make the run fail: the stop says why it ended.
    assert.strictEqual(
      Recording.outcomeOf(counts(2), 1, { ...ending, stoppedOnRequest: true, interrupted: true }),
      "interrupted"
    )
    assert.strictEqual(Recording.outcomeOf(counts(0), 0, { ...ending, rehearsal: true }), "dry_run")
  })
})

describe("Polling.intervals", () => {
  it.effect("doubles while reads are rate-limited, up to the longest, and starts over after a read that went through", () =>
    Effect.gen(function*() {
      const driver = yield* Schedule.driver(Polling.intervals(Duration.seconds(10), Duration.seconds(35)))
      const limited: Polling.PollRead = Either.left(
        new Errors.RateLimited({ endpoint: "GET /comments", retryAfter: Duration.seconds(1), detail: "slow down" })
      )
      const failed: Polling.PollRead = Either.left(new Errors.Transient({ endpoint: "GET /comments", detail: "502" }))
      const steps: Array<number> = []
      for (const read of [limited, limited, failed, limited, limited, Either.right(undefined), failed]) {
        steps.push(Duration.toSeconds(yield* driver.next(read)))
      }
      assert.deepStrictEqual(steps, [20, 35, 35, 35, 35, 10, 10])
    }))
})

describe("Control", () => {
  it.scoped("a stop request halts sending, once, with a Stopping event", () =>
    Effect.gen(function*() {
      const { emit, events } = collecting()
      const stop = yield* Deferred.make<void>()
      const control = yield* Effect.provide(
        Control.make(emit),
        StopSignal.layer({ interrupt: Deferred.await(stop) })
      )
      assert.isFalse(yield* control.halted)
      yield* Deferred.succeed(stop, undefined)
      yield* control.stopSignal
      assert.isTrue(yield* control.halted)
      assert.isTrue(control.interrupted)
      assert.deepStrictEqual(events.map((event) => event._tag), ["Stopping"])
    }))

  it.scoped("a streak of unrecognised refusals is fatal; any other answer ends the streak", () =>
    Effect.gen(function*() {
      const control = yield* Control.make(() => Effect.void)
      const refusal = new Errors.UnrecognisedRefusal({ endpoint: "POST /dms/send", status: 400, detail: "odd" })
      for (let n = 1; n < Control.unrecognisedRefusalsToStop; n++) control.noteAnswer(refusal)
      control.noteAnswer(undefined)
      for (let n = 1; n < Control.unrecognisedRefusalsToStop; n++) control.noteAnswer(refusal)
      assert.isFalse(yield* control.halted)
      control.noteAnswer(refusal)
      assert.isTrue(yield* control.halted)
      const error = yield* Effect.flip(control.failIfFatal)
      assert.strictEqual(error._tag, "UnrecognisedRefusals")
    }))
})

describe("DailyLimit.Gate", () => {
  const noon = Date.UTC(2026, 5, 1, 12)

  const gateFor = (mode: DailyLimit.Mode) =>
    Effect.gen(function*() {
      const { emit, events } = collecting()
      const control = yield* Control.make(emit)
      const gate = new DailyLimit.Gate({
        campaign: "spring",
        dailyReset: { _tag: "UtcTime", minutes: 0 },
        mode,
        emit,
        control,
        budget: undefined
      })
      return { gate, events }
    })

  it.scoped("a watcher holds sends until the assumed reset, then lets one probe through while the others wait", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(noon)
      const { events, gate } = yield* gateFor("watch")
      assert.strictEqual(yield* gate.turn, "send")
      yield* gate.limitAnswered("Daily DM limit exceeded.", false)
      assert.isTrue(gate.hit)
      assert.strictEqual(yield* gate.turn, "hold")
      assert.strictEqual(yield* gate.nextProbeAt, DailyLimit.nextUtcDay(noon).getTime())
      yield* TestClock.adjust(Duration.hours(12))
      assert.strictEqual(yield* gate.turn, "probe")
      // Another sender waits for the probe's answer, then sends once the limit lifted.
      const waiting = yield* Effect.fork(gate.turn)
      yield* gate.lift
      yield* gate.probeDone
      assert.strictEqual(yield* waiting.await.pipe(Effect.flatten), "send")
      assert.isFalse(gate.hit)
      assert.deepStrictEqual(events.map((event) => event._tag), ["DailyLimit", "DailyLimitLifted"])
    }))

  it.scoped("a run holds everyone after the limit: it never probes by itself", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(noon)
      const { gate } = yield* gateFor("run")
      yield* gate.limitAnswered("Daily DM limit exceeded.", false)
      yield* TestClock.adjust(Duration.days(2))
      assert.strictEqual(yield* gate.turn, "hold")
      assert.strictEqual(yield* gate.nextProbeAt, undefined)
    }))
})
