/**
 * Defects of a run found by trying to break it (issue 13, items 8, 13 and 14), end to end: the bundled command against
 * the sandbox over HTTP, the ledger read afterwards.
 *
 * - 8: a reader that closes the pipe early (`comment-dm run c.yaml | head -3`) stops new sends without ending the run as
 *   completed; `export | head` still ends quietly.
 * - 13: a refusal worded unlike the error table expects refuses that person, and only a streak of them stops the run.
 * - 14: the daily-limit pause is checked with one real message instead of being a wall until 00:00 UTC.
 */
import { Ledger } from "@comment-dm/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { type CliOptions, type CliResult, finished, jsonSummary, startCli, writeCampaign } from "./support/cli.js"
import { assertAccounted, assertSettled } from "./support/crash-checks.js"
import * as Stage from "./support/crash-stage.js"
import * as World from "./support/crash-world.js"

const exitOf = (result: CliResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

const stateCounts = (entries: ReadonlyArray<Ledger.LedgerEntry>): Record<Ledger.DeliveryState, number> => {
  const counts = Ledger.noCounts()
  for (const entry of entries) counts[entry.state]++
  return counts
}

/** The ledger holds exactly the matching people, none of them left claimed (refusals are checked by each test). */
const assertAllRecorded = (world: World.World, entries: ReadonlyArray<Ledger.LedgerEntry>) => {
  assert.sameMembers(entries.map((entry) => entry.userId), [...world.matching])
  assert.strictEqual(stateCounts(entries).claimed, 0, "claims left open")
}

interface StatusJson {
  readonly matched: number
  readonly unaccounted: number
  readonly counts: Record<Ledger.DeliveryState, number>
}

const statusOf = (result: CliResult): StatusJson => JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "")

/**
 * Runs the command with its stdout on a real pipe, reads `lines` lines, then closes the reading end, as `| head -N`
 * does. Resolves with what was read and how the command ended.
 */
const readThenClose = (args: ReadonlyArray<string>, options: CliOptions, lines: number) =>
  Effect.promise(() => {
    const child = startCli(args, options)
    let read = ""
    let closed = false
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      if (closed) return
      read += chunk
      if (read.split("\n").length > lines) {
        closed = true
        read = read.split("\n").slice(0, lines).join("\n")
        child.stdout?.destroy()
      }
    })
    // `finished` collects stderr; stdout is ours (its reader is the one that went away).
    return finished(child, 60_000).then((result) => ({ ...result, stdout: read, closedEarly: closed }))
  })

describe("8: a closed stdout stops sending but never ends the run as completed", () => {
  it.scopedLive(
    "8.1 run | head -3: no new sends, the sends in flight settle, exit 5 with people pending, nobody left claimed",
    () =>
      Effect.gen(function*() {
        // About 45 matching people at 20 sends a second, each answer 100 ms late: the run takes seconds, so the pipe
        // closes while people are in flight and most are still to come.
        const stage = yield* Stage.make({
          world: World.make({ seed: 801, posts: 1, commentsPerPost: 120, people: 70 }),
          faults: { latency: { minMs: 100, maxMs: 100 } },
          campaign: { perHour: 72_000, concurrency: 4 }
        })
        const result = yield* readThenClose(stage.args("run"), stage.options, 3)
        stage.keep("run | head -3", result)
        assert.isTrue(result.closedEarly, exitOf(result))
        assert.strictEqual(result.code, 5, exitOf(result))

        const status = yield* stage.cli("status", "--json")
        const report = statusOf(status)
        assert.strictEqual(report.counts.claimed, 0, "nobody is left claimed")
        assert.strictEqual(report.unaccounted, 0)
        assert.isAbove(report.counts.pending, 0, "the people not reached stay pending")
        const deliveries = yield* stage.sandbox.deliveries
        assert.isBelow(deliveries.length, stage.world.matching.size - stage.world.refused.length, "sending stopped")
        const entries = yield* stage.entries
        assert.strictEqual(stateCounts(entries).sent, deliveries.length, "every delivery is recorded as sent")

        // The next run, read to its end, finishes the campaign.
        const rerun = yield* stage.cli("run", "--json")
        assert.strictEqual(rerun.code, 0, exitOf(rerun))
        assertSettled(stage.world, yield* stage.entries, yield* stage.sandbox.deliveries, "after the rerun")
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )

  it.scopedLive("8.2 export | head -2 still ends quietly with exit 0", () =>
    Effect.gen(function*() {
      const stage = yield* Stage.make({ world: World.make({ seed: 802, posts: 1, commentsPerPost: 400, people: 300 }) })
      const run = yield* stage.cli("run", "--json")
      assert.strictEqual(run.code, 0, exitOf(run))
      const result = yield* readThenClose(stage.args("export"), stage.options, 2)
      assert.isTrue(result.closedEarly, exitOf(result))
      assert.strictEqual(result.code, 0, exitOf(result))
      assert.strictEqual(result.stderr, "", "nothing on stderr")
      assert.match(result.stdout, /^campaign,platform,user_id,/, "the header came through before the reader left")
    }), { timeout: 120_000 })
})

describe("13: an unrecognised refusal on a send refuses that person; only a streak stops the run", () => {
  const oddText = "Recipient restricted by policy R-77 (code 4711)"

  it.scopedLive(
    "13.1 a few odd refusals: those people refused with the platform's text, the others sent, exit 0",
    () =>
      Effect.gen(function*() {
        const matching = World.make({ seed: 1301, posts: 1, commentsPerPost: 120, people: 70, refused: 0 })
        const odd = [...matching.matching].sort().slice(0, 3)
        // The odd answer comes before the sandbox's own refusals: these three are the world's refused people.
        const world: World.World = { ...matching, refused: odd }
        const stage = yield* Stage.make({
          world,
          faults: { oddRefusal: { recipients: odd, status: 422, text: oddText } },
          campaign: { concurrency: 1 }
        })
        const result = yield* stage.cli("run", "--json")
        assert.strictEqual(result.code, 0, exitOf(result))
        assert.strictEqual(jsonSummary(result).outcome, "completed")
        const entries = yield* stage.entries
        assertAccounted(world, entries, yield* stage.sandbox.deliveries, "after odd refusals")
        const refused = entries.filter((entry) => entry.state === "refused")
        assert.sameMembers(refused.map((entry) => entry.userId), odd)
        for (const entry of refused) assert.include(entry.reason ?? "", oddText)
        assert.strictEqual(stateCounts(entries).sent, world.matching.size - odd.length)
        assert.strictEqual((yield* stage.sandbox.deliveries).length, world.matching.size - odd.length)
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "13.2 every send refused oddly: the run stops after 5 in a row with exit 1 and prints the last answer, without " +
      "the key",
    () =>
      Effect.gen(function*() {
        const world = World.make({ seed: 1302, posts: 1, commentsPerPost: 120, people: 70, refused: 0 })
        const stage = yield* Stage.make({ world, campaign: { concurrency: 1 } })
        // A platform that echoes the key back must not make the key appear in the output or the ledger.
        yield* stage.sandbox.setFaults({
          oddRefusal: { recipients: "all", status: 418, text: `${oddText}; request key ${stage.key}` }
        })
        const result = yield* stage.cli("run", "--json")
        assert.strictEqual(result.code, 1, exitOf(result))
        assert.include(result.stderr, "418", exitOf(result))
        assert.include(result.stderr, oddText, exitOf(result))
        assert.match(result.stderr, /5 sends in a row/, exitOf(result))
        assert.strictEqual(yield* stage.sendRequests, 5, "one at a time: the fifth answer stops the run")
        const entries = yield* stage.entries
        assertAllRecorded(world, entries)
        const counts = stateCounts(entries)
        assert.strictEqual(counts.refused, 5)
        assert.strictEqual(counts.sent, 0)
        assert.strictEqual(counts.pending, world.matching.size - 5)
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "13.3 the known configuration answers on a send still stop the run with exit 2",
    () =>
      Effect.gen(function*() {
        const world = World.make({ seed: 1303, posts: 1, commentsPerPost: 60, people: 40, refused: 0 })
        const stage = yield* Stage.make({
          world,
          faults: { oddRefusal: { recipients: "all", status: 400, text: "Invalid account" } },
          campaign: { concurrency: 1 }
        })
        const result = yield* stage.cli("run", "--json")
        assert.strictEqual(result.code, 2, exitOf(result))
        assert.strictEqual(yield* stage.sendRequests, 1)
        assert.strictEqual(stateCounts(yield* stage.entries).refused, 0, "a configuration problem refuses nobody")
      }),
    { timeout: 120_000 }
  )
})

describe("14: the daily-limit pause is checked with one real message, not a wall until 00:00 UTC", () => {
  const cap = 6
  const limitedStage = (seed: number) =>
    Stage.make({
      world: World.make({ seed, posts: 1, commentsPerPost: 120, people: 70, refused: 0 }),
      faults: { dailyDmLimit: cap },
      campaign: { concurrency: 1 }
    })

  it.scopedLive(
    "14.1 the daily limit is raised through the sandbox's control API: the next run sends",
    () =>
      Effect.gen(function*() {
        const stage = yield* limitedStage(1401)
        const first = yield* stage.cli("run", "--json")
        assert.strictEqual(first.code, 3, exitOf(first))
        assert.strictEqual((yield* stage.sandbox.deliveries).length, cap)

        yield* stage.sandbox.setFaults({ dailyDmLimit: 500 })
        const second = yield* stage.cli("run", "--json")
        assert.strictEqual(second.code, 0, exitOf(second))
        assert.strictEqual(jsonSummary(second).outcome, "completed")
        assertSettled(stage.world, yield* stage.entries, yield* stage.sandbox.deliveries, "after the raise")

        // The limit is lifted for the profile: a third run has nothing to do and makes no send.
        const before = yield* stage.sendRequests
        const third = yield* stage.cli("run", "--json")
        assert.strictEqual(third.code, 0, exitOf(third))
        assert.strictEqual((yield* stage.sendRequests) - before, 0)
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "14.2 still limited: exactly one probe request with a real message, exit 3, that person stays pending",
    () =>
      Effect.gen(function*() {
        const stage = yield* limitedStage(1402)
        const first = yield* stage.cli("run", "--json")
        assert.strictEqual(first.code, 3, exitOf(first))
        const afterFirst = yield* stage.entries
        const pendingBefore = afterFirst.filter((entry) => entry.state === "pending").map((entry) => entry.userId)

        const before = yield* stage.sendRequests
        const second = yield* stage.cli("run", "--json")
        assert.strictEqual(second.code, 3, exitOf(second))
        assert.strictEqual(jsonSummary(second).outcome, "daily_limit")
        assert.strictEqual((yield* stage.sendRequests) - before, 1, "one probe")
        const afterSecond = yield* stage.entries
        assertAccounted(stage.world, afterSecond, yield* stage.sandbox.deliveries, "after the probe")
        assert.sameMembers(
          afterSecond.filter((entry) => entry.state === "pending").map((entry) => entry.userId),
          pendingBefore,
          "the probed person stays pending"
        )
        assert.strictEqual(stateCounts(afterSecond).in_doubt, 0)
        assert.strictEqual((yield* stage.sandbox.deliveries).length, cap)
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "14.3 daily_reset takes \"HH:MM UTC\" or rolling; anything else is refused naming the key",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1403, posts: 1, commentsPerPost: 20 }) })
        const directory = Path.dirname(stage.campaignFile)
        const valid = World.campaign(stage.world)
        for (const value of ["06:30 UTC", "rolling", "00:00 UTC"]) {
          const file = writeCampaign(directory, "ok.json", { ...valid, daily_reset: value })
          const result = yield* Effect.promise(() => finished(startCli(["run", file, "--dry-run"], stage.options)))
          assert.strictEqual(result.code, 0, `${value}: ${exitOf(result)}`)
        }
        for (const value of ["24:00 UTC", "6:30", "06:30 CET", "", "rolling\u0000", 6]) {
          const file = writeCampaign(directory, "bad.json", { ...valid, daily_reset: value })
          const result = yield* Effect.promise(() =>
            finished(startCli(["run", file, "--db", stage.db, "--json"], stage.options))
          )
          assert.strictEqual(result.code, 2, `${JSON.stringify(value)}: ${exitOf(result)}`)
          assert.include(result.stderr, "daily_reset", exitOf(result))
          assert.notInclude(result.stderr, "\u0000")
        }
        assert.strictEqual(yield* stage.sendRequests, 0)
      }),
    { timeout: 120_000 }
  )
})
