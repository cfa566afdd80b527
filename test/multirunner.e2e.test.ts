/**
 * Several runners on one campaign: the real `comment-dm run`, several child processes at once on the same campaign
 * file and the same ledger (a PostgreSQL database started for the file, or one SQLite file), against an in-process
 * sandbox. The sandbox's deliveries are the ground truth: nobody gets two DMs, whoever sends them, and afterwards the
 * ledger accounts for every matching commenter.
 *
 * Seeded: `MULTIRUNNER_SEED` (default 20260401) picks the data and the kill plan, which is printed. Kill timing
 * depends on the machine, so a replay repeats the plan, not the exact instant.
 */
import type { Ledger } from "@comment-dm/core"
import { Sandbox } from "@comment-dm/sandbox"
import type { Delivery, Faults } from "@comment-dm/sandbox"
import { assert, describe, it, layer } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import type { Scope } from "effect"
import * as Path from "node:path"
import { type CliOptions, type CliResult, jsonSummary, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { assertConsistent, assertOncePerPerson, assertSettled, ledgerEntries } from "./support/crash-checks.js"
import * as World from "./support/crash-world.js"
import * as Fleet from "./support/multirunner-fleet.js"
import * as Postgres from "./support/multirunner-postgres.js"
import { findPostgres } from "./support/postgres.js"

const baseSeed = Number(process.env.MULTIRUNNER_SEED ?? 20260401)

/** A scenario's time limit: four command starts share two cores, and a busy machine makes each slower. */
const timeout = 180_000

/** Reconciliation leaves claims younger than this in doubt (the conversation may not list the message yet). */
const reconcileSettleTime = Duration.seconds(5)

interface StageOptions {
  readonly world: World.World
  /** The ledger: a postgres:// URL, or a file name in the stage's directory for SQLite. */
  readonly db: string
  readonly faults?: Faults.FaultsPatch
  readonly campaign?: World.CampaignOptions
}

interface Stage {
  readonly world: World.World
  readonly sandbox: Sandbox.SandboxHandle
  readonly campaign: string
  readonly db: string
  /** Starts one more runner of the campaign. */
  readonly runner: (label: string) => Effect.Effect<Fleet.Runner, never, Scope.Scope>
  /** Runs `comment-dm <subcommand> <campaign-file> --db <ledger> ...rest` to its end. */
  readonly cli: (subcommand: string, ...rest: ReadonlyArray<string>) => Effect.Effect<CliResult>
}

/** A sandbox serving the world, a campaign file for it and the environment that points a command at both. */
const makeStage = (options: StageOptions): Effect.Effect<Stage, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { world } = options
    // Open windows: the world's refused people are the only ones a DM cannot reach.
    const sandbox = yield* Sandbox.make({
      data: world.data,
      seed: world.seed,
      windows: "open",
      faults: { refusedRecipients: world.refused, ...options.faults }
    })
    const directory = yield* Effect.acquireRelease(
      Effect.sync(() => tempDir("comment-dm-multirunner-")),
      (created) => Effect.sync(created.cleanup)
    )
    const campaign = World.campaignName(world, options.campaign)
    const campaignFile = writeCampaign(directory.path, "campaign.json", World.campaign(world, options.campaign))
    const db = /^postgres:\/\//.test(options.db) ? options.db : Path.join(directory.path, options.db)
    const cliOptions: CliOptions = {
      env: { UPLOAD_POST_BASE_URL: sandbox.baseUrl, UPLOAD_POST_API_KEY: sandbox.apiKey },
      timeoutMs: 90_000
    }
    const args = (subcommand: string, ...rest: ReadonlyArray<string>) => [subcommand, campaignFile, "--db", db, ...rest]
    return {
      world,
      sandbox,
      campaign,
      db,
      runner: (label) => Fleet.start(label, args("run", "--json"), cliOptions),
      cli: (subcommand, ...rest) => Effect.promise(() => runCli(args(subcommand, ...rest), cliOptions))
    }
  })

/** Starts `count` runners at once and waits for all of them to end. */
const runTogether = (stage: Stage, count: number) =>
  Effect.gen(function*() {
    const runners = yield* Effect.forEach(
      Array.from({ length: count }, (_, index) => `runner ${index + 1}`),
      (label) => stage.runner(label)
    )
    return yield* Effect.forEach(runners, (runner) => runner.result, { concurrency: "unbounded" })
  })

const sum = (values: ReadonlyArray<number>) => values.reduce((total, value) => total + value, 0)

/** What each run of a fleet sent, as its `--json` summary says; a run may end with 5 when it saw others' claims. */
const sentByRun = (results: ReadonlyArray<CliResult>, context: string): ReadonlyArray<number> =>
  results.map((result, index) => {
    const label = `${context}, runner ${index + 1}`
    assert.include([0, 5], result.code, `${label} ended with ${result.code ?? result.signal}: ${result.stderr}`)
    return Fleet.countsOf(label, result).sent ?? 0
  })

/** Waits until `done` holds for the value of `read`, polling often. */
const waitUntil = <A>(read: Effect.Effect<A>, done: (value: A) => boolean): Effect.Effect<A> =>
  Effect.gen(function*() {
    for (;;) {
      const value = yield* read
      if (done(value)) return value
      yield* Effect.sleep(Duration.millis(20))
    }
  })

/** `status --json` accounts for every matching person: each sent once or refused, nobody left open. */
const assertStatusSettled = (stage: Stage, status: CliResult, context: string) => {
  assert.strictEqual(status.code, 0, `${context}: status ended with ${status.code}: ${status.stderr}`)
  const report = JSON.parse(status.stdout)
  const { matching, refused } = stage.world
  assert.strictEqual(report.matched, matching.size, `${context}: status matched`)
  assert.strictEqual(report.unaccounted, 0, `${context}: status unaccounted`)
  assert.deepStrictEqual(report.counts, {
    pending: 0,
    claimed: 0,
    sent: matching.size - refused.length,
    refused: refused.length,
    in_doubt: 0
  }, `${context}: status counts`)
}

/**
 * How far ahead of the pace the sends may get. A send goes out when its runner wakes for its slot, which a busy
 * machine delays by a hundred milliseconds or more, so a late send can land close to the next ones; four runners each
 * on a pace of its own would be seconds ahead.
 */
const paceTolerance = Duration.millis(500)

interface PaceFigures {
  readonly sends: number
  /**
   * How far the sends got ahead of the pace at worst: the largest (j - i) x spacing - (t_j - t_i) over every pair of
   * sends i < j. Two sends `gap` apart give spacing - gap; a run of sends faster than the pace adds up.
   */
  readonly aheadMillis: number
  /** Milliseconds between consecutive sends. */
  readonly gaps: ReadonlyArray<number>
  readonly spanMillis: number
  readonly smallestGapMillis: number
  readonly perHour: number
}

/** The pace the sandbox saw: the delivery times, sorted. */
const paceOf = (deliveries: ReadonlyArray<Delivery.Delivery>, spacing: number): PaceFigures => {
  const times = deliveries.map((delivery) => Date.parse(delivery.at)).sort((a, b) => a - b)
  let aheadMillis = 0
  times.forEach((earlier, i) =>
    times.slice(i + 1).forEach((later, k) => {
      aheadMillis = Math.max(aheadMillis, (k + 1) * spacing - (later - earlier))
    })
  )
  const gaps = times.slice(1).map((time, index) => time - times[index]!)
  const spanMillis = times.length < 2 ? 0 : times[times.length - 1]! - times[0]!
  return {
    sends: times.length,
    aheadMillis,
    gaps,
    spanMillis,
    smallestGapMillis: Math.min(...gaps),
    perHour: spanMillis === 0 ? 0 : ((times.length - 1) / spanMillis) * 3_600_000
  }
}

interface KillPoint {
  readonly runner: number
  /** Once the sandbox has delivered this many DMs (by any runner) after the runner started reading... */
  readonly deliveries: number
  /** ... and this much later. */
  readonly afterMs: number
}

/** One or two of the runners, each at a seeded point of its sending. */
const killPlan = (seed: number, runners: number): ReadonlyArray<KillPoint> => {
  const random = World.prng(seed ^ 0x6b111)
  const order = Array.from({ length: runners }, (_, index) => ({ index, key: random.next() }))
    .sort((a, b) => a.key - b.key)
  return order.slice(0, random.int(1, 2)).map(({ index }) => ({
    runner: index,
    deliveries: random.int(3, 25),
    afterMs: random.int(0, 200)
  }))
}

const describeKill = (point: KillPoint) =>
  `runner ${point.runner + 1} once ${point.deliveries} more DMs are delivered after it starts reading, ` +
  `then ${point.afterMs} ms, while it holds a claim`

/**
 * Kills the runner at its point, as soon as it holds a claim there (so that it leaves claims for the others to
 * recover); succeeds with the time of the kill, or undefined when the run ended first.
 */
const killAt = (
  runner: Fleet.Runner,
  point: KillPoint,
  delivered: Effect.Effect<number>,
  entries: Effect.Effect<ReadonlyArray<Ledger.LedgerEntry>>
) =>
  Effect.gen(function*() {
    yield* runner.reading
    const before = yield* delivered
    yield* waitUntil(delivered, (count) => count >= before + point.deliveries)
    yield* Effect.sleep(Duration.millis(point.afterMs))
    yield* waitUntil(entries, (rows) => rows.some((row) => row.state === "claimed" && runner.holds(row.claimedBy)))
    yield* runner.signal("SIGKILL")
    return Date.now()
  }).pipe(
    Effect.raceFirst(Effect.as(runner.result, undefined)),
    Effect.zipLeft(runner.result)
  )

const { install, reason } = findPostgres()

describe.skipIf(install === undefined)(
  `several runners on one PostgreSQL ledger${reason === undefined ? "" : ` (skipped: ${reason})`}`,
  () => {
    console.log(`several runners: MULTIRUNNER_SEED=${baseSeed}`)

    layer(Postgres.server, { timeout: "60 seconds", excludeTestServices: true })((it) => {
      it.scoped(
        "four runners at once send nobody two DMs, and status accounts for every matching person",
        () =>
          Effect.gen(function*() {
            const world = World.make({ seed: baseSeed, posts: 2, commentsPerPost: 150 })
            const stage = yield* makeStage({
              world,
              db: yield* Postgres.freshDatabase,
              faults: { latency: { minMs: 30, maxMs: 90 } },
              campaign: { name: "four-at-once", concurrency: 2 }
            })
            const results = yield* runTogether(stage, 4)
            const sent = sentByRun(results, "four at once")
            const deliveries = yield* stage.sandbox.deliveries
            assertOncePerPerson(deliveries, "four at once")
            // Each DM is recorded by the one runner that sent it.
            assert.strictEqual(sum(sent), deliveries.length, `four at once: sent per runner ${sent.join(", ")}`)
            assert.isAtLeast(
              sent.filter((count) => count > 0).length,
              2,
              `the runs did not overlap: ${sent.join(", ")}`
            )
            console.log(`four at once: sent per runner ${sent.join(", ")}`)

            const database = yield* Postgres.open(stage.db)
            assertSettled(world, yield* database.entries(stage.campaign), deliveries, "four at once")
            assertStatusSettled(stage, yield* stage.cli("status", "--json"), "four at once")
          }),
        timeout
      )

      it.scoped(
        "runners killed along the way: one more run recovers their claims at once, reconciles, and nobody gets two DMs",
        () =>
          Effect.gen(function*() {
            const seed = baseSeed + 1
            const world = World.make({ seed, posts: 2, commentsPerPost: 200 })
            const stage = yield* makeStage({
              world,
              db: yield* Postgres.freshDatabase,
              // Slow answers: a runner holds its claims long enough to be killed holding them.
              faults: { latency: { minMs: 150, maxMs: 250 } },
              campaign: { name: "killed-along-the-way", concurrency: 2 }
            })
            const plan = killPlan(seed, 4)
            console.log(`kill plan (MULTIRUNNER_SEED=${baseSeed}): ${plan.map(describeKill).join("; ")}`)
            const delivered = Effect.map(stage.sandbox.stats, (stats) => stats.deliveries)
            const database = yield* Postgres.open(stage.db)
            const entries = database.entries(stage.campaign)

            const runners = yield* Effect.forEach([1, 2, 3, 4], (index) => stage.runner(`runner ${index}`))
            const kills = yield* Effect.forEach(
              plan,
              (point) => killAt(runners[point.runner]!, point, delivered, entries),
              { concurrency: "unbounded" }
            )
            const results = yield* Effect.forEach(runners, (runner) => runner.result, { concurrency: "unbounded" })
            const victims = plan.filter((_, index) => kills[index] !== undefined).map((point) => point.runner)
            for (const [index, result] of results.entries()) {
              if (victims.includes(index)) continue
              assert.include([0, 5], result.code, `runner ${index + 1} ended with ${result.code}: ${result.stderr}`)
            }

            // Right after the fleet: nobody twice, every delivered person recorded as sent or still open.
            const afterKills = yield* entries
            const deliveries = yield* stage.sandbox.deliveries
            const snapshot = assertConsistent(world, afterKills, deliveries, "after the kills")
            const leftOpen = afterKills.filter((entry) => entry.state === "claimed" || entry.state === "in_doubt")
            assert.isTrue(
              afterKills.filter((entry) => entry.state === "claimed").every((entry) =>
                victims.some((victim) => runners[victim]!.holds(entry.claimedBy))
              ),
              "claims left open by a runner that was not killed"
            )
            console.log(
              `killed ${victims.length} of ${plan.length} planned; claims left open ${snapshot.claimed} ` +
                `(${snapshot.deliveredUnsettled} of them delivered), in doubt ${leftOpen.length - snapshot.claimed}`
            )

            // Reconciliation judges a claim only once it is older than the settle time.
            const lastKill = Math.max(0, ...kills.filter((at) => at !== undefined))
            yield* Effect.sleep(
              Duration.millis(Math.max(0, lastKill + Duration.toMillis(reconcileSettleTime) - Date.now()))
            )
            const final = yield* stage.cli("run", "--json")
            assert.strictEqual(final.code, 0, `final run: ${final.stderr}`)
            const summary = jsonSummary(final)
            assert.strictEqual(summary.outcome, "completed", "final run")
            // The dead runners' claims were recovered at once (their leases had not expired) and reconciled.
            assert.strictEqual(summary.counts.reconciled, leftOpen.length, "final run: reconciled")
            const finalDeliveries = yield* stage.sandbox.deliveries
            assertSettled(world, yield* entries, finalDeliveries, "after the final run")
            assertStatusSettled(stage, yield* stage.cli("status", "--json"), "after the final run")
          }),
        timeout
      )

      it.scoped(
        "four runners share the profile's pace: the sends are spaced as per_hour says, not four times faster",
        () =>
          Effect.gen(function*() {
            const world = World.make({ seed: baseSeed + 2, posts: 1, commentsPerPost: 150, people: 80, refused: 0 })
            const perHour = 36_000
            const spacing = 3_600_000 / perHour
            const stage = yield* makeStage({
              world,
              db: yield* Postgres.freshDatabase,
              // Slow answers until every runner is at the start line, so that none gets past it before it is held.
              faults: { latency: { minMs: 1_000, maxMs: 1_000 } },
              campaign: { name: "shared-pace", perHour, concurrency: 4 }
            })
            const runners = yield* Effect.forEach([1, 2, 3, 4], (index) => stage.runner(`runner ${index}`))
            yield* Fleet.releaseTogether(
              runners,
              Effect.gen(function*() {
                assert.strictEqual((yield* stage.sandbox.deliveries).length, 0, "a runner sent before the start")
                yield* stage.sandbox.setFaults({ latency: { minMs: 0, maxMs: 0 } })
                // The first pages, asked for before the hold, arrive in the meantime.
                yield* Effect.sleep(Duration.seconds(1))
              })
            )
            const results = yield* Effect.forEach(runners, (runner) => runner.result, { concurrency: "unbounded" })
            const sent = sentByRun(results, "shared pace")
            const deliveries = yield* stage.sandbox.deliveries
            assertOncePerPerson(deliveries, "shared pace")
            assert.strictEqual(deliveries.length, world.matching.size)
            assert.isAtLeast(
              sent.filter((count) => count > 0).length,
              2,
              `the runs did not overlap: ${sent.join(", ")}`
            )

            const pace = paceOf(deliveries, spacing)
            console.log(
              `shared pace: sent per runner ${sent.join(", ")}; ${JSON.stringify({ ...pace, gaps: undefined })}`
            )
            // No run of sends, two or more, got ahead of the shared pace by more than the tolerance.
            assert.isAtMost(
              pace.aheadMillis,
              Duration.toMillis(paceTolerance),
              `the sends got ${pace.aheadMillis} ms ahead of one every ${spacing} ms; gaps: ${pace.gaps.join(" ")}`
            )
            // Over the whole run the profile sent at most at its per_hour (a few percent for timing). Slower is the
            // machine's doing: a busy one wakes the runners late; half the pace would mean they wait on each other.
            assert.isAtMost(pace.perHour, perHour * 1.05, `sent at ${Math.round(pace.perHour)} an hour`)
            assert.isAtLeast(pace.perHour, perHour * 0.5, `sent at ${Math.round(pace.perHour)} an hour`)
          }),
        timeout
      )

      it.scoped(
        "a runner never takes the claims of a live runner: it counts them as claimed elsewhere",
        () =>
          Effect.gen(function*() {
            const { database, people, runnerA, stage } = yield* pausedWithClaims(baseSeed + 3, "live-claims")
            const delivered = Effect.map(stage.sandbox.stats, (stats) => stats.deliveries)

            const runnerB = yield* stage.runner("runner B")
            const resultB = yield* runnerB.result
            assert.strictEqual(resultB.code, 5, `runner B: ${resultB.stderr}`)
            const countsB = Fleet.countsOf("runner B", resultB)
            assert.deepStrictEqual(
              { claimed_elsewhere: countsB.claimed_elsewhere, sent: countsB.sent, reconciled: countsB.reconciled },
              { claimed_elsewhere: people, sent: 0, reconciled: 0 },
              "runner B"
            )
            assert.strictEqual(yield* delivered, 0, "runner B sent to people runner A holds")
            const held = yield* database.entries(stage.campaign)
            assert.deepStrictEqual(
              held.filter((entry) => entry.state !== "claimed" || !runnerA.holds(entry.claimedBy)).map(describeEntry),
              [],
              "runner A's claims after runner B"
            )

            yield* runnerA.signal("SIGCONT")
            const resultA = yield* runnerA.result
            assert.strictEqual(resultA.code, 0, `runner A: ${resultA.stderr}`)
            assert.strictEqual(Fleet.countsOf("runner A", resultA).sent, people, "runner A sent")
            assertOncePerPerson(yield* stage.sandbox.deliveries, "live claims")
            const settled = yield* database.entries(stage.campaign)
            // Claimed once each, by runner A: nobody took over a live claim.
            assert.deepStrictEqual(
              settled.filter((entry) =>
                entry.state !== "sent" || entry.attempts !== 1 || !runnerA.holds(entry.claimedBy)
              ).map(describeEntry),
              [],
              "after runner A"
            )
            assert.strictEqual(settled.length, people)
          }),
        timeout
      )

      it.scoped(
        "a runner that stalls past its lease sends nobody a second DM when it resumes",
        () =>
          Effect.gen(function*() {
            const { database, people, runnerA, stage } = yield* pausedWithClaims(baseSeed + 5, "stalled-runner")

            // Runner A stays stalled past its lease: a runner starting three minutes later finds the leases expired
            // and turns the claims in doubt (the test asks the ledger what that runner would, instead of waiting).
            const recovered = yield* database.recoverClaims(stage.campaign, new Date(Date.now() + 180_000))
            assert.strictEqual(recovered, people, "claims recovered once the leases expired")
            // Reconciliation judges a claim only once it is older than the settle time.
            const claimedAt = Math.max(
              ...(yield* database.entries(stage.campaign)).map((entry) => entry.claimedAt?.getTime() ?? 0)
            )
            yield* Effect.sleep(
              Duration.millis(Math.max(0, claimedAt + Duration.toMillis(reconcileSettleTime) - Date.now()))
            )

            // Runner B finds no message to them in the conversations, so they are pending again, and sends them.
            const resultB = yield* stage.cli("run", "--json")
            assert.strictEqual(resultB.code, 0, `runner B: ${resultB.stderr}`)
            const countsB = Fleet.countsOf("runner B", resultB)
            assert.deepStrictEqual(
              { reconciled: countsB.reconciled, sent: countsB.sent },
              { reconciled: people, sent: people },
              "runner B"
            )
            assert.strictEqual((yield* stage.sandbox.deliveries).length, people, "runner B's sends")

            // Runner A resumes: the claims it held are no longer its own, so it must not send them.
            yield* runnerA.signal("SIGCONT")
            const resultA = yield* runnerA.result
            assert.include([0, 5], resultA.code, `runner A: ${resultA.stderr}`)
            assert.strictEqual(Fleet.countsOf("runner A", resultA).sent, 0, "runner A sent")
            assertOncePerPerson(yield* stage.sandbox.deliveries, "after runner A resumed")
            // Runner A neither sent nor settled: every row is runner B's settlement.
            const settled = yield* database.entries(stage.campaign)
            assert.deepStrictEqual(
              settled.filter((entry) => entry.state !== "sent" || runnerA.holds(entry.claimedBy)).map(describeEntry),
              [],
              "after runner A resumed"
            )
          }),
        timeout
      )
    })
  }
)

/**
 * Runner A, paused while it holds claims on every matching person of a small world and has sent nothing: alive, as a
 * runner busy elsewhere or slowed down would be.
 */
const pausedWithClaims = (seed: number, name: string) =>
  Effect.gen(function*() {
    const world = World.make({ seed, posts: 1, commentsPerPost: 30, people: 12, refused: 0 })
    const people = world.matching.size
    const url = yield* Postgres.freshDatabase
    const stage = yield* makeStage({
      world,
      db: url,
      // Enough concurrency for runner A to claim everyone at once.
      campaign: { name, perHour: 360_000, concurrency: 32 }
    })
    assert.isAtMost(people, 32, "the world has more people than runner A claims at once")
    const database = yield* Postgres.open(url)

    // Another sender of the profile keeps its pace booked 2 to 3 seconds ahead, so that runner A claims its people and
    // then waits for a slot while holding them.
    const otherSender = yield* database.pacer({ profile: world.profile, platform: "instagram", count: 3_600 })
    yield* Effect.repeatN(otherSender.reserve, 2).pipe(Effect.orDie)
    const booking = yield* Effect.forkScoped(
      Effect.orDie(otherSender.reserve).pipe(Effect.delay(Duration.seconds(1)), Effect.forever)
    )

    const runnerA = yield* stage.runner("runner A")
    const delivered = Effect.map(stage.sandbox.stats, (stats) => stats.deliveries)
    yield* waitUntil(
      Effect.zip(database.counts(stage.campaign), delivered),
      ([counts, sends]) => counts.claimed === people || sends > 0
    )
    yield* runnerA.signal("SIGSTOP")
    yield* Fiber.interrupt(booking)
    assert.strictEqual(yield* delivered, 0, "runner A sent before it could be paused")
    return { stage, database, people, runnerA }
  })

const describeEntry = (entry: Ledger.LedgerEntry) =>
  `${entry.userId}: ${entry.state}, ${entry.attempts} attempts, claimed by ${entry.claimedBy ?? "nobody"}`

describe("several runners on one SQLite ledger file", () => {
  it.scopedLive("two runners at once on the same file send nobody two DMs", () =>
    Effect.gen(function*() {
      const world = World.make({ seed: baseSeed + 4, posts: 2, commentsPerPost: 100 })
      const stage = yield* makeStage({
        world,
        db: "ledger.sqlite",
        faults: { latency: { minMs: 30, maxMs: 90 } },
        campaign: { name: "one-file", concurrency: 2 }
      })
      const results = yield* runTogether(stage, 2)
      const sent = sentByRun(results, "one file")
      const deliveries = yield* stage.sandbox.deliveries
      assertOncePerPerson(deliveries, "one file")
      assert.strictEqual(sum(sent), deliveries.length, `one file: sent per runner ${sent.join(", ")}`)
      console.log(`one SQLite file: sent per runner ${sent.join(", ")}`)
      assertSettled(world, yield* ledgerEntries(stage.db, stage.campaign), deliveries, "one file")
    }), timeout)
})
