/**
 * Issue 19, opt-out, from the outside: the real command against a faithful sandbox over HTTP. A person whose whole
 * comment or latest message to the account is an opt-out word goes on the profile's suppression list, and no campaign
 * of the profile messages them after that, not even a run already under way that has claimed them; a lead that only
 * contains such a word ("how do I remove the watermark? guide") is still a lead.
 */
import type { DataSet, Delivery } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import * as Path from "node:path"
import { cleanups } from "./support/cleanups.js"
import { type CliResult, finished, jsonSummary, runCli, startCli, tempDir, writeCampaign } from "./support/cli.js"
import { parseCsv } from "./support/e2e-csv.js"
import { serverForBlock } from "./support/e2e-postgres.js"
import { findPostgres } from "./support/postgres.js"
import { control, type RunningSandbox, startSandbox } from "./support/sandbox.js"

const profile = "optout"
const postId = "17900000000000077"
const minute = 60_000
const userId = (n: number) => `1784180000000000${n}`

/** Commenter `n` writes `text` `ago` milliseconds before now. */
const comment = (n: number, ago: number, text = "GUIDE please", id = `c${n}`): DataSet.Comment => ({
  id,
  text,
  timestamp: new Date(Date.now() - ago).toISOString(),
  user: { id: userId(n), username: `viewer.${n}` }
})

interface Stage {
  readonly sandbox: RunningSandbox
  readonly dir: string
  readonly db: string
  readonly campaign: (name: string, extra?: Record<string, unknown>) => string
  readonly cli: (...args: ReadonlyArray<string>) => Promise<CliResult>
  readonly deliveries: () => Promise<ReadonlyArray<Delivery.Delivery>>
}

/** A faithful sandbox (windows only where people wrote) with these comments, and a ledger. */
const stage = async (comments: ReadonlyArray<DataSet.Comment>): Promise<Stage> => {
  const sandbox = await startSandbox({
    data: { _tag: "Listed", profile, posts: [{ id: postId, comments: [...comments] }], messages: [] },
    seed: 19,
    windows: "faithful"
  })
  cleanups.push(sandbox.close)
  const dir = tempDir("comment-dm-optout-")
  cleanups.push(dir.cleanup)
  const db = Path.join(dir.path, "ledger.sqlite")
  return {
    sandbox,
    dir: dir.path,
    db,
    campaign: (name, extra = {}) =>
      writeCampaign(dir.path, `${name}.json`, {
        name,
        platform: "instagram",
        user: profile,
        posts: [postId],
        match: { keywords: ["guide"] },
        message: "Hi @{{username}}, here is the guide",
        pace: { per_hour: 1_000_000 },
        ...extra
      }),
    cli: (...args) => runCli([...args, "--db", db], { env: sandbox.env }),
    deliveries: () => control(sandbox.handle.deliveries)
  }
}

const reachedIds = (deliveries: ReadonlyArray<Delivery.Delivery>) => deliveries.map((d) => d.recipientId).sort()

const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe("opt-out against the sandbox", () => {
  it("a DM and a comment opting out mid-run: people claimed but not yet sent are released, never sent", async () => {
    // Oldest comment first: a private reply each, one every 7.5 seconds (one at a time, the next claimed ahead).
    const s = await stage([1, 2, 3, 4, 5].map((n) => comment(n, (10 - n) * minute)))
    const slow = s.campaign("slow", { pace: { per_hour: 480, concurrency: 1 } })
    const running = startCli(["run", slow, "--json", "--db", s.db], { env: s.sandbox.env })
    const run = finished(running, 90_000)
    await waitFor("the first send", async () => (await s.deliveries()).length >= 1)

    // Person 2 (waiting for the pace) writes STOP; person 3 (claimed ahead) comments " Stop "; person 4 asks for
    // something else with an opt-out word in it and also writes "remove?": still a lead.
    await s.sandbox.personWrites(userId(2), "STOP")
    await control(s.sandbox.handle.addComment({
      postId,
      id: "c3-stop",
      text: " Stop ",
      user: { id: userId(3), username: "viewer.3" }
    }))
    await control(s.sandbox.handle.addComment({
      postId,
      id: "c4-lead",
      text: "how do I remove the watermark? guide",
      user: { id: userId(4), username: "viewer.4" }
    }))
    await s.sandbox.personWrites(userId(4), "remove?")
    // Another campaign of the profile reads the post and the conversations (sending nothing) and lists them.
    const other = await s.cli("run", s.campaign("other"), "--max-sends", "0", "--json")
    assert.include([0, 5], other.code, other.stderr)
    assert.strictEqual((await s.deliveries()).length, 1, "listed while the run waits to send its second message")
    const list = JSON.parse((await s.cli("suppress", "list", "--json")).stdout)
    assert.deepStrictEqual(
      list.suppressions.map((entry: { user_id: string; source: string }) => `${entry.user_id}:${entry.source}`).sort(),
      [`${userId(2)}:dm`, `${userId(3)}:comment`]
    )

    const result = await run
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = jsonSummary(result)
    assert.deepStrictEqual([summary.counts.matched, summary.counts.sent, summary.counts.suppressed], [5, 3, 2])
    const deliveries = await s.deliveries()
    assert.deepStrictEqual(reachedIds(deliveries), [userId(1), userId(4), userId(5)])
    for (const delivery of deliveries) {
      assert.notInclude([userId(2), userId(3)], delivery.recipientId, `sent at ${delivery.receivedAt}`)
    }

    // Both had been claimed before they opted out (the claim's attempt is counted) and were released.
    const rows = parseCsv((await s.cli("export", slow)).stdout)
    for (const n of [2, 3]) {
      const row = rows.find((entry) => entry.user_id === userId(n))
      assert.deepStrictEqual([row?.state, row?.attempts, row?.message_id], ["suppressed", "1", ""], `person ${n}`)
    }
    const status = JSON.parse((await s.cli("status", slow, "--json")).stdout)
    assert.deepStrictEqual([status.counts.suppressed, status.unaccounted], [2, 0])

    // The other campaign, run for real, messages neither.
    const again = await s.cli("run", s.campaign("other"), "--json")
    assert.include([0, 5], again.code, again.stderr)
    assert.strictEqual(jsonSummary(again).counts.suppressed, 2)
    const after = reachedIds(await s.deliveries())
    assert.notInclude(after, userId(2))
    assert.notInclude(after, userId(3))
  }, 120_000)

  it("an opt-out comment newer than the person's lead suppresses them in the same run; leads with the words do not", async () => {
    const s = await stage([
      comment(1, 3 * minute),
      comment(1, minute, "STOP", "c1-stop"),
      comment(2, 2 * minute, "how do I remove the watermark? guide"),
      comment(3, 2 * minute, "guide, and stop the spam"),
      comment(4, 2 * minute, "guide"),
      comment(4, minute, "ｕｎｓｕｂｓｃｒｉｂｅ", "c4-stop")
    ])
    const result = await s.cli("run", s.campaign("same-run"), "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    assert.deepStrictEqual(
      [jsonSummary(result).counts.matched, jsonSummary(result).counts.sent, jsonSummary(result).counts.suppressed],
      [4, 2, 2]
    )
    assert.deepStrictEqual(reachedIds(await s.deliveries()), [userId(2), userId(3)])
  })

  it("opt_out replaces the default words: BAJA opts out, STOP is then an ordinary comment", async () => {
    const s = await stage([comment(1, 2 * minute, "Baja"), comment(2, 2 * minute, "STOP"), comment(3, minute)])
    const file = s.campaign("spanish", { match: { mode: "any" }, opt_out: ["baja"] })
    const result = await s.cli("run", file, "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    assert.deepStrictEqual(reachedIds(await s.deliveries()), [userId(2), userId(3)])
    assert.strictEqual(jsonSummary(result).counts.suppressed, 1)
    const bad = await s.cli("run", s.campaign("bad", { opt_out: [] }))
    assert.strictEqual(bad.code, 2)
    assert.include(bad.stderr, "opt_out: expected at least one opt-out word")
  })
})

const postgres = findPostgres()

describe.skipIf(postgres.install === undefined)("opt-out with three runners on PostgreSQL", () => {
  const db = serverForBlock()

  it("people put on the list mid-run are never sent by any runner, claimed ahead or not", async () => {
    // Eight people, one send every 5 seconds for the profile (the pace is shared), three runners claiming ahead.
    const s = await stage([1, 2, 3, 4, 5, 6, 7, 8].map((n) => comment(n, (10 - n) * minute)))
    const file = s.campaign("fleet", { pace: { per_hour: 720, concurrency: 1 } })
    const runners = [0, 1, 2].map(() =>
      finished(startCli(["run", file, "--json", "--db", db()], { env: s.sandbox.env }), 90_000)
    )
    await waitFor("the first send", async () => (await s.deliveries()).length >= 1)
    const late = [4, 5, 6, 7, 8].map(userId)
    const added = await runCli(["suppress", "add", ...late, "--db", db(), "--json"], { env: s.sandbox.env })
    assert.strictEqual(added.code, 0, added.stderr)
    assert.strictEqual(JSON.parse(added.stdout).added, 5)
    const sentBefore = (await s.deliveries()).length
    assert.isBelow(sentBefore, 3, "listed while the runners still had people to send to")

    for (const result of await Promise.all(runners)) assert.include([0, 5], result.code, result.stderr)
    const deliveries = await s.deliveries()
    assert.deepStrictEqual(reachedIds(deliveries), [userId(1), userId(2), userId(3)])
    const status = JSON.parse((await runCli(["status", file, "--json", "--db", db()], { env: s.sandbox.env })).stdout)
    assert.deepStrictEqual([status.counts.sent, status.counts.suppressed, status.unaccounted], [3, 5, 0])
    const rows = parseCsv((await runCli(["export", file, "--db", db()], { env: s.sandbox.env })).stdout)
    // Some of them had been claimed ahead by a runner before they were listed, and were released.
    assert.isAbove(rows.filter((row) => late.includes(row.user_id ?? "") && row.attempts === "1").length, 0)
  }, 150_000)
})
