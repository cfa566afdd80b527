/**
 * Two `comment-dm watch` processes on one campaign and one PostgreSQL ledger share its posts under post leases, as
 * several `serve` processes do: comments keep arriving on every post (so that each is due at every poll), and each
 * process reaches the sandbox through a proxy of its own that logs the posts it reads. While both live, each post is
 * read by one of them only, once a poll between them (not twice: no double reads, no double budget); once one is
 * killed (SIGKILL), the other takes its posts over within a lease (`COMMENT_DM_POST_LEASE`) and a poll. The sandbox's
 * deliveries say that nobody got two messages, `status --json` that everyone who asked is accounted for.
 */
import { assert, describe, it } from "@effect/vitest"
import { type CliResult, runCli, startCli, tempDir, writeCampaign } from "./support/cli.js"
import { findPostgres, startPostgres } from "./support/postgres.js"
import { everyPostReadBy, readersIn, startProxy } from "./support/read-proxy.js"
import { control, startSandbox } from "./support/sandbox.js"
import { sleep } from "./support/serve-child.js"

/** Short leases, so that a takeover happens in seconds. */
const leaseMillis = 3_000
const everyMillis = 1_000
const profile = "watch.leases"
const posts = Array.from({ length: 6 }, (_, i) => `17900000000022${String(i + 1).padStart(3, "0")}`)
const name = "watch-leases"

const campaign = {
  name,
  platform: "instagram",
  user: profile,
  posts,
  match: { keywords: ["guide"] },
  message: `${name}: hi @{{username}}, here is your guide`,
  delivery: "dm",
  pace: { per_hour: 360_000, concurrency: 2 }
}

const assertExit = (result: CliResult, code: number, what: string) =>
  assert.strictEqual(result.code, code, `${what}: exit ${result.code}\n${result.stdout}\n${result.stderr}`)

describe("COMMENT_DM_POST_LEASE for watch", () => {
  it("a value that is not a duration from 1 second to 24 hours stops watch with exit 2, naming the variable", async () => {
    const dir = tempDir("comment-dm-watch-leases-")
    try {
      const file = writeCampaign(dir.path, `${name}.json`, campaign)
      for (const value of ["abc", "0", "500ms", "3s\u0007", "25h"]) {
        const result = await runCli(["watch", file, "--db", `${dir.path}/ledger.sqlite`, "--once"], {
          env: { COMMENT_DM_POST_LEASE: value, UPLOAD_POST_API_KEY: "unused-key" }
        })
        assertExit(result, 2, value)
        assert.include(result.stderr, "COMMENT_DM_POST_LEASE", value)
        assert.notInclude(result.stderr, "\u0007", "control characters are escaped")
      }
    } finally {
      dir.cleanup()
    }
  })
})

describe.skipIf(findPostgres().install === undefined)("two watch processes on one PostgreSQL", () => {
  it(
    "each post read by one of them, once a poll between them; the killed one's posts taken over within a lease; " +
      "nobody sent twice",
    async (context) => {
      const postgres = await startPostgres()
      context.onTestFinished(() => postgres.stop())
      const sandbox = await startSandbox({
        seed: 22,
        windows: "open",
        data: { _tag: "Listed", profile, posts: posts.map((id) => ({ id, comments: [] })) }
      })
      context.onTestFinished(() => sandbox.close())
      const dir = tempDir("comment-dm-watch-leases-")
      context.onTestFinished(() => dir.cleanup())
      const file = writeCampaign(dir.path, `${name}.json`, campaign)

      const proxies = { a: await startProxy(sandbox.baseUrl, context), b: await startProxy(sandbox.baseUrl, context) }
      const logs = { a: proxies.a.reads, b: proxies.b.reads }
      const watch = (proxy: { readonly baseUrl: string }) => {
        const child = startCli(["watch", file, "--db", postgres.url, "--every", `${everyMillis}ms`, "--json"], {
          env: {
            UPLOAD_POST_BASE_URL: proxy.baseUrl,
            UPLOAD_POST_API_KEY: sandbox.apiKey,
            COMMENT_DM_POST_LEASE: `${leaseMillis}ms`
          }
        })
        let output = ""
        child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
        child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
        const exited = new Promise<CliResult>((resolve) =>
          child.on("close", (code, signal) => resolve({ code, signal, stdout: output, stderr: "" }))
        )
        context.onTestFinished(async () => {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGKILL")
            await exited
          }
        })
        return { child, exited, output: () => output }
      }
      /** Waits for `done`, failing with the watchers' output after `timeoutMs`. */
      const until = async (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 30_000) => {
        const deadline = Date.now() + timeoutMs
        while (!(await done())) {
          if (Date.now() > deadline) {
            throw new Error(`timed out waiting for ${what}\na:\n${a.output()}\nb:\n${b.output()}`)
          }
          await sleep(50)
        }
      }

      // Comments keep arriving, one every 150 ms round the posts, from people who often comment on several; three
      // in four ask for the guide.
      const expected = new Set<string>()
      let arriving = true
      let added = 0
      const arrivals = (async () => {
        while (arriving) {
          const n = added++
          const person = `1784140000${String(n % 23).padStart(7, "0")}`
          const asks = n % 4 !== 3
          await control(sandbox.handle.addComment({
            postId: posts[n % posts.length]!,
            text: asks ? "GUIDE please" : "nice",
            user: { id: person, username: `person${n % 23}` }
          }))
          if (asks) expected.add(person)
          await sleep(150)
        }
      })()

      const a = watch(proxies.a)
      const b = watch(proxies.b)
      // Settled: over the last two polls, the posts split three and three between the processes.
      let settledAt = 0
      await until("the posts shared out, each read by one process", () => {
        const now = Date.now()
        const readers = readersIn(logs, now - 2 * everyMillis, now)
        const ok = posts.every((post) => readers.get(post)?.size === 1) &&
          posts.filter((post) => readers.get(post)?.has("a")).length === 3
        if (ok) settledAt = now
        return ok
      })
      await sleep(6 * everyMillis)
      const killAt = Date.now()
      b.child.kill("SIGKILL")
      await b.exited

      // Before the kill: each post read by one process only, once a poll between them, and both did their share.
      const before = readersIn(logs, settledAt, killAt)
      const readsOf = (post: string) =>
        [...logs.a, ...logs.b].filter((read) => read.post === post && read.at >= settledAt && read.at < killAt).length
      const polls = Math.ceil((killAt - settledAt) / everyMillis)
      for (const post of posts) {
        assert.strictEqual(before.get(post)?.size, 1, `post ${post} read by ${[...before.get(post) ?? []]}`)
        assert.isAtMost(readsOf(post), polls + 1, `post ${post} read more than once a poll (${polls} polls)`)
        assert.isAtLeast(readsOf(post), 2, `post ${post} read in the polls before the kill`)
      }
      const ofB = posts.filter((post) => before.get(post)?.has("b"))
      assert.strictEqual(ofB.length, 3, `b read ${ofB.length} of ${posts.length}`)

      // After it: the survivor reads b's posts, not before their leases could run out, within a lease and a poll.
      await until("b's posts taken over", everyPostReadBy(logs.a, ofB, killAt))
      const takenAfter = ofB.map((post) => logs.a.find((read) => read.post === post && read.at >= killAt)!.at - killAt)
      assert.isAtLeast(Math.min(...takenAfter), leaseMillis / 2, `a read b's posts too early: ${takenAfter}`)
      assert.isAtMost(Math.max(...takenAfter), leaseMillis * 1.25 + everyMillis + 2_000, `takeover: ${takenAfter}`)
      context.annotate(`b's posts read by a ${takenAfter.join(", ")} ms after the kill (lease ${leaseMillis} ms)`)

      // No more comments; the survivor reads every post after the last one and reaches everyone who asked.
      arriving = false
      await arrivals
      const lastCommentAt = Date.now()
      await until("every post read after the last comment", everyPostReadBy(logs.a, posts, lastCommentAt))
      const status = async () => {
        const result = await runCli(["status", file, "--db", postgres.url, "--json"])
        assertExit(result, 0, "status")
        return JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "")
      }
      // Everyone who asked is in the ledger and nobody is left pending (b's claims wait for the run below).
      await until("the survivor's sends", async () => {
        const report = await status()
        return report.matched === expected.size && report.counts.pending === 0
      }, 60_000)
      a.child.kill("SIGTERM")
      assertExit(await a.exited, 130, "the survivor stops on SIGTERM")
      // A run recovers b's claims at once (its process is gone), reconciles and sends the rest.
      assertExit(await runCli(["run", file, "--db", postgres.url], { env: sandbox.env }), 0, "run")

      const delivered = (await control(sandbox.handle.deliveries)).map((delivery) => delivery.recipientId)
      assert.deepStrictEqual(delivered.filter((id, index) => delivered.indexOf(id) !== index), [], "sent twice")
      assert.deepStrictEqual(delivered.sort(), [...expected].sort(), "everyone who asked, once")
      const report = await status()
      assert.deepInclude(report.counts, { pending: 0, claimed: 0, in_doubt: 0, sent: expected.size })
      assert.strictEqual(report.unaccounted, 0)
    },
    150_000
  )
})
