/**
 * One private reply per comment, from the outside: the real command against the sandbox over HTTP.
 *
 * - A private reply in doubt (the connection reset after the platform delivered it) is retried, not reconciled
 *   through the conversations: the platform refuses a second private reply to one comment ("(#10900) Activity already
 *   replied to"), and that refusal on a retry settles the person `sent`. On a first attempt it stays a refusal.
 * - Two campaigns of one profile that match the same comment: the second skips it as `comment_taken` without a
 *   request, also when both run at once.
 */
import { Ledger } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import type { DataSet } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { cleanups } from "./support/cleanups.js"
import { type CliResult, finished, jsonSummary, runCli, startCli, tempDir, writeCampaign } from "./support/cli.js"
import { ledgerEntries } from "./support/e2e-ledger.js"
import { control, type RunningSandbox, startSandbox } from "./support/sandbox.js"

const profile = "replies"
const postId = "17900000000000088"
const hour = 3_600_000

const userId = (n: number) => `178419000000${String(n).padStart(4, "0")}`
const comment = (n: number): DataSet.Comment => ({
  id: `c${n}`,
  text: "GUIDE please",
  timestamp: new Date(Date.now() - hour).toISOString(),
  user: { id: userId(n), username: `viewer.${n}` }
})
const comments = (count: number) => Array.from({ length: count }, (_, i) => comment(i + 1))

const stage = async (
  people: ReadonlyArray<DataSet.Comment>,
  faults: Record<string, unknown> = {},
  windows: "faithful" | "open" = "faithful"
) => {
  const sandbox = await startSandbox({
    data: { _tag: "Listed", profile, posts: [{ id: postId, comments: [...people] }], messages: [] },
    seed: 5,
    windows,
    faults
  })
  cleanups.push(sandbox.close)
  const dir = tempDir("comment-dm-replies-")
  cleanups.push(dir.cleanup)
  const db = Path.join(dir.path, "ledger.sqlite")
  const campaignFile = (name: string, extra: Record<string, unknown> = {}) =>
    writeCampaign(dir.path, `${name}.json`, {
      name,
      platform: "instagram",
      user: profile,
      posts: [postId],
      match: { keywords: ["guide"] },
      message: `Hi @{{username}}, here is the guide from ${name}`,
      delivery: "private_reply",
      pace: { per_hour: 1_000_000 },
      ...extra
    })
  const requests = async (endpoint: string) => (await control(sandbox.handle.stats)).requests[endpoint] ?? 0
  return {
    sandbox,
    db,
    campaignFile,
    cli: (...args: ReadonlyArray<string>): Promise<CliResult> => runCli([...args, "--db", db], { env: sandbox.env }),
    start: (...args: ReadonlyArray<string>) => startCli([...args, "--db", db], { env: sandbox.env }),
    deliveries: () => control(sandbox.handle.deliveries),
    replies: () => requests("POST /uploadposts/comments/reply"),
    conversationReads: () => requests("GET /uploadposts/dms/conversations")
  }
}

/** Each comment's private replies, by comment id: one each when the promise holds. */
const repliesPerComment = async (sandbox: RunningSandbox) => {
  const counts: Record<string, number> = {}
  for (const delivery of await control(sandbox.handle.deliveries)) {
    if (delivery.kind === "private_reply" && delivery.commentId !== undefined) {
      counts[delivery.commentId] = (counts[delivery.commentId] ?? 0) + 1
    }
  }
  return counts
}

const once = (count: number) => Object.fromEntries(comments(count).map((c) => [c.id, 1]))

describe("a private reply in doubt is retried", () => {
  it("a reset after delivery leaves it in doubt; its retry is refused 'already replied' and settles it sent", async () => {
    const s = await stage(comments(3), { resetAfterDeliveryRate: 1 })
    const result = await s.cli("run", s.campaignFile("guide"), "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = jsonSummary(result)
    assert.deepStrictEqual([summary.counts.sent, summary.counts.in_doubt, summary.counts.refused], [3, 0, 0])
    assert.deepStrictEqual(await repliesPerComment(s.sandbox), once(3), "each comment got one private reply")
    assert.strictEqual(await s.replies(), 6, "each reply went twice: the delivered one, and its refused retry")
    assert.strictEqual(await s.conversationReads(), 0, "private replies need no conversations to be settled")
    assert.include(result.stderr, "the platform already had this private reply")
    const entries = await ledgerEntries(s.db, "guide")
    assert.deepStrictEqual(entries.map((entry) => [entry.state, entry.attempts, entry.path]), [
      ["sent", 2, "private_reply"],
      ["sent", 2, "private_reply"],
      ["sent", 2, "private_reply"]
    ])
  })

  it("left in doubt by the daily limit: reconcile leaves it to the next run, which retries it once the limit lifts", async () => {
    // The three replies go out and use the day's three sends; their retries meet the limit and stay in doubt.
    const s = await stage(comments(3), { resetAfterDeliveryRate: 1, dailyDmLimit: 3 })
    const file = s.campaignFile("guide")
    const first = await s.cli("run", file, "--json")
    // In doubt, not pending: their replies went out, so only a retry of the same reply may follow.
    assert.strictEqual(first.code, 5, first.stderr)
    assert.strictEqual(jsonSummary(first).counts.in_doubt, 3)
    assert.include(first.stderr, "a private reply in doubt, to retry: the daily DM limit was reached")

    const reconcile = await s.cli("reconcile", file)
    assert.strictEqual(reconcile.code, 5, reconcile.stderr)
    assert.include(reconcile.stdout, "3 private replies in doubt: the next run retries them")
    assert.strictEqual(await s.conversationReads(), 0)
    const status = await s.cli("status", file, "--json")
    assert.match(JSON.parse(status.stdout).next, /retry 3 private replies in doubt/)

    await control(s.sandbox.handle.setFaults({ resetAfterDeliveryRate: 0 }))
    await control(s.sandbox.handle.resetDaily)
    const second = await s.cli("run", file, "--json")
    assert.strictEqual(second.code, 0, second.stderr)
    assert.deepStrictEqual([jsonSummary(second).counts.sent, jsonSummary(second).counts.in_doubt], [3, 0])
    assert.deepStrictEqual(await repliesPerComment(s.sandbox), once(3))
    assert.strictEqual(await s.conversationReads(), 0)
  })

  it("a claim left by a dead process whose reply never went out is retried and delivered", async () => {
    const s = await stage(comments(2))
    const file = s.campaignFile("guide")
    // Records the people without sending, then a process claims one and dies before its request.
    const recorded = await s.cli("run", file, "--max-sends", "0", "--json")
    assert.strictEqual(recorded.code, 5, recorded.stderr)
    const key = { campaign: "guide", platform: "instagram", userId: userId(1), step: "first_message" } as const
    const claimed = await Effect.runPromise(
      Effect.flatMap(
        Ledger.Ledger,
        (ledger) => ledger.claim(key, { message: "Hi", path: "private_reply", runner: "dead-runner", lease: 0 })
      ).pipe(
        Effect.provide(SqliteLedger.layer({ filename: s.db }))
      )
    )
    assert.isTrue(claimed)
    const result = await s.cli("run", file, "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    assert.deepStrictEqual(await repliesPerComment(s.sandbox), once(2))
    const entries = await ledgerEntries(s.db, "guide")
    assert.deepStrictEqual(entries.map((entry) => [entry.userId, entry.state, entry.attempts]), [
      [userId(1), "sent", 2],
      [userId(2), "sent", 1]
    ])
    assert.isTrue(entries.every((entry) => entry.messageId !== undefined && entry.messageId !== ""))
  })

  it("with auto, a retry stays a private reply to the same comment when the person's DM window has opened since", async () => {
    const s = await stage(comments(2), { resetAfterDeliveryRate: 1, dailyDmLimit: 2 })
    const file = s.campaignFile("guide", { delivery: "auto" })
    const first = await s.cli("run", file, "--json")
    assert.strictEqual(first.code, 5, first.stderr)
    assert.strictEqual(jsonSummary(first).counts.in_doubt, 2)
    // Both write to the account: `auto` would now pick a DM for them, but their private replies may have gone out.
    await s.sandbox.personWrites(userId(1), "thanks!")
    await s.sandbox.personWrites(userId(2), "got it?")
    await control(s.sandbox.handle.setFaults({ resetAfterDeliveryRate: 0 }))
    await control(s.sandbox.handle.resetDaily)
    const second = await s.cli("run", file, "--json")
    assert.strictEqual(second.code, 0, second.stderr)
    assert.deepStrictEqual([jsonSummary(second).counts.sent, jsonSummary(second).counts.in_doubt], [2, 0])
    const deliveries = await s.deliveries()
    assert.deepStrictEqual(deliveries.map((delivery) => delivery.kind), ["private_reply", "private_reply"], "no DM")
    const entries = await ledgerEntries(s.db, "guide")
    assert.deepStrictEqual(entries.map((entry) => [entry.state, entry.path, entry.commentId]), [
      ["sent", "private_reply", "c1"],
      ["sent", "private_reply", "c2"]
    ])
  })

  it("killed while sending private replies, then resumed: every comment answered once, everyone sent", async () => {
    const count = 30
    const s = await stage(comments(count), { latency: { minMs: 60, maxMs: 120 } })
    const file = s.campaignFile("guide")
    const child = s.start("run", file, "--json")
    const ended = finished(child)
    for (let waited = 0; waited < 30_000; waited += 20) {
      if ((await s.deliveries()).length >= 6) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    child.kill("SIGKILL")
    const killed = await ended
    assert.strictEqual(killed.signal, "SIGKILL", "killed part-way")
    const delivered = (await s.deliveries()).length
    assert.isBelow(delivered, count)

    const resumed = await s.cli("run", file, "--json")
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.deepStrictEqual(await repliesPerComment(s.sandbox), once(count))
    const entries = await ledgerEntries(s.db, "guide")
    assert.deepStrictEqual(entries.filter((entry) => entry.state !== "sent"), [])
    // The claims in flight at the kill were recovered in doubt and retried (a second attempt each).
    assert.isAbove(entries.filter((entry) => entry.attempts === 2).length, 0, resumed.stderr)
    assert.strictEqual(await s.conversationReads(), 0)
  })

  it("on a first attempt, 'already replied' (another tool answered the comment) stays a refusal", async () => {
    const s = await stage(comments(2))
    const answered = await fetch(`${s.sandbox.baseUrl}/uploadposts/comments/reply`, {
      method: "POST",
      headers: { authorization: `Apikey ${s.sandbox.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ platform: "instagram", user: profile, comment_id: "c1", message: "from another tool" })
    })
    assert.strictEqual(answered.status, 200)
    const result = await s.cli("run", s.campaignFile("guide"), "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    assert.deepStrictEqual([jsonSummary(result).counts.sent, jsonSummary(result).counts.refused], [1, 1])
    const entries = await ledgerEntries(s.db, "guide")
    assert.deepStrictEqual(entries.map((entry) => [entry.userId, entry.state, entry.reason]), [
      [userId(1), "refused", "(#10900) Activity already replied to"],
      [userId(2), "sent", undefined]
    ])
  })
})

describe("one private reply per comment for the whole profile", () => {
  it("a second campaign matching the same comments skips them as comment_taken without a request", async () => {
    const s = await stage(comments(4))
    const first = await s.cli("run", s.campaignFile("spring"), "--json")
    assert.strictEqual(first.code, 0, first.stderr)
    assert.strictEqual(jsonSummary(first).counts.sent, 4)
    const before = await s.replies()

    const second = await s.cli("run", s.campaignFile("autumn"), "--json")
    assert.strictEqual(second.code, 0, second.stderr)
    const summary = jsonSummary(second) as ReturnType<typeof jsonSummary> & {
      readonly skipped_reasons: Record<string, number>
    }
    assert.deepStrictEqual([summary.counts.matched, summary.counts.sent, summary.counts.skipped], [4, 0, 4])
    assert.deepStrictEqual(summary.skipped_reasons, { comment_taken: 4 })
    assert.strictEqual(await s.replies(), before, "no request for a taken comment")
    assert.deepStrictEqual(await repliesPerComment(s.sandbox), once(4))

    const status = JSON.parse((await s.cli("status", s.campaignFile("autumn"), "--json")).stdout)
    assert.deepStrictEqual(status.skipped_reasons, [{ reason: "comment_taken", count: 4 }])
    assert.strictEqual(status.unaccounted, 0)
  })

  it("two campaigns running at once reply to each comment once between them, and skip the rest as comment_taken", async () => {
    const count = 40
    const s = await stage(comments(count), { latency: { minMs: 5, maxMs: 20 } })
    const [a, b] = await Promise.all([
      finished(s.start("run", s.campaignFile("spring"), "--json")),
      finished(s.start("run", s.campaignFile("autumn"), "--json"))
    ])
    assert.strictEqual(a.code, 0, a.stderr)
    assert.strictEqual(b.code, 0, b.stderr)
    const [sa, sb] = [jsonSummary(a).counts, jsonSummary(b).counts]
    assert.strictEqual((sa.sent ?? 0) + (sb.sent ?? 0), count, "every comment answered by one of them")
    assert.strictEqual((sa.skipped ?? 0) + (sb.skipped ?? 0), count, "and skipped by the other")
    assert.deepStrictEqual(await repliesPerComment(s.sandbox), once(count))
    assert.strictEqual(await s.replies(), count, "no request for a comment the other campaign took")
    const entries = [...await ledgerEntries(s.db, "spring"), ...await ledgerEntries(s.db, "autumn")]
    assert.deepStrictEqual(
      entries.filter((entry) => entry.state === "skipped").map((entry) => entry.reason),
      Array.from({ length: count }, () => "comment_taken")
    )
  })
})
