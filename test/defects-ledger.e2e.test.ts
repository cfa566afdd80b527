/**
 * Defects of issue 13 about what the ledger records and what a run reads: the real `comment-dm` command as a child
 * process against an in-process sandbox over HTTP, on a real PostgreSQL server (started for the file) or a real
 * SQLite file. The sandbox's deliveries are the ground truth for what was sent.
 */
import * as SqliteLedger from "@comment-dm/core/sqlite"
import type { Sandbox } from "@comment-dm/sandbox"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, type TestContext } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import {
  crowdPost,
  expectedRecipients,
  guideCampaign,
  guideData,
  guidePost
} from "../packages/core/test/support/e2e-data.js"
import { type CliResult, finished, jsonSummary, startCli } from "./support/cli.js"
import { deliveriesPerRecipient } from "./support/e2e-ledger.js"
import { serverForBlock } from "./support/e2e-postgres.js"
import * as Slots from "./support/e2e-slots.js"
import * as Studio from "./support/e2e-studio.js"
import { findPostgres } from "./support/postgres.js"
import { control } from "./support/sandbox.js"

const slots = Slots.make(1)

/**
 * A sandbox and a temporary directory for one test, both gone when it finishes. Open windows: these tests expect every
 * matching commenter to be reachable by DM, refused people aside.
 */
const studio = (context: TestContext, options: Sandbox.SandboxOptions = {}) =>
  Studio.make(context, slots, { data: guideData, seed: 1, windows: "open", ...options })

/** The exit code, with the output when it is not the one expected. */
const assertExit = (result: CliResult, code: number) =>
  assert.strictEqual(result.code, code, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`)

const postgres = findPostgres()

describe.skipIf(postgres.install === undefined)("13.2 text the database cannot hold (PostgreSQL)", () => {
  const db = serverForBlock()

  /** Comments whose text or commenter holds NUL or a lone surrogate, next to an ordinary one. */
  const poisoned = [
    { postId: guidePost.id, text: "guide\u0000", user: { id: "nulluser" } },
    { postId: guidePost.id, text: "GUIDE please", user: { id: "victim1" } },
    { postId: guidePost.id, text: "guide \ud800 please", user: { id: "lone\udc00id", username: "half\ud83d" } },
    { postId: guidePost.id, text: "the guide", user: { id: "nulname", username: "nul\u0000name" } }
  ]
  const poisonedIds = ["nulluser", "victim1", "lone\ufffdid", "nulname"]

  it.live(
    "13.2 after a completed run, comments with NUL and lone surrogates are recorded and sent, every later run " +
      "completes, and status counts everyone",
    (context) =>
      Effect.promise(async () => {
        const s = await studio(context)
        const url = db()
        const campaign = s.file(guideCampaign())
        assertExit(await s.cli(["run", campaign, "--db", url, "--json"]), 0)
        for (const comment of poisoned) await control(s.sandbox.handle.addComment(comment))

        const second = await s.cli(["run", campaign, "--db", url, "--json"])
        assertExit(second, 0)
        assert.strictEqual(jsonSummary(second).counts.matched, expectedRecipients.size + poisoned.length)
        const third = await s.cli(["run", campaign, "--db", url, "--json"])
        assertExit(third, 0)
        assert.strictEqual(jsonSummary(third).counts.sent, 0)

        const sent = deliveriesPerRecipient(await control(s.sandbox.handle.deliveries))
        for (const id of ["nulluser", "victim1", "nulname"]) assert.strictEqual(sent.get(id), 1, id)
        assert.strictEqual(sent.get("lone\udc00id") ?? sent.get("lone\ufffdid"), 1, "the lone-surrogate id")
        assert.isTrue([...sent.values()].every((count) => count === 1), "nobody is sent twice")

        const status = await s.cli(["status", campaign, "--db", url, "--json"])
        assertExit(status, 0)
        const report = JSON.parse(status.stdout)
        assert.strictEqual(report.matched, expectedRecipients.size + poisoned.length)
        assert.strictEqual(report.unaccounted, 0)
        assert.strictEqual(report.counts.sent, expectedRecipients.size + poisoned.length)
      }),
    { timeout: 240_000 }
  )

  it.live(
    "13.2 on a fresh campaign the poisoned comments are recorded with the others and status counts them",
    (context) =>
      Effect.promise(async () => {
        const s = await studio(context)
        const url = db()
        for (const comment of poisoned) await control(s.sandbox.handle.addComment(comment))
        const campaign = s.file(guideCampaign({ name: "fresh-nul" }))
        const status0 = await s.cli(["status", campaign, "--db", url, "--json"])
        assertExit(status0, 0)
        const run = await s.cli(["run", campaign, "--db", url, "--json"])
        assertExit(run, 0)
        const report = JSON.parse((await s.cli(["status", campaign, "--db", url, "--json"])).stdout)
        assert.strictEqual(report.matched, expectedRecipients.size + poisoned.length)
        assert.strictEqual(report.unaccounted, 0)
        const exported = await s.cli(["export", campaign, "--db", url, "--format", "jsonl"])
        assertExit(exported, 0)
        const rows = exported.stdout.trim().split("\n").map((line) => JSON.parse(line))
        const ids = new Set(rows.map((row: { user_id: string }) => row.user_id))
        for (const id of poisonedIds) assert.isTrue(ids.has(id), id)
        const texts = rows.map((row: { comment_text: string; username: string | null }) =>
          row.comment_text + (row.username ?? "")
        ).join("")
        assert.notInclude(texts, "\u0000")
        assert.isTrue(texts.isWellFormed(), "no lone surrogate is stored")
      }),
    { timeout: 240_000 }
  )
})

/** Runs statements on a SQLite ledger file from the test process, between two commands. */
const onLedgerFile = (filename: string, statement: string) =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
      Effect.provide(SqliteLedger.layerClient({ filename }))
    )
  )

describe("13.2 a person the ledger cannot record", () => {
  it.live(
    "13.2 when the database refuses one person's row, the others of the batch are recorded and sent, the run ends " +
      "with exit 1 naming the person, and status counts them as unaccounted with the database's reason",
    (context) =>
      Effect.promise(async () => {
        const s = await studio(context)
        const db = Path.join(s.dir, "ledger.sqlite")
        const campaign = s.file(guideCampaign())
        assertExit(await s.cli(["run", campaign, "--db", db]), 0)
        // Stands for any row the database cannot take, whatever the reason.
        await onLedgerFile(
          db,
          `CREATE TRIGGER refuse_refusenik BEFORE INSERT ON comment_dm_recipients WHEN NEW.user_id = 'refusenik'
           BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END`
        )
        await control(s.sandbox.handle.addComment({
          postId: guidePost.id,
          text: "guide",
          user: { id: "refusenik", username: "refu" }
        }))
        await control(
          s.sandbox.handle.addComment({ postId: guidePost.id, text: "GUIDE please", user: { id: "victim2" } })
        )

        const second = await s.cli(["run", campaign, "--db", db, "--json"])
        assertExit(second, 1)
        const summary = jsonSummary(second) as ReturnType<typeof jsonSummary> & { problems: Array<string> }
        assert.strictEqual(summary.outcome, "failed")
        assert.strictEqual(summary.counts.unrecorded, 1)
        assert.strictEqual(summary.counts.matched, expectedRecipients.size + 2)
        assert.match(summary.problems.join("\n"), /@refu \(refusenik\).*refused by the test trigger/)
        assert.match(second.stderr, /problem: the ledger could not record @refu \(refusenik\)/)
        const sent = deliveriesPerRecipient(await control(s.sandbox.handle.deliveries))
        assert.strictEqual(sent.get("victim2"), 1, "the other person of the batch is recorded and sent")
        assert.isUndefined(sent.get("refusenik"), "nobody is sent without a durable claim")

        const status = await s.cli(["status", campaign, "--db", db, "--json"])
        assertExit(status, 1)
        const report = JSON.parse(status.stdout)
        assert.strictEqual(report.matched, expectedRecipients.size + 2)
        assert.strictEqual(report.unaccounted, 1)
        assert.match(report.unrecorded_reasons[0].reason, /refused by the test trigger/)
        assert.match((await s.cli(["status", campaign, "--db", db])).stdout, /not recorded 1/)

        // Once the database takes the row, the person is recorded, sent, and no longer unaccounted.
        await onLedgerFile(db, "DROP TRIGGER refuse_refusenik")
        assertExit(await s.cli(["run", campaign, "--db", db]), 0)
        assert.strictEqual(deliveriesPerRecipient(await control(s.sandbox.handle.deliveries)).get("refusenik"), 1)
        const settled = JSON.parse((await s.cli(["status", campaign, "--db", db, "--json"])).stdout)
        assert.strictEqual(settled.unaccounted, 0)
        assert.strictEqual(settled.matched, expectedRecipients.size + 2)
      }),
    { timeout: 240_000 }
  )
})

describe("13.9 a cursor cycle", () => {
  /** 120 comments from 120 people, in three pages of 50; with the knob, page 2 points back at page 1. */
  const loopPost = crowdPost({ id: "17900000000000301", count: 120, newest: new Date("2026-03-28T12:00:00Z") })
  const loopData = { ...guideData, posts: [loopPost, ...guideData.posts] }
  const loopCampaign = () => guideCampaign({ posts: [loopPost.id, guidePost.id] })
  const commentRequests = async (s: Studio.Studio) =>
    (await control(s.sandbox.handle.stats)).requests["GET /uploadposts/comments"] ?? 0
  /** The people of the loop post's first two pages, the only ones a reader can reach. */
  const reachable = loopPost.comments.slice(0, 100).map((comment) => comment.user!.id!)

  it.live(
    "13.9 run stops reading a post at a repeated cursor, goes on with the other posts, and exits 1 naming the post",
    (context) =>
      Effect.promise(async () => {
        const s = await studio(context, { data: loopData, faults: { cursorLoops: [loopPost.id] } })
        const db = Path.join(s.dir, "ledger.sqlite")
        const result = await s.cli(["run", s.file(loopCampaign()), "--db", db, "--json"], undefined, 45_000)
        assertExit(result, 1)
        const summary = jsonSummary(result) as ReturnType<typeof jsonSummary> & { problems: Array<string> }
        assert.strictEqual(summary.outcome, "failed")
        assert.strictEqual(summary.problems.length, 1)
        assert.include(summary.problems[0], loopPost.id)
        assert.match(result.stderr, new RegExp(`problem: .*post ${loopPost.id}.*pointed back`))
        // Page 1, page 2, page 1 again (whose cursor was seen): then the post is left; the guide post takes 1 page.
        assert.isAtMost(await commentRequests(s), 4)
        // Each person of the pages read is counted and sent once; the page that came round again is not read twice.
        assert.strictEqual(summary.counts.comments, 100 + 10)
        assert.strictEqual(summary.counts.matched, reachable.length + 4)
        const sent = deliveriesPerRecipient(await control(s.sandbox.handle.deliveries))
        for (const id of reachable) assert.strictEqual(sent.get(id), 1, id)
        assert.isTrue([...sent.values()].every((count) => count === 1), "nobody is sent twice")
        // The other post was read after the cycle, and its people sent to.
        const guidePeople = guideData.posts[0]!.comments.flatMap((comment) =>
          comment.user?.id !== undefined && expectedRecipients.has(comment.user.id) ? [comment.user.id] : []
        )
        assert.isNotEmpty(guidePeople)
        for (const id of guidePeople) assert.strictEqual(sent.get(id), 1, `guide post: ${id}`)

        // A rerun meets the same cycle: it reads as little, sends nobody again, and says so again.
        const again = await s.cli(["run", s.file(loopCampaign()), "--db", db, "--json"], undefined, 45_000)
        assertExit(again, 1)
        assert.strictEqual(jsonSummary(again).counts.sent, 0)
        assert.isAtMost(await commentRequests(s), 8)
      }),
    { timeout: 120_000 }
  )

  it.live(
    "13.9 watch reports the post once, keeps polling the others and the looping post a bounded number of pages per " +
      "poll, and --once ends with exit 1",
    (context) =>
      Effect.promise(async () => {
        const s = await studio(context, { data: loopData, faults: { cursorLoops: [loopPost.id] } })
        const db = Path.join(s.dir, "ledger.sqlite")
        const campaign = s.file(loopCampaign())
        const once = await s.cli(["watch", campaign, "--db", db, "--once", "--json"], undefined, 45_000)
        assertExit(once, 1)
        assert.include(once.stderr, `post ${loopPost.id}`)

        // A long-running watcher: a new comment on the other post is sent while the cycle stays reported once.
        const before = await commentRequests(s)
        const watcher = startCli(["watch", campaign, "--db", db, "--every", "1s"], { env: s.sandbox.env })
        const done = finished(watcher, 60_000)
        let output = ""
        watcher.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
        const deadline = Date.now() + 40_000
        while (!/poll 3:/.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
        await control(s.sandbox.handle.addComment({ postId: guidePost.id, text: "guide", user: { id: "latecomer" } }))
        const polled = (output.match(/poll \d+:/g) ?? []).length
        while ((output.match(/poll \d+:/g) ?? []).length < polled + 2 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200))
        }
        watcher.kill("SIGINT")
        const result = await done
        assert.strictEqual(result.code, 130, result.stderr + output)
        assert.match(output, /poll 3:/, "the watcher keeps polling")
        // Told once as it happens (the summary at the end lists it again).
        assert.strictEqual((output.match(/^problem: /gm) ?? []).length, 1, "the cycle is told once\n" + output)
        assert.include(output, `post ${loopPost.id}`)
        const polls = (output.match(/poll \d+:/g) ?? []).length
        // At most three pages of the looping post and one of the other post per poll.
        assert.isAtMost((await commentRequests(s)) - before, 4 * (polls + 1))
        assert.strictEqual(deliveriesPerRecipient(await control(s.sandbox.handle.deliveries)).get("latecomer"), 1)
      }),
    { timeout: 150_000 }
  )
})

describe("13.12 reconciliation on an answer that may be incomplete", () => {
  it.live(
    "13.12 capped conversations or messages leave the people the answer does not cover in doubt; an answer that " +
      "reaches back before the claim turns them pending; status says how many conversations the answer held",
    (context) =>
      Effect.promise(async () => {
        // An hour behind, so that the claims set below are old enough to judge and their messages fall in between.
        const s = await studio(context, { now: new Date(Date.now() - 3_600_000) })
        const db = Path.join(s.dir, "ledger.sqlite")
        const people = [...expectedRecipients.keys()]
        // Two earlier campaigns message everyone, a few seconds apart (the answer shows times to the second).
        assertExit(
          await s.cli(["run", s.file(guideCampaign({ name: "first", message: "first" }), "a.json"), "--db", db]),
          0
        )
        const firstSent = await control(s.sandbox.handle.deliveries)
        await new Promise((resolve) => setTimeout(resolve, 1_500))
        assertExit(
          await s.cli(["run", s.file(guideCampaign({ name: "third", message: "third" }), "c.json"), "--db", db]),
          0
        )
        const thirdSent = (await control(s.sandbox.handle.deliveries)).slice(firstSent.length)
        assert.strictEqual(thirdSent.length, people.length)

        // A runner of campaign "second" claimed everyone between the two and died before sending: the claims fall
        // after every "first" message (less the 2-minute clock skew reconciliation allows) and before every "third".
        const campaign = s.file(guideCampaign({ name: "second", message: "second" }), "b.json")
        assertExit(await s.cli(["run", campaign, "--db", db, "--max-sends", "0"]), 5)
        const lastFirst = Math.max(...firstSent.map((delivery) => Date.parse(delivery.at)))
        const claimedAt = Math.ceil((lastFirst + 1) / 1000) * 1000 + 120_000
        assert.isAtMost(
          claimedAt - 120_000,
          Math.min(...thirdSent.map((delivery) => Math.floor(Date.parse(delivery.at) / 1000) * 1000))
        )
        await onLedgerFile(
          db,
          `UPDATE comment_dm_recipients SET state = 'in_doubt', claimed_at = ${claimedAt}, claimed_by = 'dead-runner',
             attempts = 1, message = 'second', reason = 'the process stopped' WHERE campaign = 'second'`
        )
        const statusOf = async () => JSON.parse((await s.cli(["status", campaign, "--db", db, "--json"])).stdout)

        // One message per conversation: only "third" is listed, after the claim; "second" may be cut off.
        await control(s.sandbox.handle.setFaults({ messagesPerConversation: 1 }))
        const cutMessages = await s.cli(["reconcile", campaign, "--db", db])
        assertExit(cutMessages, 5)
        // Every commenter of the data set has a conversation: what they wrote to the account is in it.
        const commenters = new Set(guideData.posts.flatMap((post) => post.comments.flatMap((c) => c.user?.id ?? [])))
        assert.match(
          cutMessages.stdout,
          new RegExp(`0 found sent, 0 not sent .*8 still in doubt \\(8 of them .*\\(${commenters.size} conversations`)
        )
        let report = await statusOf()
        assert.strictEqual(report.counts.in_doubt, people.length)
        assert.strictEqual(report.last_conversations_read.conversations, commenters.size)

        // Three conversations, full length: the three listed reach back before the claim and are pending.
        await control(s.sandbox.handle.setFaults({ messagesPerConversation: 25, maxConversations: 3 }))
        assertExit(await s.cli(["reconcile", campaign, "--db", db]), 5)
        report = await statusOf()
        assert.strictEqual(report.counts.pending, 3)
        assert.strictEqual(report.counts.in_doubt, people.length - 3)
        assert.strictEqual(report.last_conversations_read.conversations, 3)
        assert.match(
          (await s.cli(["status", campaign, "--db", db])).stdout,
          /last conversations answer: 3 conversations/
        )
        // The most recently active conversations are the ones listed: the last three messaged.
        const listed = new Set(thirdSent.slice(-3).map((delivery) => delivery.recipientId))
        const pending = (await s.cli(["export", campaign, "--db", db, "--format", "jsonl"])).stdout.trim().split("\n")
          .map((line) => JSON.parse(line)).filter((row) => row.state === "pending").map((row) => row.user_id)
        assert.deepStrictEqual(new Set(pending), listed)

        // The whole answer covers everyone since the claim: the rest turn pending, and the next run sends "second".
        await control(s.sandbox.handle.setFaults({ maxConversations: null }))
        const before = (await control(s.sandbox.handle.deliveries)).length
        const run = await s.cli(["run", campaign, "--db", db, "--json"])
        assertExit(run, 0)
        assert.strictEqual(jsonSummary(run).counts.reconciled, people.length - 3)
        const seconds = (await control(s.sandbox.handle.deliveries)).slice(before)
        assert.deepStrictEqual(seconds.map((delivery) => delivery.recipientId).sort(), [...people].sort())
        assert.isTrue(seconds.every((delivery) => delivery.message === "second"))
      }),
    { timeout: 240_000 }
  )
})
