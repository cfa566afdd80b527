/**
 * Campaign edits and comment text retention from the outside: the real command against the sandbox over HTTP, a
 * campaign file edited between runs. Settled people are never messaged again; the run says which keys changed; people
 * left pending under the old rules (by `--max-sends`, the daily limit, or a crash that left them in doubt) are judged
 * again under the new rules before any send, and those who no longer match end `skipped` (`campaign_edited`); people
 * in doubt are reconciled against the text they were claimed with, not the edited one. The ledger keeps a person's
 * comment text while they are pending and drops it once they are settled, unless a template uses `{{comment}}`.
 */
import type { DataSet, Delivery } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { cleanups } from "./support/cleanups.js"
import { type CliResult, jsonSummary, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { KillPoint, runAndKill } from "./support/crash-kill.js"
import { byUser, deliveriesPerRecipient, duplicates, ledgerEntries } from "./support/e2e-ledger.js"
import { listedSandbox } from "./support/e2e-listed.js"
import { control, type RunningSandbox } from "./support/sandbox.js"

const profile = "edits"
const postA = "17900000000000071"
const postB = "17900000000000072"
const name = "edits"

const userId = (n: number) => `1784172000000${String(n).padStart(4, "0")}`

/** Commenter `n`, saying `text`, `ago` milliseconds ago (default: `n` minutes). */
const comment = (n: number, text: string, ago = n * 60_000): DataSet.Comment => ({
  id: `c${n}`,
  text,
  timestamp: new Date(Date.now() - ago).toISOString(),
  user: { id: userId(n), username: `viewer.${n}` }
})

interface Stage {
  readonly sandbox: RunningSandbox
  readonly db: string
  /** (Re)writes the campaign file: the base campaign with these keys replaced. */
  readonly write: (changes?: Record<string, unknown>) => string
  readonly run: (...args: ReadonlyArray<string>) => Promise<CliResult>
  readonly deliveries: () => Promise<ReadonlyArray<Delivery.Delivery>>
  readonly rows: () => Promise<ReturnType<typeof byUser>>
}

/** A stage over these posts: windows open unless `messages` says who wrote (see `listedSandbox`). */
const stage = async (
  posts: ReadonlyArray<{ readonly id: string; readonly comments: ReadonlyArray<DataSet.Comment> }>,
  faults: Record<string, unknown> = {},
  messages?: ReadonlyArray<DataSet.Message>
): Promise<Stage> => {
  const sandbox = await listedSandbox({ profile, posts, seed: 19, faults, messages })
  cleanups.push(sandbox.close)
  const dir = tempDir("comment-dm-edits-")
  cleanups.push(dir.cleanup)
  const db = Path.join(dir.path, "ledger.sqlite")
  let file = ""
  const write = (changes: Record<string, unknown> = {}) => (file = writeCampaign(dir.path, "campaign.json", {
    name,
    platform: "instagram",
    user: profile,
    posts: posts.map((post) => post.id),
    match: { keywords: ["guide"] },
    message: "OLD: hi @{{username}}, here is the guide",
    delivery: "dm",
    pace: { per_hour: 1_000_000 },
    ...changes
  }))
  write()
  return {
    sandbox,
    db,
    write,
    run: (...args) => runCli(["run", file, "--db", db, ...args], { env: sandbox.env, timeoutMs: 120_000 }),
    deliveries: () => control(sandbox.handle.deliveries),
    rows: async () => byUser(await ledgerEntries(db, name))
  }
}

const output = (result: CliResult) => `${result.stdout}\n${result.stderr}`
const exitOf = (result: CliResult) => `exit ${result.code}: ${output(result)}`

/** Whether commenter `n` says the word the edits below exclude. */
const isFree = (n: number) => n % 3 === 0
const textOf = (n: number) => isFree(n) ? "guide please, is it free?" : "guide please"

/** Commenters 1 to `count` on one post, every third of them saying the word the edit excludes. */
const freeStage = (count: number, faults?: Record<string, unknown>) => {
  const people = Array.from({ length: count }, (_, i) => i + 1)
  return stage([{ id: postA, comments: people.map((n) => comment(n, textOf(n))) }], faults).then((s) => ({ s, people }))
}

describe("campaign edits", () => {
  it(
    "an exclude added after a stop at --max-sends: people left pending whose comment it matches are skipped (campaign_edited), never messaged",
    async () => {
      const { people, s } = await freeStage(24)
      const first = await s.run("--json", "--max-sends", "4")
      assert.strictEqual(first.code, 5, exitOf(first))
      const before = await s.rows()
      const reached = new Set((await s.deliveries()).map((delivery) => delivery.recipientId))
      assert.strictEqual(reached.size, 4)
      const freeLeft = people.filter((n) => isFree(n) && !reached.has(userId(n)))
      assert.isAbove(freeLeft.length, 0, "people left pending say the word the edit excludes")
      for (const n of people) {
        const row = before.get(userId(n))
        // The comment text stays while a person is pending (judging them again needs it), and goes once they are sent.
        if (reached.has(userId(n))) assert.deepStrictEqual([row?.state, row?.commentText], ["sent", undefined])
        else assert.deepStrictEqual([row?.state, row?.commentText], ["pending", textOf(n)])
      }

      s.write({ match: { keywords: ["guide"], exclude: ["free"] } })
      // A rehearsal judges the same way, and changes nothing.
      const rehearsal = await s.run("--json", "--dry-run")
      assert.strictEqual(rehearsal.code, 0, exitOf(rehearsal))
      assert.strictEqual(jsonSummary(rehearsal).counts["would_send"], people.length - reached.size - freeLeft.length)
      assert.include(output(rehearsal), "match.exclude changed since version 1")
      assert.strictEqual((await s.deliveries()).length, reached.size)
      assert.deepStrictEqual(
        [...(await s.rows()).values()].filter((row) => row.state === "pending").length,
        people.length - reached.size
      )
      const second = await s.run("--json")
      assert.strictEqual(second.code, 0, exitOf(second))

      const deliveries = await s.deliveries()
      assert.deepStrictEqual(duplicates(deliveries), [], "settled people are never messaged again")
      const perRecipient = deliveriesPerRecipient(deliveries)
      const after = await s.rows()
      for (const n of people) {
        const row = after.get(userId(n))
        if (reached.has(userId(n))) {
          assert.strictEqual(row?.state, "sent", `${n}: sent before the edit, and stays so`)
        } else if (isFree(n)) {
          assert.isUndefined(perRecipient.get(userId(n)), `${n}: excluded by the edit, never messaged`)
          assert.deepStrictEqual([row?.state, row?.reason, row?.commentText], ["skipped", "campaign_edited", undefined])
        } else {
          assert.strictEqual(perRecipient.get(userId(n)), 1, `${n}: still matches, messaged once`)
          assert.deepStrictEqual([row?.state, row?.commentText], ["sent", undefined])
        }
      }
      assert.strictEqual(jsonSummary(second).counts["skipped"], freeLeft.length)
      assert.include(output(second), "match.exclude changed since version 1")
      assert.include(output(second), "people pending under the old rules are judged again")
      assert.include(
        output(second),
        `${freeLeft.length} people pending under the campaign's earlier rules no longer match`
      )
    },
    240_000
  )

  it(
    "a post removed after the daily limit stopped a run: its people left pending are skipped (campaign_edited)",
    async () => {
      const onA = [1, 2, 3, 4, 5]
      const onB = [6, 7, 8, 9, 10]
      const s = await stage([
        { id: postB, comments: onB.map((n) => comment(n, "guide please")) },
        { id: postA, comments: onA.map((n) => comment(n, "guide please")) }
      ], { dailyDmLimit: 3 })
      s.write({ posts: [postB, postA] })
      const first = await s.run("--json")
      assert.strictEqual(first.code, 3, exitOf(first))
      const before = await s.rows()
      const pendingOn = (ns: ReadonlyArray<number>) => ns.filter((n) => before.get(userId(n))?.state === "pending")
      const leftOnB = pendingOn(onB)
      assert.isAbove(leftOnB.length, 0, "people of the post to remove are left pending")
      const leftOnA = pendingOn(onA)
      const reachedBefore = new Set((await s.deliveries()).map((delivery) => delivery.recipientId))

      s.write({ posts: [postA] })
      await control(s.sandbox.handle.resetDaily)
      await control(s.sandbox.handle.setFaults({ dailyDmLimit: 100 }))
      const second = await s.run("--json")
      const deliveries = await s.deliveries()
      assert.deepStrictEqual(duplicates(deliveries), [])
      const reachedNow = new Set(deliveries.map((delivery) => delivery.recipientId))
      const after = await s.rows()
      for (const n of leftOnB) {
        assert.isFalse(reachedNow.has(userId(n)), `${n}: on the removed post, never messaged`)
        assert.deepStrictEqual([after.get(userId(n))?.state, after.get(userId(n))?.reason], [
          "skipped",
          "campaign_edited"
        ])
      }
      for (const n of leftOnA) assert.strictEqual(after.get(userId(n))?.state, "sent", `${n}: on a post still followed`)
      for (const n of [...onA, ...onB].filter((n) => reachedBefore.has(userId(n)))) {
        assert.strictEqual(after.get(userId(n))?.state, "sent")
      }
      assert.strictEqual(second.code, 0, exitOf(second))
      assert.include(output(second), "posts changed since version 1")
    },
    240_000
  )

  it(
    "an edited campaign resumed after a crash that left people in doubt: they are reconciled against the text they were claimed with, the others judged again and sent the new text",
    async () => {
      // Every delivered send loses its answer: its person ends in doubt, and a kill leaves the sends in flight claimed.
      const { people, s } = await freeStage(30, { resetAfterDeliveryRate: 1, latency: { minMs: 40, maxMs: 80 } })
      s.write({ pace: { per_hour: 1_000_000, concurrency: 3 } })
      const delivered = Effect.promise(async () => (await s.deliveries()).length)
      const { killed } = await Effect.runPromise(runAndKill(
        ["run", Path.join(Path.dirname(s.db), "campaign.json"), "--db", s.db],
        { env: s.sandbox.env, timeoutMs: 120_000 },
        KillPoint.Sending({ deliveries: 8, afterMs: 30 }),
        delivered
      ))
      assert.isTrue(killed, "the run was killed part-way")
      const before = await s.rows()
      const inDoubt = [...before.values()].filter((row) => row.state === "in_doubt" || row.state === "claimed")
      assert.isAtLeast(inDoubt.length, 8, "the crash left people in doubt")
      const old = new Map((await s.deliveries()).map((delivery) => [delivery.recipientId, delivery]))
      for (const delivery of old.values()) assert.match(delivery.message, /^OLD: /)
      const freeUnsent = people.filter((n) => isFree(n) && !old.has(userId(n)))
      assert.isAbove(freeUnsent.length, 0)

      // Reconciliation leaves claims younger than 5 seconds in doubt (the conversation may not list them yet).
      await new Promise((resolve) => setTimeout(resolve, 5_500))
      s.write({
        pace: { per_hour: 1_000_000, concurrency: 3 },
        message: "NEW: hello @{{username}}, the guide is here",
        match: { keywords: ["guide"], exclude: ["free"] }
      })
      await control(s.sandbox.handle.setFaults({ resetAfterDeliveryRate: 0, latency: { minMs: 0, maxMs: 0 } }))
      const resumed = await s.run("--json")
      assert.strictEqual(resumed.code, 0, exitOf(resumed))
      assert.include(output(resumed), "message and match.exclude changed since version 1")
      assert.strictEqual(jsonSummary(resumed).counts["reconciled"], inDoubt.length)

      const deliveries = await s.deliveries()
      assert.deepStrictEqual(duplicates(deliveries), [], "nobody is messaged twice")
      const all = new Map(deliveries.map((delivery) => [delivery.recipientId, delivery]))
      const after = await s.rows()
      for (const n of people) {
        const id = userId(n)
        const row = after.get(id)
        const earlier = old.get(id)
        if (earlier !== undefined) {
          // Found in the conversations under the text claimed before the edit.
          assert.deepStrictEqual([row?.state, row?.messageId], ["sent", earlier.messageId], `${n}: reconciled`)
          assert.match(row?.message ?? "", /^OLD: /)
        } else if (isFree(n)) {
          assert.isFalse(all.has(id), `${n}: excluded by the edit, never messaged`)
          assert.deepStrictEqual([row?.state, row?.reason], ["skipped", "campaign_edited"], String(n))
        } else {
          assert.match(all.get(id)?.message ?? "", /^NEW: /, `${n}: sent the new text`)
          assert.strictEqual(row?.state, "sent")
        }
        assert.isUndefined(row?.commentText, `${n}: settled, its comment text dropped`)
      }
    },
    240_000
  )

  it(
    "delivery auto: a person skipped before an exclude was added who writes to the account later comes back under the new rules",
    async () => {
      const eightDays = 8 * 24 * 3_600_000
      // Nobody wrote, and the comments are too old for a private reply: both are skipped (comment_too_old).
      const s = await stage(
        [{
          id: postA,
          comments: [comment(1, "guide please, is it free?", eightDays), comment(2, "guide please", eightDays)]
        }],
        {},
        []
      )
      s.write({ delivery: "auto" })
      const first = await s.run("--json")
      assert.strictEqual(first.code, 0, exitOf(first))
      assert.deepStrictEqual(jsonSummary(first).counts["skipped"], 2)

      s.write({ delivery: "auto", match: { keywords: ["guide"], exclude: ["free"] } })
      await s.sandbox.personWrites(userId(1), "hi, is the guide still there?")
      await s.sandbox.personWrites(userId(2), "hi, is the guide still there?")
      const second = await s.run("--json")
      assert.strictEqual(second.code, 0, exitOf(second))
      assert.deepStrictEqual((await s.deliveries()).map((delivery) => `${delivery.kind}:${delivery.recipientId}`), [
        `dm:${userId(2)}`
      ])
      const rows = await s.rows()
      assert.deepStrictEqual([rows.get(userId(1))?.state, rows.get(userId(1))?.reason], ["skipped", "campaign_edited"])
      assert.strictEqual(rows.get(userId(2))?.state, "sent")
    },
    240_000
  )

  it("a template with {{comment}} keeps the texts of settled people; once the file drops it, they go", async () => {
    const s = await stage([{ id: postA, comments: [1, 2, 3].map((n) => comment(n, `guide ${n}, please`)) }])
    s.write({ message: "You said \"{{comment}}\", here is the guide" })
    const first = await s.run("--json")
    assert.strictEqual(first.code, 0, exitOf(first))
    const kept = await s.rows()
    assert.deepStrictEqual([1, 2, 3].map((n) => kept.get(userId(n))?.commentText), [
      "guide 1, please",
      "guide 2, please",
      "guide 3, please"
    ])

    s.write({ message: "Here is the guide, @{{username}}" })
    await control(s.sandbox.handle.addComment({ postId: postA, ...comment(4, "guide 4, please") }))
    const second = await s.run("--json")
    assert.strictEqual(second.code, 0, exitOf(second))
    assert.include(output(second), "message changed since version 1")
    const dropped = await s.rows()
    assert.deepStrictEqual(
      [1, 2, 3, 4].map((n) => [dropped.get(userId(n))?.state, dropped.get(userId(n))?.commentText]),
      [
        ["sent", undefined],
        ["sent", undefined],
        ["sent", undefined],
        ["sent", undefined]
      ]
    )
    assert.strictEqual((await s.deliveries()).length, 4, "the people settled before the edit are not messaged again")
  }, 240_000)
})
