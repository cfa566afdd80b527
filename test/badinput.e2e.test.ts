/**
 * Bad input, end to end: broken campaign files and environments stop the command with exit 2 before any request;
 * API answers that are not what the API promises (served by a bare HTTP server) get a clear message and the
 * documented exit code, never a crash, never a second DM, and never a ledger that `status` cannot read.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { Scope } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  type RawAnswer,
  type RawRequest,
  type RawServer,
  startRawServer
} from "../packages/core/test/support/e2e-rawServer.js"
import { type CliResult, jsonSummary, writeCampaign } from "./support/cli.js"
import { assertNoSecret, assertPrivate, byUser, ledgerEntries, ledgerOutputs } from "./support/crash-checks.js"
import { command, commandReadSlowly, temporaryDirectory } from "./support/crash-kill.js"
import * as Stage from "./support/crash-stage.js"
import * as World from "./support/crash-world.js"

/** Command starts are CPU-bound: two at a time keep both cores busy without slowing each other down. */
const parallel = 2

const exitOf = (result: CliResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

// ---------------------------------------------------------------------------------------------------------------
// Campaign files and environments

describe("bad campaign files and environments: exit 2, the problem named, not one request", () => {
  it.scopedLive(
    "a campaign file with wrong types, unknown keys, no posts or an unknown template variable, broken YAML, a " +
      "missing file and a huge one are each refused with a message that names every problem",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 301, posts: 1, commentsPerPost: 20 }) })
        const directory = Path.dirname(stage.campaignFile)
        const valid = World.campaign(stage.world)
        const yaml = (name: string, text: string) => writeCampaign(directory, name, text)
        const json = (name: string, content: object) => writeCampaign(directory, name, content)
        const huge = Path.join(directory, "huge.yaml")
        Fs.writeFileSync(huge, `name: huge\n${"# padding that makes the file far too big\n".repeat(60_000)}`)

        const cases: ReadonlyArray<{ readonly file: string; readonly says: ReadonlyArray<string | RegExp> }> = [
          {
            // Wrong types, unknown keys, no posts and an unknown template variable: all reported at once.
            file: json("problems.json", {
              ...valid,
              colour: "red",
              posts: [],
              match: { keywords: ["guide"], mod: "word" },
              message: "Hi {{usrname}}, the guide: https://example.com/g",
              pace: { per_hour: 200, concurrency: 99 },
              max_sends: "ten"
            }),
            says: [
              "6 problems",
              "unknown key \"colour\"",
              "posts: expected at least one post",
              "match: unknown key \"mod\"",
              "unknown template variable {{usrname}}",
              "pace.concurrency: expected an integer from 1 to 32",
              "max_sends: expected a non-negative integer"
            ]
          },
          {
            file: yaml("broken.yaml", "name: broken\nposts: [\"1790\"\nuser: crash\n"),
            says: [/line \d+, column \d+/]
          },
          { file: Path.join(directory, "missing.yaml"), says: ["no such file"] },
          { file: huge, says: ["the limit is 1 MiB"] }
        ]
        const db = Path.join(directory, "never.sqlite")
        const results = yield* Effect.forEach(
          cases,
          (testCase) => command(["run", testCase.file, "--db", db, "--json"], stage.options),
          { concurrency: parallel }
        )
        cases.forEach((testCase, index) => {
          const result = results[index]!
          stage.keep(Path.basename(testCase.file), result)
          assert.strictEqual(result.code, 2, `${testCase.file}: ${exitOf(result)}`)
          assert.include(result.stderr, testCase.file, "the message starts with the file")
          for (const fragment of testCase.says) {
            if (typeof fragment === "string") assert.include(result.stderr, fragment, testCase.file)
            else assert.match(result.stderr, fragment, testCase.file)
          }
          assert.strictEqual(result.stdout, "", `${testCase.file}: no summary for a run that never started`)
        })
        assert.deepStrictEqual((yield* stage.sandbox.stats).requests, {}, "the sandbox saw no request")
        assert.isFalse(Fs.existsSync(db), "no ledger was created")
        stage.assertNothingLeaked()
      }),
    { timeout: 240_000 }
  )

  it.scopedLive(
    "plain http to a host that is not this machine, or no key at all, is refused before any request with a message " +
      "that names the problem",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 302, posts: 1, commentsPerPost: 20 }) })
        const remote = yield* listenerOnAnotherAddress
        const [clearText, noKey] = yield* Effect.forEach(
          [
            { UPLOAD_POST_BASE_URL: remote.baseUrl, UPLOAD_POST_API_KEY: stage.key },
            { UPLOAD_POST_BASE_URL: stage.sandbox.baseUrl }
          ],
          (env) => command(stage.args("run", "--json"), { ...stage.options, env }),
          { concurrency: parallel }
        )
        stage.keep("plain http", clearText!)
        stage.keep("no key", noKey!)
        assert.strictEqual(clearText!.code, 2, exitOf(clearText!))
        assert.include(clearText!.stderr, `plain http to ${new URL(remote.baseUrl).hostname}`)
        assert.include(clearText!.stderr, "use https")
        assert.strictEqual(remote.requests(), 0, `nothing reached ${remote.baseUrl}`)
        assert.strictEqual(noKey!.code, 2, exitOf(noKey!))
        assert.deepStrictEqual((yield* stage.sandbox.stats).requests, {}, "the sandbox saw no request")
        stage.assertNothingLeaked()
        assert.include(noKey!.stderr, "UPLOAD_POST_API_KEY", exitOf(noKey!))
      }),
    { timeout: 120_000 }
  )
})

/**
 * A server on this machine reached by a non-loopback address (the first external IPv4 interface), counting the
 * requests it gets. Without such an interface the address is a name that never resolves.
 */
const listenerOnAnotherAddress: Effect.Effect<
  { readonly baseUrl: string; readonly requests: () => number },
  never,
  Scope.Scope
> = Effect.gen(function*() {
  const address = Object.values(Os.networkInterfaces()).flat()
    .find((info) => info !== undefined && !info.internal && info.family === "IPv4")?.address
  if (address === undefined) return { baseUrl: "http://comment-dm-test.invalid/api", requests: () => 0 }
  let count = 0
  const server = yield* Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const server = Http.createServer((_, response) => {
        count++
        response.writeHead(500).end()
      })
      server.listen(0, address, () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  )
  const { port } = server.address() as AddressInfo
  return { baseUrl: `http://${address}:${port}/api`, requests: () => count }
})

// ---------------------------------------------------------------------------------------------------------------
// API answers

const profile = "crash"
const postId = "17900000000000001"

interface WireComment {
  readonly id: string
  readonly text: string
  readonly user?: { readonly id?: string | number; readonly username?: string }
  readonly username?: string
}

const page = (comments: ReadonlyArray<WireComment>, next?: string) =>
  JSON.stringify({
    success: true,
    comments: comments.map((comment) => ({ timestamp: "2026-03-28T10:15:00+0000", ...comment })),
    pagination: { next_cursor: next ?? null, has_next: next !== undefined }
  })

const ok = (body: string): RawAnswer => ({ status: 200, headers: { "content-type": "application/json" }, body })

const isComments = (request: RawRequest) => request.url.pathname.endsWith("/uploadposts/comments")
const isSend = (request: RawRequest) => request.url.pathname.endsWith("/uploadposts/dms/send")
const isConversations = (request: RawRequest) => request.url.pathname.endsWith("/uploadposts/dms/conversations")
const isProfile = (request: RawRequest) => request.url.pathname.includes("/uploadposts/users/")
const unknownProfile: RawAnswer = {
  status: 404,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ success: false, message: "Profile not found" })
}

interface SendBody {
  readonly recipient_id: string
  readonly message: string
}
const sendBody = (request: RawRequest): SendBody => JSON.parse(request.body)

/** A well-formed answer to a send. */
const sent = (request: RawRequest): RawAnswer => {
  const { recipient_id } = sendBody(request)
  return ok(JSON.stringify({ success: true, recipient_id, message_id: `m-${recipient_id}`, message: "DM sent" }))
}

const noConversations = ok(JSON.stringify({ success: true, conversations: [] }))

/** A conversation answer holding the messages sent, and the conversations of `wrote`, who wrote an hour ago. */
const conversationsOf = (sends: ReadonlyArray<RawRequest>, wrote: ReadonlyArray<string> = []): RawAnswer =>
  ok(JSON.stringify({
    success: true,
    conversations: wrote.map((id) => {
      const person = { id, username: `person_${id}` }
      const account = { id: "17841400000000000", username: profile }
      const created = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d{3}Z$/, "+0000")
      return {
        id: `t_${id}`,
        participants: { data: [person, account] },
        messages: {
          data: [{ id: `w-${id}`, created_time: created, from: person, to: { data: [account] }, message: "hi" }]
        }
      }
    }).concat(sends.map((request) => {
      const { message, recipient_id } = sendBody(request)
      const person = { id: recipient_id, username: `person_${recipient_id}` }
      const account = { id: "17841400000000000", username: profile }
      return {
        id: `t_${recipient_id}`,
        participants: { data: [person, account] },
        messages: {
          data: [{
            id: `m-${recipient_id}`,
            created_time: new Date().toISOString().replace(/\.\d{3}Z$/, "+0000"),
            from: account,
            to: { data: [person] },
            message
          }]
        }
      }
    }))
  }))

interface Bench {
  readonly server: RawServer
  readonly key: string
  readonly db: string
  readonly campaignFile: string
  readonly campaign: string
  readonly cli: (subcommand: string, ...rest: ReadonlyArray<string>) => Effect.Effect<CliResult>
  /** Like {@link cli}, with a reader that waits `delay` before it reads stdout. */
  readonly cliReadSlowly: (
    delay: Duration.DurationInput,
    subcommand: string,
    ...rest: ReadonlyArray<string>
  ) => Effect.Effect<CliResult>
  readonly sends: () => ReadonlyArray<RawRequest>
  /** Send requests per recipient. */
  readonly sendsTo: () => ReadonlyMap<string, number>
  readonly assertNothingLeaked: () => void
}

/** A bare server answering with `handler`, a campaign on its one post, a ledger, and a distinctive key. */
const bench = (
  handler: (request: RawRequest) => RawAnswer | Promise<RawAnswer>,
  campaign: Partial<Record<string, unknown>> = {}
): Effect.Effect<Bench, never, Scope.Scope> =>
  Effect.gen(function*() {
    // A bare server knows no profile: the run's one read of the account's identity gets a 404 and goes on.
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => startRawServer((request) => isProfile(request) ? unknownProfile : handler(request))),
      (server) => Effect.promise(() => server.close())
    )
    const key = World.secretKey()
    const directory = yield* temporaryDirectory
    const name = `bad-input-${Path.basename(directory)}`
    const campaignFile = writeCampaign(directory, "campaign.json", {
      name,
      platform: "instagram",
      user: profile,
      posts: [postId],
      match: { keywords: ["guide"] },
      message: "Hi @{{username}}, here is the guide: https://example.com/guide",
      pace: { per_hour: 1_000_000, concurrency: 2 },
      // The server answers DMs; `auto` would send private replies to whoever its conversations do not show writing.
      delivery: "dm",
      ...campaign
    })
    const db = Path.join(directory, "ledger.sqlite")
    const outputs: Record<string, string> = {}
    const sends = () => server.requests.filter(isSend)
    const options = { env: { UPLOAD_POST_BASE_URL: server.baseUrl, UPLOAD_POST_API_KEY: key }, timeoutMs: 90_000 }
    const args = (subcommand: string, rest: ReadonlyArray<string>) => [subcommand, campaignFile, "--db", db, ...rest]
    const keep = (subcommand: string) => (result: CliResult) => {
      const number = Object.keys(outputs).length / 2 + 1
      outputs[`${number}: ${subcommand} stdout`] = result.stdout
      outputs[`${number}: ${subcommand} stderr`] = result.stderr
    }
    return {
      server,
      key,
      db,
      campaignFile,
      campaign: name,
      cli: (subcommand, ...rest) => Effect.tap(command(args(subcommand, rest), options), keep(subcommand)),
      cliReadSlowly: (delay, subcommand, ...rest) =>
        Effect.tap(commandReadSlowly(args(subcommand, rest), options, delay), keep(subcommand)),
      sends,
      sendsTo: () => {
        const counts = new Map<string, number>()
        for (const request of sends()) {
          const recipient = sendBody(request).recipient_id
          counts.set(recipient, (counts.get(recipient) ?? 0) + 1)
        }
        return counts
      },
      assertNothingLeaked: () => {
        assertNoSecret(key, { ...outputs, ...ledgerOutputs(db) })
        assertPrivate(db)
      }
    }
  })

/** Two matching people on the first page; the second page is `spoiled`. */
const firstPage = page([
  { id: "c1", text: "guide please", user: { id: "2001", username: "ana" } },
  { id: "c2", text: "GUIDE", user: { id: "2002", username: "ben" } }
], "page-2")

const spoiledSecondPage = (spoiled: string) => (request: RawRequest): RawAnswer =>
  isComments(request)
    ? request.url.searchParams.get("after") === "page-2" ? ok(spoiled) : ok(firstPage)
    : isSend(request)
    ? sent(request)
    : noConversations

describe("API answers that break the contract", () => {
  it.scopedLive(
    "a comments page that is not JSON, cut short, or of the wrong shape stops the run with exit 1 and an excerpt; " +
      "the people already met are settled, never twice, and the ledger still opens",
    () =>
      Effect.gen(function*() {
        const spoiled: ReadonlyArray<{ readonly name: string; readonly body: string; readonly says: string }> = [
          { name: "not JSON", body: "<html><body>502 Bad Gateway</body></html>", says: "502 Bad Gateway" },
          { name: "truncated", body: page([{ id: "c9", text: "guide" }]).slice(0, 40), says: "not JSON" },
          { name: "no comments field", body: JSON.stringify({ success: true, data: [] }), says: "comments" },
          {
            name: "wrong types",
            body: JSON.stringify({ success: true, comments: [{ id: { nested: 1 }, text: 42 }] }),
            says: "comments"
          }
        ]
        const benches = yield* Effect.forEach(spoiled, (testCase) => bench(spoiledSecondPage(testCase.body)))
        const results = yield* Effect.forEach(benches, (bench) => bench.cli("run", "--json"), {
          concurrency: parallel
        })
        for (const [index, testCase] of spoiled.entries()) {
          const result = results[index]!
          const { campaign, db, sendsTo } = benches[index]!
          assert.strictEqual(result.code, 1, `${testCase.name}: ${exitOf(result)}`)
          assert.include(result.stderr, "does not fit the API", testCase.name)
          assert.include(result.stderr, testCase.says, testCase.name)
          const entries = yield* ledgerEntries(db, campaign)
          for (const entry of entries) {
            assert.include(["sent", "pending"], entry.state, `${testCase.name}: ${entry.userId} is ${entry.state}`)
            assert.strictEqual(sendsTo().get(entry.userId) ?? 0, entry.state === "sent" ? 1 : 0, testCase.name)
          }
          assert.isTrue([...sendsTo().values()].every((count) => count === 1), `${testCase.name}: one send each`)
        }
        const status = yield* benches[0]!.cli("status", "--json")
        assert.strictEqual(status.code, 0, exitOf(status))
        assert.strictEqual(JSON.parse(status.stdout).unaccounted, 0)
        for (const bench of benches) bench.assertNothingLeaked()
      }),
    { timeout: 240_000 }
  )

  it.scopedLive(
    "comments without a user or an id are dropped with a reason; numeric ids, a 10 MB text and odd Unicode are " +
      "read, matched, stored and exported",
    () =>
      Effect.gen(function*() {
        const tenMegabytes = "x".repeat(10 * 1024 * 1024)
        const comments: ReadonlyArray<WireComment> = [
          { id: "c1", text: "guide" },
          { id: "c2", text: "guide", user: { username: "ghost" } },
          { id: "c3", text: "GUIDE", user: { id: 3003, username: "numeric" } },
          { id: "c4", text: `guide ${tenMegabytes}`, user: { id: "3004", username: "long" } },
          { id: "c5", text: "ＧＵＩＤＥ\u200d🔥", user: { id: "3005", username: "\u202egnp.exe" } },
          { id: "c6", text: "g\u0337u\u0337i\u0337d\u0337e\u0337", user: { id: "3006", username: "zalgo" } },
          { id: "c7", text: "guide\u0000please", user: { id: "3007", username: "nul" } },
          { id: "c8", text: "gu\u00edde \u{1f469}\u200d\u{1f4bb}", user: { id: "3008" }, username: "flat_user" },
          { id: "c9", text: "guidelines", user: { id: "3009", username: "nope" } },
          { id: "c10", text: "مرحبا guide שלום", user: { id: "3010", username: "بيدي" } }
        ]
        const body = page(comments)
        const bench_: Bench = yield* bench(
          (request) => isComments(request) ? ok(body) : isSend(request) ? sent(request) : noConversations,
          { message: "Hi @{{username}}, you said: {{comment}}" }
        )
        const result = yield* bench_.cli("run", "--json")
        assert.strictEqual(result.code, 0, exitOf(result))
        const summary = jsonSummary(result)
        assert.strictEqual(summary.counts.comments, comments.length)
        assert.strictEqual(summary.counts.dropped, 2)
        const expectedSent = ["3003", "3005", "3006", "3007", "3008", "3010"]
        assert.deepStrictEqual([...bench_.sendsTo().keys()].sort(), expectedSent)
        assert.isTrue([...bench_.sendsTo().values()].every((count) => count === 1))
        const rows = byUser(yield* ledgerEntries(bench_.db, bench_.campaign))
        assert.deepStrictEqual([...rows.keys()].sort(), [...expectedSent, "3004"].sort())
        assert.strictEqual(rows.get("3004")?.state, "refused")
        assert.match(rows.get("3004")?.reason ?? "", /instagram allows 1,000/)
        assert.strictEqual(rows.get("3004")?.commentText?.length, `guide ${tenMegabytes}`.length, "stored whole")
        assert.strictEqual(rows.get("3008")?.username, "flat_user", "the older flat username form")

        // The export goes to a reader that takes a while to start, like `comment-dm export | gzip` on a busy disk.
        const [status, exported] = yield* Effect.all([
          bench_.cli("status", "--json"),
          bench_.cliReadSlowly(Duration.seconds(3), "export", "--format", "jsonl")
        ], { concurrency: parallel })
        assert.strictEqual(status.code, 0, exitOf(status))
        const report = JSON.parse(status.stdout)
        assert.deepInclude(report, { matched: 7, unaccounted: 0 })
        assert.deepInclude(report.counts, { sent: 6, refused: 1 })
        bench_.assertNothingLeaked()
        assert.strictEqual(exported.code, 0, exitOf(exported))
        const exportedLines = exported.stdout.split("\n")
        assert.strictEqual(exportedLines.length, 8, "seven rows, each ending with a newline: the export arrived whole")
        const lines = exportedLines.slice(0, -1).map((line) => JSON.parse(line))
        assert.deepStrictEqual(lines.map((line) => line.user_id).sort(), [...expectedSent, "3004"].sort())
        assert.strictEqual(lines.find((line) => line.user_id === "3005")?.username, "\u202egnp.exe")
        assert.strictEqual(
          lines.find((line) => line.user_id === "3004")?.comment_text.length,
          `guide ${tenMegabytes}`.length
        )
      }),
    { timeout: 180_000 }
  )

  it.scopedLive(
    "a send answered with 200 and a body that is not JSON, lacks the message id or has it of the wrong type puts the " +
      "person in doubt (exit 5); the next run finds the delivered ones in the conversations and resends only the " +
      "rest, even when the message holds a broken surrogate pair",
    () =>
      Effect.gen(function*() {
        const people = ["4001", "4002", "4003", "4004", "4005"]
        const spoiledAnswers: Record<string, string> = {
          "4001": "OK",
          "4002": JSON.stringify({ success: true }),
          "4003": JSON.stringify({ success: true, message_id: { id: 1 } }),
          "4004": "{\"success\":true,\"message_id\":\"m-40",
          "4005": "OK"
        }
        const comments = page(people.map((id) => ({
          id: `c${id}`,
          // 4005's comment was cut in the middle of an emoji: a high surrogate with no low one after it.
          text: id === "4005" ? "guide \ud83d" : "guide",
          user: { id, username: `p${id}` }
        })))
        let phase: "spoiled" | "healthy" = "spoiled"
        const bench_: Bench = yield* bench((request) => {
          if (isComments(request)) return ok(comments)
          if (isConversations(request)) {
            // The platform delivered every spoiled send but 4004's; 4004's conversation shows only what they wrote
            // before the claim, so the answer shows that nothing went to them since.
            return conversationsOf(bench_.sends().filter((send) => sendBody(send).recipient_id !== "4004"), ["4004"])
          }
          const recipient = sendBody(request).recipient_id
          return phase === "spoiled" ? ok(spoiledAnswers[recipient] ?? "") : sent(request)
        }, { message: "Hi @{{username}}, you said: {{comment}}" })
        const first = yield* bench_.cli("run", "--json")
        const firstEnded = Date.now()
        assert.strictEqual(first.code, 5, exitOf(first))
        const inDoubt = (yield* ledgerEntries(bench_.db, bench_.campaign)).filter((entry) => entry.state === "in_doubt")
        assert.deepStrictEqual(inDoubt.map((entry) => entry.userId).sort(), people)
        for (const entry of inDoubt) assert.match(entry.reason ?? "", /unreadable body/)

        // Claims younger than the settle time stay in doubt; wait it out so that the next run decides them all.
        yield* Effect.sleep(Duration.millis(Math.max(0, firstEnded + 5_000 - Date.now())))
        phase = "healthy"
        const second = yield* bench_.cli("run", "--json")
        assert.strictEqual(second.code, 0, exitOf(second))
        assert.strictEqual(jsonSummary(second).counts.reconciled, people.length)
        const sends = Object.fromEntries(bench_.sendsTo())
        assert.deepInclude(sends, { "4001": 1, "4002": 1, "4003": 1, "4004": 2 }, "only 4004 was not delivered")
        const rows = byUser(yield* ledgerEntries(bench_.db, bench_.campaign))
        assert.isTrue(people.every((id) => rows.get(id)?.state === "sent"), "everyone is sent")
        bench_.assertNothingLeaked()
        assert.strictEqual(sends["4005"], 1, "a message with a broken surrogate pair was found, not sent again")
        assert.strictEqual(rows.get("4005")?.messageId, "m-4005")
      }),
    { timeout: 180_000 }
  )

  it.scopedLive(
    "a send refused as an invalid request (400 Invalid account) stops the campaign with exit 2; nothing is sent after",
    () =>
      Effect.gen(function*() {
        const comments = page(
          ["6001", "6002", "6003"].map((id) => ({ id: `c${id}`, text: "guide", user: { id, username: `p${id}` } }))
        )
        const bench_: Bench = yield* bench(
          (request) =>
            isComments(request)
              ? ok(comments)
              : isSend(request)
              ? { status: 400, body: JSON.stringify({ success: false, error: "Invalid account" }) }
              : noConversations,
          { pace: { per_hour: 1_000_000, concurrency: 1 } }
        )
        const result = yield* bench_.cli("run", "--json")
        assert.strictEqual(result.code, 2, exitOf(result))
        assert.include(result.stderr, "Invalid account")
        assert.strictEqual(bench_.sends().length, 1, "the first refusal stops every later send")
        const entries = yield* ledgerEntries(bench_.db, bench_.campaign)
        assert.deepStrictEqual(entries.map((entry) => entry.state), ["pending", "pending", "pending"])
        bench_.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )
})
