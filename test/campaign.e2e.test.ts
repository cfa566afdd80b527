/**
 * The real `comment-dm` command, as a child process, against the sandbox over HTTP, with a real SQLite ledger.
 * The sandbox's deliveries are the ground truth for what was sent; the people a campaign must reach are written out
 * by hand in the data set (../packages/core/test/support/e2e-data.ts).
 *
 * Each command start costs a few seconds, so the tests run concurrently, each with its own sandbox and directory.
 */
import type { Sandbox } from "@comment-dm/sandbox"
import { assert, describe, it, type TestContext } from "@effect/vitest"
import * as Fs from "node:fs"
import {
  crowdData,
  expectedRecipients,
  guideCampaign,
  guideComments,
  guideData,
  guideDropped,
  people,
  possibleMessages,
  profile
} from "../packages/core/test/support/e2e-data.js"
import { forwardTo, startRawServer } from "../packages/core/test/support/e2e-rawServer.js"
import { type CliResult, finished, jsonSummary, startCli } from "./support/cli.js"
import { nextDay } from "./support/e2e-clock.js"
import { parseCsv } from "./support/e2e-csv.js"
import { byUser, deliveriesPerRecipient, duplicates, ledgerEntries } from "./support/e2e-ledger.js"
import * as Slots from "./support/e2e-slots.js"
import * as Studio from "./support/e2e-studio.js"
import { control, type RunningSandbox } from "./support/sandbox.js"

const slots = Slots.perCore()

/**
 * A test's time limit. Commands wait for a free slot, so a test may wait for the commands of the others; a command
 * that hangs is killed after 90 seconds on its own.
 */
const budget = 240_000

/**
 * A sandbox serving the guide data set (or `options.data`) and a temporary directory for one test. Open windows: these
 * tests expect every matching commenter to be reachable by DM, refused people aside.
 */
const studio = (context: TestContext, options: Sandbox.SandboxOptions = {}) =>
  Studio.make(context, slots, { data: guideData, seed: 1, windows: "open", ...options })

const deliveries = (sandbox: RunningSandbox) => control(sandbox.handle.deliveries)
const stats = (sandbox: RunningSandbox) => control(sandbox.handle.stats)

/** The exit code, with the output when it is not the one expected. */
const assertExit = (result: CliResult, code: number) =>
  assert.strictEqual(result.code, code, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`)

/** "would send to @name (id) (post ...): "text"" lines of a dry run, by user id. */
const wouldSend = (log: string): ReadonlyMap<string, string> => {
  const messages = new Map<string, string>()
  for (const line of log.split("\n")) {
    const found = /^would send to (?:@\S+ \((\d+)\)|user (\d+)) \(post [^)]*\): (".*")$/.exec(line)
    const userId = found?.[1] ?? found?.[2]
    if (found?.[3] !== undefined && userId !== undefined) messages.set(userId, JSON.parse(found[3]))
  }
  return messages
}

describe.concurrent("comment-dm run against the sandbox", () => {
  it(
    "sends one DM per matching person with their variant; a second run sends nothing; status and export agree",
    async (context) => {
      const { cli, db, file, sandbox } = await studio(context, { faults: { refusedRecipients: [people.sam] } })
      const campaign = file(guideCampaign())

      const dryRun = await cli(["run", campaign, "--db", db, "--dry-run", "--json"])
      assertExit(dryRun, 0)
      assert.strictEqual(jsonSummary(dryRun).outcome, "dry_run")
      assert.strictEqual(jsonSummary(dryRun).counts["would_send"], expectedRecipients.size)
      assert.deepStrictEqual(await deliveries(sandbox), [])
      assert.isFalse(Fs.existsSync(db), "a dry run writes no ledger")
      const previewed = wouldSend(dryRun.stderr)
      assert.sameMembers([...previewed.keys()], [...expectedRecipients.keys()])

      const first = await cli(["run", campaign, "--db", db, "--json"])
      assertExit(first, 0)
      const summary = jsonSummary(first)
      assert.strictEqual(summary.outcome, "completed")
      assert.deepInclude(summary.counts, {
        comments: guideComments,
        dropped: guideDropped,
        matched: expectedRecipients.size,
        new: expectedRecipients.size,
        sent: expectedRecipients.size - 1,
        already_sent: 0,
        refused: 1,
        pending: 0,
        in_doubt: 0
      })

      const sent = await deliveries(sandbox)
      assert.sameMembers(
        sent.map((d) => d.recipientId),
        [...expectedRecipients.keys()].filter((id) => id !== people.sam)
      )
      assert.deepStrictEqual(duplicates(sent), [])
      for (const delivery of sent) {
        const username = expectedRecipients.get(delivery.recipientId) ?? "?"
        assert.strictEqual(delivery.kind, "dm")
        assert.include(possibleMessages(username), delivery.message, `the text for @${username}`)
        assert.strictEqual(delivery.message, previewed.get(delivery.recipientId), "the same variant as the dry run")
      }
      const variantsUsed = new Set(sent.map((d) =>
        possibleMessages(expectedRecipients.get(d.recipientId) ?? "?")
          .indexOf(d.message)
      ))
      assert.strictEqual(variantsUsed.size, 2, "both variants are in use")

      const rows = byUser(await ledgerEntries(db, "guide-e2e"))
      assert.deepStrictEqual([...rows.keys()].sort(), [...expectedRecipients.keys()].sort())
      assert.strictEqual(rows.get(people.sam)?.state, "refused")
      assert.strictEqual(rows.get(people.sam)?.reason, "(#10) This message is sent outside of allowed window.")
      for (const delivery of sent) {
        assert.strictEqual(rows.get(delivery.recipientId)?.state, "sent")
        assert.strictEqual(rows.get(delivery.recipientId)?.messageId, delivery.messageId)
      }

      const sendsBefore = (await stats(sandbox)).requests["POST /uploadposts/dms/send"]
      const second = await cli(["run", campaign, "--db", db, "--json"])
      assertExit(second, 0)
      assert.strictEqual(jsonSummary(second).outcome, "completed")
      assert.deepInclude(jsonSummary(second).counts, {
        matched: expectedRecipients.size,
        new: 0,
        sent: 0,
        already_sent: expectedRecipients.size - 1,
        refused: 1
      })
      assert.deepStrictEqual(await deliveries(sandbox), sent)
      assert.strictEqual((await stats(sandbox)).requests["POST /uploadposts/dms/send"], sendsBefore, "no retry")

      const [status, csv, jsonl] = await Promise.all([
        cli(["status", campaign, "--db", db, "--json"]),
        cli(["export", campaign, "--db", db, "--format", "csv"]),
        cli(["export", campaign, "--db", db, "--format", "jsonl"])
      ])
      for (const result of [status, csv, jsonl]) assertExit(result, 0)
      const report = JSON.parse(status.stdout.trim().split("\n").at(-1) ?? "")
      assert.deepStrictEqual(report.counts, { pending: 0, claimed: 0, sent: sent.length, refused: 1, in_doubt: 0 })
      assert.strictEqual(report.matched, expectedRecipients.size)
      assert.strictEqual(report.unaccounted, 0)
      assert.deepStrictEqual(report.refused_reasons, [
        { reason: "(#10) This message is sent outside of allowed window.", count: 1 }
      ])
      const delivered = sent.map((d) => [d.recipientId, d.messageId, d.message].join("|"))
      const csvRows = parseCsv(csv.stdout)
      assert.strictEqual(csvRows.length, expectedRecipients.size)
      assert.sameMembers(
        csvRows.filter((row) => row["state"] === "sent").map((row) =>
          [row["user_id"], row["message_id"], row["message"]].join("|")
        ),
        delivered
      )
      const lines = jsonl.stdout.trim().split("\n").map((line) => JSON.parse(line))
      assert.strictEqual(lines.length, expectedRecipients.size)
      assert.sameMembers(
        lines.filter((line) => line.state === "sent").map((line) =>
          [line.user_id, line.message_id, line.message].join("|")
        ),
        delivered
      )
      assert.deepStrictEqual(
        lines.filter((line) => line.state === "refused").map((line) => [line.user_id, line.reason]),
        [[people.sam, "(#10) This message is sent outside of allowed window."]]
      )
    },
    budget
  )

  it("stops at the daily DM limit with exit 3, keeps the rest pending, and completes the next day", async (context) => {
    // Half the people today, the other half after the reset.
    const limit = expectedRecipients.size / 2
    const { cli, db, file, sandbox } = await studio(context, { faults: { dailyDmLimit: limit } })
    const campaign = file(guideCampaign())

    const limited = await cli(["run", campaign, "--db", db, "--json"])
    assertExit(limited, 3)
    assert.strictEqual(jsonSummary(limited).outcome, "daily_limit")
    assert.strictEqual((await deliveries(sandbox)).length, limit)
    const entries = await ledgerEntries(db, "guide-e2e")
    assert.strictEqual(entries.filter((entry) => entry.state === "sent").length, limit)
    assert.strictEqual(entries.filter((entry) => entry.state === "pending").length, expectedRecipients.size - limit)
    assert.strictEqual(entries.length, expectedRecipients.size)

    // The ledger remembers the limit until the next UTC day, so the resumed run plays the next day, after the reset.
    await control(sandbox.handle.resetDaily)
    const resumed = await cli(["run", campaign, "--db", db, "--json"], { ...sandbox.env, ...nextDay() })
    assertExit(resumed, 0)
    assert.strictEqual(jsonSummary(resumed).outcome, "completed")
    assert.deepInclude(jsonSummary(resumed).counts, { sent: expectedRecipients.size - limit, already_sent: limit })
    const sent = await deliveries(sandbox)
    assert.deepStrictEqual(duplicates(sent), [])
    assert.sameMembers(sent.map((d) => d.recipientId), [...expectedRecipients.keys()])
  }, budget)

  it("rejects bad campaign files with exit 2, naming the key, before any request", async (context) => {
    const { cli, db, file, sandbox } = await studio(context)
    const typo = file(
      [
        "name: guide-e2e",
        "platform: instagram",
        `user: ${profile}`,
        "posts: [\"17900000000000101\"]",
        "mesage: \"Hi @{{username}}\""
      ].join("\n"),
      "typo.yaml"
    )
    const badPace = file(guideCampaign({ pace: { per_hour: "fast" } }), "pace.json")
    const [typoResult, paceResult] = await Promise.all([
      cli(["run", typo, "--db", db]),
      cli(["run", badPace, "--db", db])
    ])
    assertExit(typoResult, 2)
    assert.include(typoResult.stderr, "unknown key \"mesage\"")
    assert.include(typoResult.stderr, "did you mean \"message\"")
    assertExit(paceResult, 2)
    assert.include(paceResult.stderr, "pace.per_hour")
    assert.deepStrictEqual((await stats(sandbox)).requests, {}, "the sandbox saw no request")
  }, budget)

  it("exits 2 without UPLOAD_POST_API_KEY, saying so, before any request", async (context) => {
    const { cli, db, file, sandbox } = await studio(context)
    const missing = await cli(["run", file(guideCampaign()), "--db", db], { UPLOAD_POST_BASE_URL: sandbox.baseUrl })
    assertExit(missing, 2)
    assert.include(missing.stderr, "UPLOAD_POST_API_KEY")
    assert.deepStrictEqual((await stats(sandbox)).requests, {})
  }, budget)

  it("exits 4 with a bad key, which it never prints", async (context) => {
    const { cli, db, file, sandbox } = await studio(context)
    const badKey = "sk-wrong-0123456789"
    const wrong = await cli(["run", file(guideCampaign()), "--db", db], {
      UPLOAD_POST_BASE_URL: sandbox.baseUrl,
      UPLOAD_POST_API_KEY: badKey
    })
    assertExit(wrong, 4)
    assert.notInclude(wrong.stdout + wrong.stderr, badKey)
    assert.include(wrong.stderr, "UPLOAD_POST_API_KEY", "the message says which setting to check")
    assert.deepStrictEqual(await deliveries(sandbox), [])
  }, budget)

  it("stops on a malformed comments page with exit 1 and an excerpt; nothing is lost", async (context) => {
    const { cli, db, file, sandbox } = await studio(context, { data: crowdData(60, new Date(Date.now() - 3_600_000)) })
    const spoiledPage = JSON.stringify({ success: true, pagination: { next_cursor: null, has_next: false } })
    const forward = forwardTo(sandbox.baseUrl)
    // The second page comes late, so that people of the first page are sent to before the run stops.
    const proxy = await startRawServer(async (request) =>
      request.url.pathname.endsWith("/uploadposts/comments") && request.url.searchParams.has("after")
        ? new Promise((resolve) => setTimeout(() => resolve({ status: 200, body: spoiledPage }), 400))
        : forward(request)
    )
    context.onTestFinished(() => proxy.close())
    const campaign = file(guideCampaign({ posts: ["17900000000000201"] }))

    const stopped = await cli(["run", campaign, "--db", db, "--json"], {
      UPLOAD_POST_BASE_URL: proxy.baseUrl,
      UPLOAD_POST_API_KEY: sandbox.apiKey
    })
    assertExit(stopped, 1)
    assert.include(stopped.stderr, "does not fit the API")
    assert.include(stopped.stderr, "comments")
    assert.include(stopped.stderr, "pagination", "an excerpt of the body")
    const sentBefore = await deliveries(sandbox)
    assert.isAbove(sentBefore.length, 0, "people of the first page were sent to before the stop")
    const entries = await ledgerEntries(db, "guide-e2e")
    const rows = byUser(entries)
    for (const delivery of sentBefore) {
      assert.strictEqual(rows.get(delivery.recipientId)?.state, "sent")
      assert.strictEqual(rows.get(delivery.recipientId)?.messageId, delivery.messageId)
    }
    assert.deepStrictEqual(
      entries.filter((entry) => entry.state !== "sent" && entry.state !== "pending").map((entry) => entry.state),
      []
    )
    assert.strictEqual(entries.filter((entry) => entry.state === "sent").length, sentBefore.length)

    const resumed = await cli(["run", campaign, "--db", db, "--json"])
    assertExit(resumed, 0)
    assert.strictEqual(jsonSummary(resumed).outcome, "completed")
    const sent = await deliveries(sandbox)
    assert.deepStrictEqual(duplicates(sent), [])
    assert.strictEqual(sent.length, 60)
  }, budget)

  it("--max-sends 5 sends exactly 5 and exits 5", async (context) => {
    const { cli, db, file, sandbox } = await studio(context)
    const capped = await cli(["run", file(guideCampaign()), "--db", db, "--max-sends", "5", "--json"])
    assertExit(capped, 5)
    assert.strictEqual(jsonSummary(capped).outcome, "incomplete")
    assert.deepInclude(jsonSummary(capped).counts, { sent: 5, pending: expectedRecipients.size - 5 })
    const sent = await deliveries(sandbox)
    assert.strictEqual(sent.length, 5)
    assert.deepStrictEqual(duplicates(sent), [])
  }, budget)

  it("delivers by private reply, and refuses comments older than 7 days without a request", async (context) => {
    const day = 24 * 3_600_000
    const at = (ago: number) => new Date(Date.now() - ago).toISOString().replace(/\.\d{3}Z$/, "+0000")
    const { cli, db, file, sandbox } = await studio(context, {
      data: {
        _tag: "Listed",
        profile,
        posts: [{
          id: "17900000000000301",
          comments: [
            { id: "c-recent", text: "guide", timestamp: at(day), user: { id: people.anna, username: "anna" } },
            { id: "c-fresh", text: "GUIDE", timestamp: at(3_600_000), user: { id: people.kenji, username: "kenji" } },
            { id: "c-old", text: "guide please", timestamp: at(10 * day), user: { id: people.noah, username: "noah" } }
          ]
        }]
      }
    })
    const campaign = file(guideCampaign({ posts: ["17900000000000301"], delivery: "private_reply" }))
    const result = await cli(["run", campaign, "--db", db, "--json"])
    assertExit(result, 0)
    assert.deepInclude(jsonSummary(result).counts, { sent: 2, refused: 1 })
    const sent = await deliveries(sandbox)
    assert.sameDeepMembers(sent.map((d) => [d.kind, d.recipientId, d.commentId]), [
      ["private_reply", people.anna, "c-recent"],
      ["private_reply", people.kenji, "c-fresh"]
    ])
    assert.strictEqual((await stats(sandbox)).requests["POST /uploadposts/comments/reply"], 2)
    const noah = byUser(await ledgerEntries(db, "guide-e2e")).get(people.noah)
    assert.strictEqual(noah?.state, "refused")
    assert.include(noah?.reason, "7 days")
  }, budget)

  it(
    "on SIGINT settles the sends in flight and exits 130; the next run resumes without duplicates",
    async (context) => {
      const { cli, db, file, sandbox } = await studio(context, {
        data: crowdData(30, new Date(Date.now() - 3_600_000)),
        faults: { latency: { minMs: 150, maxMs: 150 } }
      })
      const campaign = file(guideCampaign({ posts: ["17900000000000201"], pace: { per_hour: 360000, concurrency: 2 } }))
      const interrupted = await slots(() => {
        const child = startCli(["run", campaign, "--db", db, "--json"], { env: sandbox.env })
        context.onTestFinished(() => {
          child.kill("SIGKILL")
        })
        // One signal only: a second one means "quit now" and skips the settling under test.
        let signalled = false
        child.stderr?.on("data", (chunk: Buffer | string) => {
          if (!signalled && String(chunk).includes("sent to")) {
            signalled = true
            child.kill("SIGINT")
          }
        })
        return finished(child, 90_000)
      })
      assertExit(interrupted, 130)
      assert.strictEqual(jsonSummary(interrupted).outcome, "interrupted")

      const sentBefore = await deliveries(sandbox)
      assert.isAbove(sentBefore.length, 0)
      assert.isBelow(sentBefore.length, 30, "stopped before the end")
      const rows = byUser(await ledgerEntries(db, "guide-e2e"))
      assert.deepStrictEqual([...rows.values()].filter((row) => row.state === "claimed"), [], "every claim settled")
      for (const delivery of sentBefore) {
        assert.strictEqual(rows.get(delivery.recipientId)?.state, "sent")
        assert.strictEqual(rows.get(delivery.recipientId)?.messageId, delivery.messageId)
      }

      const resumed = await cli(["run", campaign, "--db", db, "--json"])
      assertExit(resumed, 0)
      assert.strictEqual(jsonSummary(resumed).outcome, "completed")
      const sent = await deliveries(sandbox)
      assert.strictEqual(sent.length, 30)
      assert.isTrue([...deliveriesPerRecipient(sent).values()].every((count) => count === 1), "no duplicates")
    },
    budget
  )
})
