/**
 * The crash suite: the real `comment-dm run` in a child process, killed with SIGKILL at seeded points (while pages
 * are read, between claim and send, between send and settle), resumed, and checked against the sandbox's deliveries
 * after every kill: nobody gets two DMs, and every matching commenter is accounted for.
 *
 * The sandbox answers with latency, 500s and connections reset after delivery, so kills land inside sends in flight
 * and some sends end in doubt; the next run turns the dead process's claims into `in_doubt` and reconciles them
 * through the conversations endpoint instead of sending again.
 *
 * Seeded: `CRASH_SEED` (default 20260328) picks the data, the faults and the kill plan; `CRASH_ROUNDS` (default 2)
 * how many rounds run, round i with seed CRASH_SEED + i. A soak: `CRASH_ROUNDS=200 npx vitest run test/crash.e2e.test.ts`.
 * Kill timing depends on the machine, so a replay repeats the plan, not the exact instant.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { jsonSummary } from "./support/cli.js"
import { assertAccounted, assertConsistent, assertSettled } from "./support/crash-checks.js"
import { describeKillPoint, KillPoint, runAndKill } from "./support/crash-kill.js"
import * as Stage from "./support/crash-stage.js"
import * as World from "./support/crash-world.js"

const baseSeed = Number(process.env.CRASH_SEED ?? 20260328)
const rounds = Number(process.env.CRASH_ROUNDS ?? 2)

/** Reconciliation leaves claims younger than this in doubt (the conversation may not list the message yet). */
const reconcileSettleTime = Duration.seconds(5)

/** What the kills hit, over all rounds: printed at the end so that a soak reports its coverage. */
const figures = {
  rounds: 0,
  kills: 0,
  endedBeforeKill: 0,
  killedWhileReading: 0,
  killedWithClaimsOpen: 0,
  killedBetweenClaimAndDelivery: 0,
  killedBetweenDeliveryAndSettle: 0,
  inDoubtReconciled: 0,
  deliveries: 0,
  duplicates: 0
}

const crashRound = (seed: number) =>
  Effect.gen(function*() {
    const plan = World.prng(seed ^ 0x5eed)
    const world = World.make({ seed, posts: 2, commentsPerPost: 200 })
    const stage = yield* Stage.make({
      world,
      faults: { latency: { minMs: 20, maxMs: 120 }, sendErrorRate: 0.05, resetAfterDeliveryRate: 0.08 }
    })
    const delivered = Effect.map(stage.sandbox.stats, (stats) => stats.deliveries)
    const at = (step: string) => `seed ${seed}, ${step}`

    const kills = plan.int(2, 4)
    for (let kill = 1; kill <= kills; kill++) {
      const point = plan.next() < 0.35
        ? KillPoint.Reading({ afterMs: plan.int(0, 600) })
        : KillPoint.Sending({ deliveries: plan.int(1, 30), afterMs: plan.int(0, 120) })
      const step = at(`kill ${kill} of ${kills} (${describeKillPoint(point)})`)
      const { killed, result } = yield* runAndKill(stage.args("run", "--json"), stage.options, point, delivered)
      stage.keep(`kill ${kill}`, result)
      if (killed) {
        figures.kills++
      } else {
        // The run got there first; it must have ended like any run does.
        figures.endedBeforeKill++
        assert.include([0, 5], result.code, `${step}: ended on its own with ${result.code}: ${result.stderr}`)
        assertAccounted(world, yield* stage.entries, yield* stage.sandbox.deliveries, step)
      }
      const snapshot = assertConsistent(world, yield* stage.entries, yield* stage.sandbox.deliveries, step)
      if (killed && snapshot.known < world.matching.size) figures.killedWhileReading++
      if (killed && snapshot.claimed > 0) figures.killedWithClaimsOpen++
      if (killed && snapshot.claimed > snapshot.deliveredUnsettled) figures.killedBetweenClaimAndDelivery++
      if (killed && snapshot.deliveredUnsettled > 0) figures.killedBetweenDeliveryAndSettle++
    }

    // Right after the last kill, `status` and `export` account for every person the ledger knows, claims of the dead
    // process included, while those claims age enough to be reconciled (a claim younger than the settle time stays in
    // doubt: the conversation may not list the message yet).
    const afterKills = yield* stage.entries
    const lastKill = Date.now()
    const [status, exported] = yield* Effect.all([
      stage.cli("status", "--json"),
      stage.cli("export", "--format", "jsonl"),
      Effect.sleep(Duration.millis(Math.max(0, lastKill + Duration.toMillis(reconcileSettleTime) - Date.now())))
    ], { concurrency: "unbounded" })
    const inState = (state: string) => afterKills.filter((entry) => entry.state === state).length
    assert.strictEqual(status.code, 0, `${at("status")}: ${status.stderr}`)
    const report = JSON.parse(status.stdout)
    assert.strictEqual(report.matched, afterKills.length, at("status: matched"))
    assert.strictEqual(report.unaccounted, 0, at("status: unaccounted"))
    assert.deepStrictEqual(report.counts, {
      pending: inState("pending"),
      claimed: inState("claimed"),
      sent: inState("sent"),
      refused: inState("refused"),
      in_doubt: inState("in_doubt")
    }, at("status: counts"))
    assert.strictEqual(exported.code, 0, `${at("export")}: ${exported.stderr}`)
    const rows: Array<{ user_id: string; state: string }> = exported.stdout.split("\n").filter((line) => line !== "")
      .map((line) => JSON.parse(line))
    assert.deepStrictEqual(
      rows.map((row) => `${row.user_id} ${row.state}`).sort(),
      afterKills.map((entry) => `${entry.userId} ${entry.state}`).sort(),
      at("export: people and states")
    )

    // The resumed run, faults off: the dead process's claims and the people in doubt are reconciled, not resent;
    // pending and unseen people are sent; everyone ends sent or refused.
    yield* stage.sandbox.setFaults({ latency: { minMs: 0, maxMs: 0 }, sendErrorRate: 0, resetAfterDeliveryRate: 0 })
    const final = yield* stage.cli("run", "--json")
    assert.strictEqual(final.code, 0, `${at("resumed run")}: ${final.stderr}`)
    const finalSummary = jsonSummary(final)
    assert.strictEqual(finalSummary.outcome, "completed", at("resumed run"))
    assert.strictEqual(
      finalSummary.counts.reconciled,
      inState("in_doubt") + inState("claimed"),
      at("resumed run: reconciled")
    )
    const { already_sent = 0, in_doubt, matched, pending, refused, sent = 0 } = finalSummary.counts
    assert.deepStrictEqual(
      { matched, sent: sent + already_sent, refused, pending, in_doubt },
      {
        matched: world.matching.size,
        sent: world.matching.size - world.refused.length,
        refused: world.refused.length,
        pending: 0,
        in_doubt: 0
      },
      at("resumed run: counts")
    )

    const deliveries = yield* stage.sandbox.deliveries
    figures.inDoubtReconciled += finalSummary.counts.reconciled ?? 0
    figures.deliveries += deliveries.length
    figures.duplicates += deliveries.length - new Set(deliveries.map((delivery) => delivery.recipientId)).size
    assertSettled(world, yield* stage.entries, deliveries, at("final run"))
    stage.assertNothingLeaked()
    figures.rounds++
  })

describe("crash suite: SIGKILL at any point, then resume", () => {
  // The seed is what a failing round needs to be replayed.
  console.log(`crash suite: CRASH_SEED=${baseSeed} CRASH_ROUNDS=${rounds}`)

  for (let round = 0; round < rounds; round++) {
    const seed = baseSeed + round
    it.scopedLive(
      `round ${round + 1} (replay: CRASH_SEED=${seed} CRASH_ROUNDS=1) never sends twice and accounts for everyone`,
      () => crashRound(seed),
      { timeout: 240_000 }
    )
  }

  afterAll(() => {
    console.log(`crash suite figures: ${JSON.stringify(figures)}`)
  })
})
