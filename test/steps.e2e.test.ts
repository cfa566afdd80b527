/**
 * The steps after the first message from the outside: the real command against the faithful sandbox over HTTP. A
 * public reply under each comment whose first message was sent, a follow-up DM once a person writes back (`run` and
 * `watch` both read the conversations), the daily cap shared by the three steps in their order, each step's states
 * summing to its base in `--json`, and runs killed with SIGKILL in each step, then resumed: no comment gets two
 * replies of a kind and nobody two follow-ups.
 */
import type { DataSet, Delivery } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { cleanups } from "./support/cleanups.js"
import { type CliResult, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { KillPoint, runAndKill } from "./support/crash-kill.js"
import { control, type RunningSandbox, startSandbox } from "./support/sandbox.js"

const profile = "steps"
const postId = "17900000000000077"
const hour = 3_600_000

const userId = (n: number) => `178417100000${String(n).padStart(5, "0")}`

/** Commenter `n`, who asks for the guide an hour before now (no message to the account: a private reply). */
const comment = (n: number): DataSet.Comment => ({
  id: `c${n}`,
  text: "GUIDE please",
  timestamp: new Date(Date.now() - hour).toISOString(),
  user: { id: userId(n), username: `viewer.${n}` }
})

interface Stage {
  readonly sandbox: RunningSandbox
  readonly file: string
  readonly db: string
  readonly cli: (...args: ReadonlyArray<string>) => Promise<CliResult>
  readonly deliveries: () => Promise<ReadonlyArray<Delivery.Delivery>>
}

const stage = async (
  people: number,
  faults: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
  messages: ReadonlyArray<DataSet.Message> = []
) => {
  const sandbox = await startSandbox({
    data: {
      _tag: "Listed",
      profile,
      posts: [{ id: postId, comments: Array.from({ length: people }, (_, i) => comment(i + 1)) }],
      messages: [...messages]
    },
    seed: 11,
    windows: "faithful",
    faults
  })
  cleanups.push(sandbox.close)
  const dir = tempDir("comment-dm-steps-")
  cleanups.push(dir.cleanup)
  const db = Path.join(dir.path, "ledger.sqlite")
  const file = writeCampaign(dir.path, "campaign.json", {
    name: "steps",
    platform: "instagram",
    user: profile,
    posts: [postId],
    match: { keywords: ["guide"] },
    message: "Hi @{{username}}, here is the guide",
    follow_up: { message: "Here is the link, @{{username}}: https://example.com/g", when: ["link", "yes"] },
    public_reply: { message: ["Sent you a DM 📩", "Check your inbox ✉️"], per_hour: 360_000 },
    pace: { per_hour: 1_000_000 },
    ...extra
  })
  return {
    sandbox,
    file,
    db,
    cli: (...args) => runCli([...args, "--db", db], { env: sandbox.env }),
    deliveries: () => control(sandbox.handle.deliveries)
  } satisfies Stage
}

const lastLine = (result: CliResult) => {
  const lines = result.stdout.trim().split("\n")
  return JSON.parse(lines[lines.length - 1] ?? "null")
}

const nonZero = (counts: Record<string, number> | undefined) =>
  Object.fromEntries(Object.entries(counts ?? {}).filter(([, count]) => count > 0))

const total = (counts: Record<string, number> | undefined) => Object.values(counts ?? {}).reduce((a, b) => a + b, 0)

const kinds = (deliveries: ReadonlyArray<Delivery.Delivery>) =>
  deliveries.map((delivery) => `${delivery.kind}:${delivery.commentId ?? delivery.recipientId}`)

/** How many times each comment got a reply of a kind, and each person a DM: none may be over one. */
const repeated = (deliveries: ReadonlyArray<Delivery.Delivery>) => {
  const seen = new Map<string, number>()
  for (const key of kinds(deliveries)) seen.set(key, (seen.get(key) ?? 0) + 1)
  return [...seen].filter(([, count]) => count > 1)
}

/** Each step's states sum to its base: the sent private replies (follow-up), everyone sent (public reply). */
const assertStepsAddUp = (
  summary: {
    counts: Record<string, number>
    steps: Record<string, Record<string, number>>
    sent_by_path: Record<string, number>
  }
) => {
  assert.strictEqual(total(summary.steps.follow_up), summary.sent_by_path.private_reply ?? 0, "follow_up base")
  assert.strictEqual(
    total(summary.steps.public_reply),
    (summary.counts.sent ?? 0) + (summary.counts.already_sent ?? 0),
    "public_reply base"
  )
}

describe("follow_up and public_reply against the sandbox", () => {
  it("a public reply after each private reply, a follow-up once the person writes back, each once", async () => {
    const s = await stage(4)
    const first = await s.cli("run", s.file, "--json")
    assert.strictEqual(first.code, 0, first.stderr)
    const summary = lastLine(first)
    assert.strictEqual(summary.outcome, "completed")
    assert.strictEqual(summary.counts.sent, 4, "counts are the first message's")
    assert.deepStrictEqual(nonZero(summary.steps.public_reply), { sent: 4 })
    assert.deepStrictEqual(nonZero(summary.steps.follow_up), { awaiting_reply: 4 })
    assertStepsAddUp(summary)
    assert.deepStrictEqual(kinds(await s.deliveries()).sort(), [
      "private_reply:c1",
      "private_reply:c2",
      "private_reply:c3",
      "private_reply:c4",
      "public_reply:c1",
      "public_reply:c2",
      "public_reply:c3",
      "public_reply:c4"
    ])
    const texts = new Set((await s.deliveries()).filter((d) => d.kind === "public_reply").map((d) => d.message))
    assert.isTrue([...texts].every((text) => ["Sent you a DM 📩", "Check your inbox ✉️"].includes(text)))

    // 1 asks for the link, 2 opts out, 3 writes what `when` does not take; 4 stays silent. A watcher sees them.
    await s.sandbox.personWrites(userId(1), "yes, the link please")
    await s.sandbox.personWrites(userId(2), "STOP")
    await s.sandbox.personWrites(userId(3), "thanks")
    const watched = await s.cli("watch", s.file, "--once", "--json")
    assert.strictEqual(watched.code, 0, watched.stderr)
    const after = lastLine(watched)
    assert.deepStrictEqual(nonZero(after.steps.follow_up), { sent: 1, awaiting_reply: 3 })
    const followUps = (await s.deliveries()).filter((d) => d.kind === "dm")
    assert.deepStrictEqual(followUps.map((d) => [d.recipientId, d.message]), [
      [userId(1), "Here is the link, @viewer.1: https://example.com/g"]
    ])
    assert.include(watched.stderr, `@viewer.1 (${userId(1)}) (follow-up)`)

    // 4 writes now: `run` reads the conversations when it starts; nobody else gets anything again.
    await s.sandbox.personWrites(userId(4), "LINK?")
    const again = await s.cli("run", s.file, "--json")
    assert.strictEqual(again.code, 0, again.stderr)
    const last = lastLine(again)
    assert.deepStrictEqual(nonZero(last.steps.follow_up), { sent: 2, awaiting_reply: 2 })
    assertStepsAddUp(last)
    const all = await s.deliveries()
    assert.strictEqual(all.length, 10)
    assert.deepStrictEqual(repeated(all), [])
  }, 60_000)

  it("a single public reply variant gets a warning; a campaign without the steps has no steps in --json", async () => {
    const s = await stage(1, {}, { public_reply: "Sent you a DM 📩", follow_up: undefined })
    const result = await s.cli("run", s.file, "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    const summary = lastLine(result)
    assert.match(summary.notices.join("\n"), /public_reply has a single message/)
    assert.deepStrictEqual(Object.keys(summary.steps), ["public_reply"])
    const plain = await stage(1, {}, { public_reply: undefined, follow_up: undefined })
    const without = lastLine(await plain.cli("run", plain.file, "--json"))
    assert.strictEqual(without.steps, undefined)
  }, 60_000)

  it("a bad follow_up or public_reply is refused at load with the key's path, nothing sent", async () => {
    const s = await stage(1, {}, { follow_up: { message: "x", within: "soon" }, public_reply: { message: [] } })
    const result = await s.cli("run", s.file, "--json")
    assert.strictEqual(result.code, 2)
    assert.include(result.stderr, "follow_up.within: expected a duration")
    assert.include(result.stderr, "public_reply.message: expected at least one message variant")
    assert.deepStrictEqual(await s.deliveries(), [])
  }, 60_000)

  it(
    "the daily cap, counting public replies, goes to follow-ups first, then first messages, then public replies",
    async () => {
      const s = await stage(3, { dailyDmLimit: 4 })
      const first = await s.cli("run", s.file, "--json")
      assert.strictEqual(first.code, 3, first.stderr)
      const summary = lastLine(first)
      assert.strictEqual(summary.outcome, "daily_limit")
      assert.deepStrictEqual(nonZero(summary.steps.public_reply), { sent: 1, pending: 2 })
      assertStepsAddUp(summary)

      // A new day with room for two: 1's follow-up, then the new commenter's private reply; the public replies wait.
      await s.sandbox.personWrites(userId(1), "link")
      await control(s.sandbox.handle.addComment({ postId, ...comment(4) }))
      await control(s.sandbox.handle.resetDaily)
      await control(s.sandbox.handle.setFaults({ dailyDmLimit: 2 }))
      const before = (await s.deliveries()).length
      const second = await s.cli("run", s.file, "--json")
      assert.strictEqual(second.code, 3, second.stderr)
      assert.deepStrictEqual(kinds((await s.deliveries()).slice(before)), [`dm:${userId(1)}`, "private_reply:c4"])
      const short = lastLine(second)
      assert.deepStrictEqual(nonZero(short.steps.public_reply), { sent: 1, pending: 3 })

      await control(s.sandbox.handle.resetDaily)
      await control(s.sandbox.handle.setFaults({ dailyDmLimit: 500 }))
      const done = await s.cli("run", s.file, "--json")
      assert.strictEqual(done.code, 0, done.stderr)
      const final = lastLine(done)
      assert.deepStrictEqual(nonZero(final.steps.public_reply), { sent: 4 })
      assertStepsAddUp(final)
      assert.deepStrictEqual(repeated(await s.deliveries()), [])
    },
    60_000
  )

  it(
    "killed with SIGKILL in each step and resumed: no comment gets two replies of a kind, nobody two follow-ups",
    async () => {
      const people = 24
      // Everyone wrote once two days ago (their window is closed): their conversations reach back to before any claim,
      // so reconciliation can tell a message in doubt that never went out.
      const written = Array.from({ length: people }, (_, i) => ({
        from: userId(i + 1),
        text: "hello",
        timestamp: new Date(Date.now() - 48 * hour).toISOString()
      }))
      const s = await stage(people, { latency: { minMs: 20, maxMs: 80 }, resetAfterDeliveryRate: 0.1 }, {
        public_reply: { message: ["Sent you a DM 📩", "Check your inbox ✉️"], per_hour: 36_000 }
      }, written)
      const args = ["run", s.file, "--json", "--db", s.db]
      const options = { env: s.sandbox.env }
      const delivered = Effect.promise(() => s.deliveries().then((all) => all.length))
      const kill = (deliveries: number) =>
        Effect.runPromise(runAndKill(args, options, KillPoint.Sending({ deliveries, afterMs: 5 }), delivered))
      // In the first messages, then in the public replies (after every first message), then in the follow-ups.
      const inFirst = await kill(5)
      assert.isTrue(inFirst.killed, inFirst.result.stderr)
      const inPublic = await kill(people - 5 + 4)
      assert.isTrue(inPublic.killed, inPublic.result.stderr)
      assert.isTrue((await s.deliveries()).some((d) => d.kind === "public_reply"), "killed among the public replies")
      for (let n = 1; n <= 12; n++) await s.sandbox.personWrites(userId(n), "yes")
      const inFollowUp = await kill(2)
      assert.isTrue(inFollowUp.killed, inFollowUp.result.stderr)
      assert.isTrue((await s.deliveries()).some((d) => d.kind === "dm"), "killed among the follow-ups")
      assert.deepStrictEqual(repeated(await s.deliveries()), [], "after the kills")

      // Resumed without faults (in-doubt claims need a few seconds before reconciliation judges them).
      await control(s.sandbox.handle.setFaults({ latency: { minMs: 0, maxMs: 0 }, resetAfterDeliveryRate: 0 }))
      await new Promise((resolve) => setTimeout(resolve, 6_000))
      const resumed = await s.cli("run", s.file, "--json")
      assert.include([0, 5], resumed.code, resumed.stderr)
      const final = lastLine(resumed.code === 0 ? resumed : await s.cli("run", s.file, "--json"))
      assert.strictEqual(final.outcome, "completed", JSON.stringify(final))
      assertStepsAddUp(final)
      const deliveries = await s.deliveries()
      assert.deepStrictEqual(repeated(deliveries), [], "after the resumed runs")
      const count = (kind: string) => deliveries.filter((d) => d.kind === kind).length
      assert.strictEqual(count("private_reply"), people)
      assert.strictEqual(final.counts.sent + final.counts.already_sent, people)
      // A public reply cut off mid-way is unconfirmed, never sent again: what went out is the sent and some of those.
      const publicReplies = final.steps.public_reply
      assert.isAtLeast(count("public_reply"), publicReplies.sent)
      assert.isAtMost(count("public_reply"), publicReplies.sent + publicReplies.unconfirmed)
      assert.strictEqual(publicReplies.sent + publicReplies.unconfirmed, people)
      const followUps = final.steps.follow_up
      assert.strictEqual(count("dm"), followUps.sent, "a follow-up in doubt is reconciled, not resent")
      assert.strictEqual(followUps.sent, 12)
      assert.strictEqual(followUps.awaiting_reply, people - 12)
    },
    120_000
  )
})
