/**
 * `delivery: auto` from the outside: the real command against the sandbox over HTTP. A campaign file without
 * `delivery` DMs the people whose window is open, sends a private reply to the others while their comment is younger
 * than 7 days, and skips the rest with a reason that `run --json`, `status` and `export` all count; a file that
 * changes its delivery gets a notice; a run killed part-way and resumed reaches nobody twice.
 *
 * The windows are stated through the sandbox's knobs: with `windows: "open"` every commenter of a listed post wrote to
 * the account an hour before the sandbox started (window open), except the refused recipients, who wrote two days
 * before (closed); `maxConversations: 0` lists no conversation at all (nobody seen writing).
 */
import type { DataSet, Delivery } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import * as Path from "node:path"
import { cleanups } from "./support/cleanups.js"
import { type CliResult, runCli, startCli, tempDir, writeCampaign } from "./support/cli.js"
import { listedSandbox } from "./support/e2e-listed.js"
import { control, type RunningSandbox } from "./support/sandbox.js"

const profile = "reach"
const postId = "17900000000000042"
const hour = 3_600_000
const day = 24 * hour

/** Commenter `n`, who asks for the guide `ago` milliseconds before now. */
const comment = (n: number, ago: number): DataSet.Comment => ({
  id: `c${n}`,
  text: "GUIDE please",
  timestamp: new Date(Date.now() - ago).toISOString(),
  user: { id: `1784170000000000${n}`, username: `viewer.${n}` }
})
const userId = (n: number) => `1784170000000000${n}`

interface Stage {
  readonly sandbox: RunningSandbox
  readonly campaignFile: (extra?: Record<string, unknown>) => string
  readonly cli: (...args: ReadonlyArray<string>) => Promise<CliResult>
  readonly db: string
  readonly deliveries: () => Promise<ReadonlyArray<Delivery.Delivery>>
}

/**
 * A sandbox with these comments. Without `messages`, windows are open (every commenter wrote an hour before the start,
 * but the refused recipients); with them, the sandbox is faithful and exactly these messages were written.
 */
const stage = async (
  comments: ReadonlyArray<DataSet.Comment>,
  faults: Record<string, unknown> = {},
  messages?: ReadonlyArray<DataSet.Message>
): Promise<Stage> => {
  const sandbox = await listedSandbox({ profile, posts: [{ id: postId, comments }], seed: 7, faults, messages })
  cleanups.push(sandbox.close)
  const dir = tempDir("comment-dm-reach-")
  cleanups.push(dir.cleanup)
  const db = Path.join(dir.path, "ledger.sqlite")
  const campaignFile = (extra: Record<string, unknown> = {}) =>
    writeCampaign(dir.path, "campaign.json", {
      name: "reach",
      platform: "instagram",
      user: profile,
      posts: [postId],
      match: { keywords: ["guide"] },
      message: "Hi @{{username}}, here is the guide",
      pace: { per_hour: 1_000_000 },
      ...extra
    })
  return {
    sandbox,
    campaignFile,
    db,
    cli: (...args) => runCli([...args, "--db", db], { env: sandbox.env }),
    deliveries: () => control(sandbox.handle.deliveries)
  }
}

const lastLine = (result: CliResult) => {
  const lines = result.stdout.trim().split("\n")
  return JSON.parse(lines[lines.length - 1] ?? "null")
}

describe("delivery auto against the sandbox", () => {
  it("a file without delivery: DM where the window is open, private reply otherwise, skipped with a reason", async () => {
    // 1: window open, fresh comment -> DM. 2: window closed, fresh comment -> private reply.
    // 3: window closed, comment 8 days old -> skipped (window_closed). 4: window open, old comment -> DM.
    const s = await stage([comment(1, hour), comment(2, 2 * hour), comment(3, 8 * day), comment(4, 9 * day)], {
      refusedRecipients: [userId(2), userId(3)]
    })
    const file = s.campaignFile()
    const result = await s.cli("run", file, "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = lastLine(result)
    assert.strictEqual(summary.outcome, "completed")
    assert.deepStrictEqual(
      [summary.counts.matched, summary.counts.sent, summary.counts.refused, summary.counts.skipped],
      [4, 3, 0, 1]
    )
    assert.deepStrictEqual(summary.skipped_reasons, { window_closed: 1 })
    assert.deepStrictEqual(summary.sent_by_path, { dm: 2, private_reply: 1 })
    const deliveries = await s.deliveries()
    assert.deepStrictEqual(
      deliveries.map((delivery) => `${delivery.kind}:${delivery.commentId ?? delivery.recipientId}`).sort(),
      [`dm:${userId(1)}`, `dm:${userId(4)}`, "private_reply:c2"]
    )
    assert.include(result.stderr, `skipped @viewer.3 (${userId(3)}): window_closed`)

    const status = await s.cli("status", file, "--json")
    assert.strictEqual(status.code, 0, status.stderr)
    const report = JSON.parse(status.stdout)
    assert.strictEqual(report.unaccounted, 0)
    assert.deepStrictEqual([report.counts.sent, report.counts.skipped], [3, 1])
    assert.deepStrictEqual(report.skipped_reasons, [{ reason: "window_closed", count: 1 }])
    assert.deepStrictEqual(report.sent_by_path, { dm: 2, private_reply: 1 })
    const text = await s.cli("status", file)
    assert.include(text.stdout, "1 × window_closed")

    const exported = await s.cli("export", file, "--format", "jsonl")
    const rows = exported.stdout.trim().split("\n").map((line) => JSON.parse(line))
    assert.deepStrictEqual(
      rows.map((row) => [row.user_id, row.state, row.reason, row.path]).sort(),
      [
        [userId(1), "sent", null, "dm"],
        [userId(2), "sent", null, "private_reply"],
        [userId(3), "skipped", "window_closed", null],
        [userId(4), "sent", null, "dm"]
      ]
    )

    // A second run reaches nobody again.
    const again = await s.cli("run", file, "--json")
    assert.strictEqual(again.code, 0, again.stderr)
    assert.strictEqual((await s.deliveries()).length, 3)
  })

  it("nobody listed in the conversations: private replies within 7 days, comment_too_old beyond", async () => {
    const s = await stage([comment(1, hour), comment(2, 8 * day)], { maxConversations: 0 })
    const result = await s.cli("run", s.campaignFile(), "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = lastLine(result)
    assert.deepStrictEqual(summary.skipped_reasons, { comment_too_old: 1 })
    assert.deepStrictEqual(summary.sent_by_path, { private_reply: 1 })
    assert.deepStrictEqual((await s.deliveries()).map((delivery) => delivery.kind), ["private_reply"])
  })

  it("a file that changes its delivery gets a notice; the people not reached yet get the new rule", async () => {
    const s = await stage([comment(1, hour), comment(2, hour)], { refusedRecipients: [userId(2)] })
    // Started as `dm`, held before anyone was reached (under `dm`, person 2's closed window would be a refusal).
    const dm = await s.cli("run", s.campaignFile({ delivery: "dm", max_sends: 0 }), "--json")
    assert.strictEqual(dm.code, 5, dm.stderr)
    assert.deepStrictEqual(lastLine(dm).notices, [])
    const auto = await s.cli("run", s.campaignFile(), "--json")
    assert.strictEqual(auto.code, 0, auto.stderr)
    const notices: ReadonlyArray<string> = lastLine(auto).notices
    assert.strictEqual(notices.length, 1)
    assert.include(notices[0], `the campaign started with "dm"`)
    assert.include(auto.stderr, "notice: delivery changed")
    assert.deepStrictEqual(
      (await s.deliveries()).map((delivery) => `${delivery.kind}:${delivery.recipientId}`).sort(),
      [`dm:${userId(1)}`, `private_reply:${userId(2)}`]
    )
  })

  it("killed part-way and resumed: nobody reached twice, every person accounted for", async () => {
    const people = Array.from({ length: 12 }, (_, n) => comment(n + 10, (n + 1) * hour))
    const closed = people.filter((_, n) => n % 3 === 0).map((c) => c.user?.id ?? "")
    const s = await stage(people, { refusedRecipients: closed })
    const file = s.campaignFile({ pace: { per_hour: 7_200, concurrency: 2 } })
    const child = startCli(["run", file, "--db", s.db], { env: s.sandbox.env })
    // Killed once two have been reached (a send every half second: most are left), however slow the start.
    const deadline = Date.now() + 60_000
    while ((await s.deliveries()).length < 2 && Date.now() < deadline && child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    child.kill("SIGKILL")
    await new Promise((resolve) => child.on("close", resolve))
    const reachedBefore = (await s.deliveries()).length
    assert.isBelow(reachedBefore, 12, "killed part-way")
    const resumed = await s.cli("run", file, "--json")
    assert.include([0, 5], resumed.code, resumed.stderr)
    const deliveries = await s.deliveries()
    const recipients = deliveries.map((delivery) => delivery.recipientId)
    assert.strictEqual(new Set(recipients).size, recipients.length, "nobody reached twice")
    assert.isAbove(deliveries.length, 0)
    for (const delivery of deliveries) {
      assert.strictEqual(delivery.kind, closed.includes(delivery.recipientId) ? "private_reply" : "dm")
    }
    const report = JSON.parse((await s.cli("status", file, "--json")).stdout)
    assert.strictEqual(report.matched, 12)
    assert.strictEqual(report.unaccounted, 0)
    const states = Object.values(report.counts as Record<string, number>).reduce((a, b) => a + b, 0)
    assert.strictEqual(states, 12, "the states sum to the matched people")
  }, 120_000)

  it("faithful windows: STOP suppresses, a person who writes later is judged again and DMed, nobody twice", async () => {
    // 1: wrote "hi" an hour ago -> DM. 2: wrote "Stop " an hour ago -> suppressed, never DMed.
    // 3: never wrote, comment 8 days old -> skipped (comment_too_old), until they write. 4: never wrote -> private reply.
    const wrote = (n: number, text: string) => ({
      from: userId(n),
      text,
      timestamp: new Date(Date.now() - hour).toISOString()
    })
    const s = await stage(
      [comment(1, hour), comment(2, hour), comment(3, 8 * day), comment(4, 2 * hour)],
      {},
      [wrote(1, "hi"), wrote(2, " Stop ")]
    )
    const file = s.campaignFile()
    const first = await s.cli("run", file, "--json")
    assert.strictEqual(first.code, 0, first.stderr)
    const summary = lastLine(first)
    assert.deepStrictEqual(
      [summary.counts.matched, summary.counts.sent, summary.counts.skipped, summary.counts.suppressed],
      [4, 2, 1, 1]
    )
    assert.deepStrictEqual(summary.skipped_reasons, { comment_too_old: 1 })
    assert.deepStrictEqual(summary.sent_by_path, { dm: 1, private_reply: 1 })
    const reached = async () =>
      (await s.deliveries()).map((delivery) => `${delivery.kind}:${delivery.recipientId}`).sort()
    assert.deepStrictEqual(await reached(), [`dm:${userId(1)}`, `private_reply:${userId(4)}`])

    // Person 3 writes to the account now; person 2 writes again, still STOP: only person 3 is reached, by DM.
    await s.sandbox.personWrites(userId(3), "is the guide still there?")
    await s.sandbox.personWrites(userId(2), "STOP")
    const second = await s.cli("run", file, "--json")
    assert.strictEqual(second.code, 0, second.stderr)
    assert.deepStrictEqual(await reached(), [`dm:${userId(1)}`, `dm:${userId(3)}`, `private_reply:${userId(4)}`])
    const status = JSON.parse((await s.cli("status", file, "--json")).stdout)
    assert.strictEqual(status.unaccounted, 0)
    // status lists the states after the first five only when someone is in them.
    assert.deepStrictEqual([status.counts.sent, status.counts.suppressed, status.counts.skipped ?? 0], [3, 1, 0])

    // A third run reaches nobody.
    assert.strictEqual((await s.cli("run", file, "--json")).code, 0)
    assert.strictEqual((await s.deliveries()).length, 3)
  })
})
