/**
 * The fault matrix: the command against a sandbox that misbehaves one way at a time. Each scenario ends with nobody
 * sent twice (the sandbox's deliveries), every matching commenter accounted for (the ledger, `status`), and the exit
 * code the command documents.
 */
import { Ledger } from "@comment-dm/core"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { jsonSummary } from "./support/cli.js"
import { assertAccounted, assertSettled, turnTheDay } from "./support/crash-checks.js"
import * as Stage from "./support/crash-stage.js"
import * as World from "./support/crash-world.js"

/** About 45 matching commenters on one post of 120 comments. */
const smallWorld = (seed: number) => World.make({ seed, posts: 1, commentsPerPost: 120, people: 70 })

/** Reconciliation leaves claims younger than this in doubt (the conversation may not list the message yet). */
const reconcileSettleTime = Duration.seconds(5)

const waitUntilReconcilable = (since: number) =>
  Effect.sleep(Duration.millis(Math.max(0, since + Duration.toMillis(reconcileSettleTime) - Date.now())))

const statesOf = (entries: ReadonlyArray<Ledger.LedgerEntry>): Record<Ledger.DeliveryState, number> => {
  const counts = Ledger.noCounts()
  for (const entry of entries) counts[entry.state]++
  return counts
}

describe("fault matrix", () => {
  it.scopedLive(
    "500 bursts on reads and sends are retried; what is still failing stays pending and is sent next run",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: smallWorld(101), faults: { readErrorRate: 0.15, sendErrorRate: 0.3 } })
        const first = yield* stage.cli("run", "--json")
        assert.include([0, 5], first.code, first.stderr)
        const stats = yield* stage.sandbox.stats
        assert.isAbove(stats.responses["500"] ?? 0, 0, "the sandbox answered with 500s")
        const afterFirst = yield* stage.entries
        assertAccounted(stage.world, afterFirst, yield* stage.sandbox.deliveries, "after the 500s")
        // A 500 means the server failed the request: never in doubt, only pending (retries exhausted) or done.
        assert.strictEqual(statesOf(afterFirst).in_doubt, 0)
        assert.strictEqual(
          first.code === 0,
          statesOf(afterFirst).pending === 0,
          "exit 5 exactly when someone is pending"
        )

        yield* stage.sandbox.setFaults({ readErrorRate: 0, sendErrorRate: 0 })
        const sendsBefore = yield* stage.sendRequests
        const second = yield* stage.cli("run", "--json")
        assert.strictEqual(second.code, 0, second.stderr)
        // Pending people are retried; sent and refused ones are never asked for again.
        assert.strictEqual((yield* stage.sendRequests) - sendsBefore, statesOf(afterFirst).pending)
        assertSettled(stage.world, yield* stage.entries, yield* stage.sandbox.deliveries, "after the rerun")
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "latency spikes up to 800 ms and a request-rate limit answered with 429 and Retry-After are waited out: the run " +
      "completes, nobody pending",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({
          world: smallWorld(102),
          faults: { latency: { minMs: 0, maxMs: 800 }, requestLimit: { requests: 12, windowSeconds: 1 } },
          campaign: { concurrency: 8 }
        })
        const result = yield* stage.cli("run", "--json")
        assert.strictEqual(result.code, 0, result.stderr)
        const stats = yield* stage.sandbox.stats
        assert.isAbove(stats.responses["429"] ?? 0, 0, "the sandbox answered with 429s")
        const summary = jsonSummary(result)
        assert.strictEqual(summary.outcome, "completed")
        assert.strictEqual(summary.counts.pending, 0)
        assertSettled(stage.world, yield* stage.entries, yield* stage.sandbox.deliveries, "slow and rate-limited")
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "the daily DM cap in the middle of a run stops it with exit 3 and keeps the rest pending; a rerun the same day " +
      "probes with one real message and stops again; the next day the rest is sent",
    () =>
      Effect.gen(function*() {
        const cap = 12
        const stage = yield* Stage.make({ world: smallWorld(104), faults: { dailyDmLimit: cap } })
        const first = yield* stage.cli("run", "--json")
        assert.strictEqual(first.code, 3, first.stderr)
        const summary = jsonSummary(first)
        assert.strictEqual(summary.outcome, "daily_limit")
        assert.strictEqual((yield* stage.sandbox.deliveries).length, cap)
        const afterCap = yield* stage.entries
        assertAccounted(stage.world, afterCap, yield* stage.sandbox.deliveries, "at the cap")
        const states = statesOf(afterCap)
        assert.strictEqual(states.sent, cap)
        assert.strictEqual(states.in_doubt, 0, "a 429 is an answer: nobody is in doubt")
        assert.isAbove(states.pending, 0)
        assert.isTrue(
          afterCap.some((entry) => entry.state === "pending" && /daily DM limit/.test(entry.reason ?? "")),
          "the person the platform turned away says why"
        )
        assert.strictEqual(summary.counts.pending, states.pending)

        // The ledger remembers the limit; a rerun the same day checks it with one pending person's real message, and
        // stops again while the platform still says the limit.
        const sendsBefore = yield* stage.sendRequests
        const sameDay = yield* stage.cli("run", "--json")
        assert.strictEqual(sameDay.code, 3, sameDay.stderr)
        assert.strictEqual((yield* stage.sendRequests) - sendsBefore, 1, "one probe the same day")
        assert.strictEqual((yield* stage.sandbox.deliveries).length, cap)

        assert.strictEqual(jsonSummary(sameDay).outcome, "daily_limit")
        assert.strictEqual(jsonSummary(sameDay).counts.pending, states.pending)

        yield* turnTheDay(stage.db)
        yield* stage.sandbox.setFaults({ dailyDmLimit: 500 })
        const sendsBeforeNextDay = yield* stage.sendRequests
        const nextDay = yield* stage.cli("run", "--json")
        assert.strictEqual(nextDay.code, 0, nextDay.stderr)
        assert.strictEqual(
          (yield* stage.sendRequests) - sendsBeforeNextDay,
          states.pending,
          "only pending people are sent"
        )
        assertSettled(stage.world, yield* stage.entries, yield* stage.sandbox.deliveries, "the next day")
        stage.assertNothingLeaked()
      }),
    { timeout: 180_000 }
  )

  it.scopedLive(
    "connections reset after delivery leave people in doubt; while the conversations fail they stay in doubt " +
      "(exit 5, never resent); once they answer, the next run reconciles them instead of sending again",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({
          world: smallWorld(105),
          faults: { resetAfterDeliveryRate: 0.3, conversationsFailing: true }
        })
        const first = yield* stage.cli("run", "--json")
        const firstEnded = Date.now()
        assert.strictEqual(first.code, 5, first.stderr)
        const resets = (yield* stage.sandbox.stats).responses["reset"] ?? 0
        assert.isAbove(resets, 0, "the sandbox reset connections")
        const inDoubt = (yield* stage.entries).filter((entry) => entry.state === "in_doubt").map((entry) =>
          entry.userId
        )
        // Each reset connection is one person in doubt: the request went out, the answer never came.
        assert.strictEqual(inDoubt.length, resets)
        assert.strictEqual(jsonSummary(first).counts.in_doubt, resets)
        assertAccounted(stage.world, yield* stage.entries, yield* stage.sandbox.deliveries, "after the resets")

        // The conversations still fail: nobody in doubt is resolved, and nobody in doubt is sent again.
        yield* stage.sandbox.setFaults({ resetAfterDeliveryRate: 0 })
        yield* waitUntilReconcilable(firstEnded)
        const sendsBefore = yield* stage.sendRequests
        const second = yield* stage.cli("run", "--json")
        assert.strictEqual(second.code, 5, second.stderr)
        assert.strictEqual(jsonSummary(second).outcome, "incomplete")
        assert.strictEqual(jsonSummary(second).counts.in_doubt, resets)
        assert.strictEqual(jsonSummary(second).counts.reconciled, 0)
        assert.strictEqual((yield* stage.sendRequests) - sendsBefore, 0, "people in doubt are never resent blindly")

        const status = yield* stage.cli("status", "--json")
        assert.strictEqual(status.code, 0, status.stderr)
        const report = JSON.parse(status.stdout)
        assert.strictEqual(report.unaccounted, 0)
        assert.strictEqual(report.counts.in_doubt, resets)
        assert.deepStrictEqual(
          report.in_doubt.map((person: { user_id: string }) => person.user_id).sort(),
          inDoubt.slice(0, 20).sort()
        )
        assert.match(report.next, /reconcile \d+ people in doubt/)

        // The conversations answer again: the next run finds every message and sends nothing.
        yield* stage.sandbox.setFaults({ conversationsFailing: false })
        const third = yield* stage.cli("run", "--json")
        assert.strictEqual(third.code, 0, third.stderr)
        assert.strictEqual(jsonSummary(third).counts.reconciled, resets)
        assert.strictEqual(jsonSummary(third).counts.sent, 0)
        assert.strictEqual((yield* stage.sendRequests) - sendsBefore, 0)
        assertSettled(stage.world, yield* stage.entries, yield* stage.sandbox.deliveries, "after reconciliation")
        stage.assertNothingLeaked()
      }),
    { timeout: 180_000 }
  )
})
