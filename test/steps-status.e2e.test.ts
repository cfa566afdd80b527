/**
 * `status` and `export` for every step, from the outside: the real command reads a ledger that holds rows of the
 * steps after the first message (`follow_up`, `public_reply`), written here through the ledger's own operations as a
 * run of the engagement flow writes them. Each step shows its states, which sum to its base, under `steps`.
 */
import { Ledger } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import type { DataSet } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { cleanups } from "./support/cleanups.js"
import { runCli, tempDir, writeCampaign } from "./support/cli.js"
import { startSandbox } from "./support/sandbox.js"

const profile = "steps"
const postId = "17900000000000099"
const hour = 3_600_000
const campaign = "engagement"

const userId = (n: number) => `17841950000000${String(n).padStart(2, "0")}`
const comment = (n: number): DataSet.Comment => ({
  id: `c${n}`,
  text: "GUIDE please",
  timestamp: new Date(Date.now() - hour).toISOString(),
  user: { id: userId(n), username: `viewer.${n}` }
})

/** Adds a row of `step` for each person, claimed and settled as given (none: left pending). */
const addStep = (
  db: string,
  step: "follow_up" | "public_reply",
  people: ReadonlyArray<readonly [number, Ledger.Settlement | undefined]>
) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const ledger = yield* Ledger.Ledger
      yield* ledger.record(people.map(([n]) => ({
        campaign,
        platform: "instagram",
        userId: userId(n),
        step,
        username: `viewer.${n}`,
        postId,
        commentId: `c${n}`,
        commentText: undefined,
        commentTime: undefined,
        keyword: undefined
      })))
      for (const [n, settlement] of people) {
        if (settlement === undefined) continue
        const key = { campaign, platform: "instagram", userId: userId(n), step }
        assert.isTrue(yield* ledger.claim(key, { message: "next", runner: "test", lease: "1 minute" }))
        assert.isTrue(yield* ledger.settle(key, "test", settlement))
      }
    }).pipe(Effect.provide(SqliteLedger.layer({ filename: db })))
  )

describe("status and export show every step", () => {
  it("each later step with rows is under steps, its states summing to its base; export has a step column", async () => {
    const sandbox = await startSandbox({
      data: { _tag: "Listed", profile, posts: [{ id: postId, comments: [comment(1), comment(2), comment(3)] }] },
      seed: 11
    })
    cleanups.push(sandbox.close)
    const dir = tempDir("comment-dm-steps-")
    cleanups.push(dir.cleanup)
    const db = Path.join(dir.path, "ledger.sqlite")
    const file = writeCampaign(dir.path, "campaign.json", {
      name: campaign,
      platform: "instagram",
      user: profile,
      posts: [postId],
      message: "Hi @{{username}}",
      delivery: "private_reply",
      pace: { per_hour: 1_000_000 }
    })
    const cli = (...args: ReadonlyArray<string>) => runCli([...args, "--db", db], { env: sandbox.env })
    const run = await cli("run", file, "--json")
    assert.strictEqual(run.code, 0, run.stderr)

    // Only the first message so far: no step beyond it is shown.
    const before = JSON.parse((await cli("status", file, "--json")).stdout)
    assert.deepStrictEqual(before.steps, {})
    assert.notInclude((await cli("status", file)).stdout, "follow-up")

    await addStep(db, "follow_up", [
      [1, Ledger.Settlement.Sent({ messageId: "m-f1", at: new Date() })],
      [2, Ledger.Settlement.Skipped({ reason: "window_closed" })],
      [3, undefined]
    ])
    await addStep(db, "public_reply", [
      [1, Ledger.Settlement.Unconfirmed({ reason: "connection reset after the request was sent" })],
      [2, Ledger.Settlement.Sent({ messageId: "p2", at: new Date() })]
    ])

    const status = await cli("status", file, "--json")
    assert.strictEqual(status.code, 0, status.stderr)
    const report = JSON.parse(status.stdout)
    assert.deepStrictEqual([report.matched, report.counts.sent, report.unaccounted], [3, 3, 0], "first message")
    assert.deepStrictEqual(report.steps, {
      follow_up: {
        base: 3,
        counts: { pending: 1, sent: 1, skipped: 1 },
        unaccounted: 0,
        skipped_reasons: [{ reason: "window_closed", count: 1 }]
      },
      public_reply: {
        base: 3,
        counts: { sent: 1, unconfirmed: 1 },
        unaccounted: 1,
        skipped_reasons: []
      }
    })

    const text = (await cli("status", file)).stdout
    assert.include(text, "follow-up: people whose first message was a sent private reply: 3, 0 unaccounted")
    assert.include(text, "public reply: people whose first message was sent: 3, 1 unaccounted")
    assert.match(text, /^ {2}unconfirmed +1$/m)
    assert.match(text, /^ {4}1 × window_closed$/m)

    const jsonl = (await cli("export", file, "--format", "jsonl")).stdout.trim().split("\n").map((line) =>
      JSON.parse(line)
    )
    assert.deepStrictEqual(
      jsonl.map((row) => `${row.user_id}:${row.step}:${row.state}`).sort(),
      [
        `${userId(1)}:first_message:sent`,
        `${userId(1)}:follow_up:sent`,
        `${userId(1)}:public_reply:unconfirmed`,
        `${userId(2)}:first_message:sent`,
        `${userId(2)}:follow_up:skipped`,
        `${userId(2)}:public_reply:sent`,
        `${userId(3)}:first_message:sent`,
        `${userId(3)}:follow_up:pending`
      ]
    )
    const csv = (await cli("export", file)).stdout.trim().split("\n")
    const header = csv[0]!.split(",")
    const stepColumn = header.indexOf("step")
    assert.isAbove(stepColumn, -1)
    assert.deepStrictEqual(
      csv.slice(1).map((line) => line.split(",")[stepColumn]).sort(),
      [
        "first_message",
        "first_message",
        "first_message",
        "follow_up",
        "follow_up",
        "follow_up",
        "public_reply",
        "public_reply"
      ]
    )
  })
})
