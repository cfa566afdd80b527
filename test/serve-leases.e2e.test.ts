/**
 * Two `comment-dm serve` processes on one PostgreSQL ledger over one folder of campaigns (three profiles of one API key,
 * four posts each), comments arriving while they serve; one is killed (SIGKILL) mid-run. Each process reaches the
 * sandbox through a proxy of its own that logs the posts it reads, so the test sees who read which post when:
 * while both live, each post is read by one of them only (the one the lease table names), and both share the work;
 * once one is killed, the survivor takes its leases once they ran out, within a lease and a quarter of the kill, and
 * reads its posts at its next poll. The sandbox's deliveries say that nobody got two messages from a campaign,
 * `status --json` that everyone is accounted for, its per-key counts that the key stayed within its plan.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, ManagedRuntime, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type CliResult, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { findPostgres, startPostgres } from "./support/postgres.js"
import { everyPostReadBy, readersIn, startProxy } from "./support/read-proxy.js"
import { control, startSandbox } from "./support/sandbox.js"
import { sleep, startServe } from "./support/serve-child.js"

/** Short leases, so that a takeover happens in seconds (`COMMENT_DM_POST_LEASE`). */
const leaseMillis = 3_000
const everyMillis = 3_000
const key = "agency-key-5d1"
const plan = { perMinute: 500, perTenMinutes: 5_000 }

const profiles = ["leases.one", "leases.two", "leases.three"] as const
const postsOf = (profileIndex: number) =>
  Array.from({ length: 4 }, (_, i) => `1790000000000${6 + profileIndex}0${i + 1}`)
const campaigns = profiles.map((profile, i) => ({ name: `leases-${i + 1}`, profile, posts: postsOf(i) }))
const allPosts = campaigns.flatMap((campaign) => campaign.posts)

const campaignYaml = (campaign: (typeof campaigns)[number]) =>
  [
    `name: ${campaign.name}`,
    "platform: instagram",
    `user: ${campaign.profile}`,
    "posts:",
    ...campaign.posts.map((post) => `  - "${post}"`),
    "match:",
    "  keywords: [guide]",
    `message: "${campaign.name}: hi @{{username}}, here is your guide"`,
    "delivery: dm",
    "pace:",
    "  per_hour: 360000",
    "  concurrency: 2",
    ""
  ].join("\n")

const assertExit = (result: CliResult, code: number, what: string) =>
  assert.strictEqual(result.code, code, `${what}: exit ${result.code}\n${result.stdout}\n${result.stderr}`)

describe("COMMENT_DM_POST_LEASE", () => {
  it("a value that is not a duration from 1 second to 24 hours stops serve with exit 2, naming the variable", async () => {
    const dir = tempDir("comment-dm-serve-leases-")
    try {
      for (const value of ["abc", "0", "500ms", "3s\u0007", "25h"]) {
        const result = await runCli(["serve", dir.path, "--db", Path.join(dir.path, "ledger.sqlite")], {
          env: { COMMENT_DM_POST_LEASE: value }
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

describe.skipIf(findPostgres().install === undefined)("two serve processes on one PostgreSQL", () => {
  it(
    "one killed mid-run: each post read by one process at a time, the dead one's posts taken over within a lease, " +
      "nobody sent twice, everyone accounted for, the key within its plan",
    async (context) => {
      const postgres = await startPostgres()
      context.onTestFinished(() => postgres.stop())
      const database = ManagedRuntime.make(PgClient.layer({ url: Redacted.make(postgres.url) }))
      context.onTestFinished(() => database.dispose())
      /** Each post's lease row: who holds it (if the lease has not run out) and until when. */
      const leaseHolders = () =>
        database.runPromise(
          Effect.flatMap(SqlClient.SqlClient, (sql) =>
            sql<{ readonly post_id: string; readonly holder: string | null }>`SELECT post_id,
            CASE WHEN lease_until > ${Date.now()} THEN holder END AS holder FROM comment_dm_post_leases`)
        ).then(
          (rows) =>
            new Map(rows.map((row) => [row.post_id, row]))
        )
      const sandbox = await startSandbox({
        seed: 22,
        windows: "open",
        profiles: [
          {
            name: profiles[0],
            data: { _tag: "Listed", profile: profiles[0], posts: postsOf(0).map((id) => ({ id, comments: [] })) }
          },
          {
            name: profiles[1],
            data: { _tag: "Listed", profile: profiles[1], posts: postsOf(1).map((id) => ({ id, comments: [] })) }
          },
          {
            name: profiles[2],
            data: { _tag: "Listed", profile: profiles[2], posts: postsOf(2).map((id) => ({ id, comments: [] })) }
          }
        ],
        keys: [{ key, plan }]
      })
      context.onTestFinished(() => sandbox.close())
      const dir = tempDir("comment-dm-serve-leases-")
      context.onTestFinished(() => dir.cleanup())
      const folder = Path.join(dir.path, "campaigns")
      Fs.mkdirSync(folder)
      const files = campaigns.map((campaign) => writeCampaign(folder, `${campaign.name}.yaml`, campaignYaml(campaign)))

      const proxies = { a: await startProxy(sandbox.baseUrl, context), b: await startProxy(sandbox.baseUrl, context) }
      const logs = { a: proxies.a.reads, b: proxies.b.reads }
      const serve = (proxy: { readonly baseUrl: string }) => {
        const child = startServe(
          [
            folder,
            "--db",
            postgres.url,
            "--every",
            `${everyMillis}ms`,
            "--http",
            "127.0.0.1:0",
            "--log-format",
            "json"
          ],
          {
            UPLOAD_POST_BASE_URL: proxy.baseUrl,
            UPLOAD_POST_API_KEY: key,
            COMMENT_DM_POST_LEASE: `${leaseMillis}ms`
          }
        )
        context.onTestFinished(async () => {
          if (child.child.exitCode === null && child.child.signalCode === null) {
            child.child.kill("SIGKILL")
            await child.exited
          }
        })
        return child
      }

      // Comments keep arriving: every 250 ms a post gets one, from people who often comment on several posts (of
      // one campaign or of several); three in four ask for the guide.
      const expected = new Map(campaigns.map((campaign) => [campaign.name, new Set<string>()]))
      let arriving = true
      let added = 0
      const arrivals = (async () => {
        while (arriving) {
          const n = added++
          const post = allPosts[(n * 7) % allPosts.length]!
          const person = `1784140000${String(n % 37).padStart(7, "0")}`
          const asks = n % 4 !== 3
          await control(sandbox.handle.addComment({
            postId: post,
            text: asks ? "GUIDE please" : "nice",
            user: { id: person, username: `person${n % 37}` }
          }))
          if (asks) expected.get(campaigns.find((campaign) => campaign.posts.includes(post))!.name)!.add(person)
          await sleep(250)
        }
      })()

      const a = serve(proxies.a)
      const b = serve(proxies.b)
      const both = [a, b]
      await Promise.all(
        both.map((child) => child.until("serving", () => child.lines().some((line) => line.event === "Started")))
      )

      // Settled: over the last two polls, each campaign's posts split two and two between the processes.
      let settledAt = 0
      await a.until("the posts shared out", () => {
        const now = Date.now()
        const readers = readersIn(logs, now - 2 * everyMillis, now)
        const ok = campaigns.every((campaign) =>
          campaign.posts.every((post) => readers.get(post)?.size === 1) &&
          campaign.posts.filter((post) => readers.get(post)?.has("a")).length === 2
        )
        if (ok) settledAt = now
        return ok
      }, 30_000)
      await sleep(4 * everyMillis)
      // The lease table agrees with the reads: each post's holder is the process (by pid) that read it.
      const pidOf = (holder: string | null) => /\/(\d+)\/[0-9a-z]+\/[0-9a-f]{12}#\d+$/.exec(holder ?? "")?.[1]
      const [pidA, pidB] = [String(a.child.pid), String(b.child.pid)]
      const held = await leaseHolders()
      const readNow = readersIn(logs, settledAt, Date.now())
      for (const post of allPosts) {
        const reader = [...readNow.get(post) ?? []][0]
        assert.strictEqual(pidOf(held.get(post)?.holder ?? null), reader === "a" ? pidA : pidB, `holder of ${post}`)
      }
      const killAt = Date.now()
      b.child.kill("SIGKILL")
      // When the survivor holds every post (its leases, not b's run-out ones), polled every 100 ms from the kill.
      const leasesTaken = (async () => {
        while (true) {
          const now = Date.now()
          const rows = await leaseHolders()
          if (allPosts.every((post) => pidOf(rows.get(post)?.holder ?? null) === pidA)) return now - killAt
          if (now - killAt > 30_000) throw new Error(`b's leases not taken over: ${JSON.stringify([...rows])}`)
          await sleep(100)
        }
      })()
      await b.exited

      // Before the kill: each post read by one process only, and both did their share.
      const before = readersIn(logs, settledAt, killAt)
      assert.strictEqual(before.size, 12, "every post was read")
      const timeline = (post: string) =>
        Object.entries(logs).flatMap(([name, reads]) =>
          reads.filter((read) => read.post === post).map((read) => ({ name, at: read.at - settledAt }))
        ).sort((x, y) => x.at - y.at).map((read) => `${read.name}@${read.at}`).join(" ")
      for (const [post, names] of before) {
        assert.strictEqual(
          names.size,
          1,
          `post ${post} read by ${[...names]}: ${timeline(post)}; kill at ${killAt - settledAt}`
        )
      }
      const ofB = [...before].filter(([, names]) => names.has("b")).map(([post]) => post)
      const ofA = [...before].filter(([, names]) => names.has("a")).map(([post]) => post)
      assert.strictEqual(ofB.length, 6, `b read ${ofB.length} of 12`)
      assert.strictEqual(ofA.length, 6, `a read ${ofA.length} of 12`)

      // After it: the survivor reads b's posts, not before their leases could run out, within a lease and a poll.
      await a.until("b's posts taken over", everyPostReadBy(logs.a, ofB, killAt), 30_000)
      const takenAfter = ofB.map((post) => logs.a.find((read) => read.post === post && read.at >= killAt)!.at - killAt)
      const takeover = Math.max(...takenAfter)
      assert.isAtLeast(Math.min(...takenAfter), leaseMillis / 2, `a read b's posts too early: ${takenAfter}`)
      assert.isAtMost(takeover, leaseMillis * 1.25 + everyMillis + 2_000, `takeover took ${takeover} ms`)
      // The leases themselves change hands once b's run out (renewed every quarter lease: at least 3/4 of a lease
      // after the kill), and within a quarter lease of that.
      const leaseTakeover = await leasesTaken
      assert.isAtLeast(leaseTakeover, leaseMillis / 2, "b's leases taken before they could run out")
      assert.isAtMost(leaseTakeover, leaseMillis * 1.25 + 1_000, `b's leases taken over after ${leaseTakeover} ms`)
      context.annotate(
        `after the kill: b's leases taken over at ${leaseTakeover} ms, its posts read by a at ${
          takenAfter.join(", ")
        }` +
          ` ms (lease ${leaseMillis} ms, polls every ${everyMillis} ms)`
      )

      // More comments with the survivor alone, then no more; it reaches everyone who asked.
      await sleep(3 * everyMillis)
      arriving = false
      await arrivals
      const lastCommentAt = Date.now()
      await a.until("every post read after the last comment", everyPostReadBy(logs.a, allPosts, lastCommentAt), 30_000)
      const status = async (index: number) => {
        const result = await runCli(["status", files[index]!, "--db", postgres.url, "--json"])
        assertExit(result, 0, "status")
        return JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "")
      }
      // Everyone who asked is in the ledger and nobody is left pending (b's claims wait for the recovery below).
      await a.until("the survivor's sends", async () => {
        for (const [index, campaign] of campaigns.entries()) {
          const report = await status(index)
          if (report.matched !== expected.get(campaign.name)!.size || report.counts.pending !== 0) return false
        }
        return true
      }, 60_000)
      a.child.kill("SIGTERM")
      assertExit(await a.exited, 130, "the survivor stops on SIGTERM")

      // One more run of each campaign recovers b's claims at once (its process is gone), reconciles and sends the rest.
      for (const file of files) {
        assertExit(await runCli(["run", file, "--db", postgres.url], { env: sandbox.env }), 0, file)
      }

      const deliveries = await control(sandbox.handle.deliveries)
      const deliveredTo = (campaign: string) =>
        deliveries.filter((delivery) => delivery.message.startsWith(`${campaign}:`)).map((delivery) =>
          delivery.recipientId
        )
      const keys = deliveries.map((delivery) => `${delivery.message.split(":")[0]} ${delivery.recipientId}`)
      assert.deepStrictEqual(keys.filter((k, index) => keys.indexOf(k) !== index), [], "nobody got two messages")
      for (const [index, campaign] of campaigns.entries()) {
        assert.deepStrictEqual(
          deliveredTo(campaign.name).sort(),
          [...expected.get(campaign.name)!].sort(),
          campaign.name
        )
        const report = await status(index)
        assert.strictEqual(report.matched, expected.get(campaign.name)!.size, `${campaign.name}: matched`)
        assert.strictEqual(report.unaccounted, 0, `${campaign.name}: unaccounted`)
        assert.deepInclude(report.counts, {
          pending: 0,
          claimed: 0,
          in_doubt: 0,
          sent: expected.get(campaign.name)!.size
        }, campaign.name)
      }

      // The key within its plan: no 429, and never more in a minute than the plan allows (per-key request budget).
      const traffic = (await control(sandbox.handle.stats)).keys[key]!
      context.annotate(`key traffic: ${JSON.stringify(traffic)}; reads a ${logs.a.length}, b ${logs.b.length}`)
      assert.strictEqual(traffic.rateLimited, 0, JSON.stringify(traffic))
      assert.isAtMost(traffic.maxPerMinute, plan.perMinute, JSON.stringify(traffic))
      assert.isAtMost(traffic.maxPerTenMinutes, plan.perTenMinutes, JSON.stringify(traffic))
    },
    180_000
  )
})
