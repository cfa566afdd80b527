/**
 * Exit codes of `run` when the daily DM limit answers a read (DESIGN.md, "Command contract": 3 stopped by the daily DM
 * limit). A bare HTTP server gives the answers: the sandbox counts the limit against sends only.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Effect } from "effect"
import * as Path from "node:path"
import { type RawAnswer, type RawRequest, startRawServer } from "../packages/core/test/support/e2e-rawServer.js"
import { type CliResult, jsonSummary, writeCampaign } from "./support/cli.js"
import { assertNoSecret, ledgerEntries } from "./support/crash-checks.js"
import { command, temporaryDirectory } from "./support/crash-kill.js"
import * as World from "./support/crash-world.js"

const profile = "limits"
const postId = "17900000000000001"

const json = (status: number, body: unknown): RawAnswer => ({
  status,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body)
})

/** The platform's daily cap, exactly as it words it (reference/upload-post-api.md). */
const dailyLimit = json(429, { success: false, error: "Daily DM limit exceeded." })

const page = (comments: ReadonlyArray<{ id: string; text: string; userId: string }>, next?: string) =>
  json(200, {
    success: true,
    comments: comments.map((comment) => ({
      id: comment.id,
      text: comment.text,
      timestamp: "2026-03-28T10:15:00+0000",
      user: { id: comment.userId, username: `person_${comment.userId}` }
    })),
    pagination: { next_cursor: next ?? null, has_next: next !== undefined }
  })

const endsWith = (request: RawRequest, path: string) => request.url.pathname.endsWith(path)
const isSend = (request: RawRequest) => endsWith(request, "/uploadposts/dms/send")

const sent = (request: RawRequest): RawAnswer => {
  const { recipient_id } = JSON.parse(request.body) as { readonly recipient_id: string }
  return json(200, { success: true, recipient_id, message_id: `m-${recipient_id}`, message: "DM sent" })
}

const noConversations = json(200, { success: true, conversations: [] })

interface Ran {
  readonly result: CliResult
  /** Every request the server received. */
  readonly requests: ReadonlyArray<RawRequest>
  readonly db: string
  readonly name: string
}

/** Runs `comment-dm run --json` on a campaign against a bare server answering with `handler`. */
const runAgainst = (
  handler: (request: RawRequest) => RawAnswer | Promise<RawAnswer>,
  campaign: Record<string, unknown> = {}
): Effect.Effect<Ran, never, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* Effect.acquireRelease(
      Effect.promise(() => startRawServer(handler)),
      (server) => Effect.promise(() => server.close())
    )
    const directory = yield* temporaryDirectory
    const name = `exits-${Path.basename(directory)}`
    const key = World.secretKey()
    // Every commenter matches; the pace is no constraint.
    // DMs: the server answers no conversations, which `auto` would answer with private replies.
    const spec = {
      name,
      platform: "instagram",
      user: profile,
      posts: [postId],
      message: "Hi @{{username}}",
      delivery: "dm"
    }
    const campaignFile = writeCampaign(directory, "campaign.json", {
      ...spec,
      pace: { per_hour: 1_000_000 },
      ...campaign
    })
    const db = Path.join(directory, "ledger.sqlite")
    const result = yield* command(["run", campaignFile, "--db", db, "--json"], {
      env: { UPLOAD_POST_BASE_URL: server.baseUrl, UPLOAD_POST_API_KEY: key },
      timeoutMs: 60_000
    })
    assertNoSecret(key, { stdout: result.stdout, stderr: result.stderr })
    return { result, requests: server.requests, db, name }
  })

const exitOf = (result: CliResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

describe("run: the daily DM limit on a read ends the run with exit 3", () => {
  it.scopedLive(
    "a comments read answered with the daily limit on its first page: exit 3, outcome daily_limit",
    () =>
      Effect.gen(function*() {
        const { requests, result } = yield* runAgainst((request) =>
          endsWith(request, "/uploadposts/comments") ? dailyLimit : noConversations
        )
        assert.strictEqual(result.code, 3, exitOf(result))
        assert.strictEqual(jsonSummary(result).outcome, "daily_limit")
        assert.strictEqual(requests.filter(isSend).length, 0)
      }),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "a post not read to its end because of the daily limit is not done, even with everyone found so far sent: exit 3",
    () =>
      Effect.gen(function*() {
        let sends = 0
        let bothSent: () => void = () => {}
        const bothAnswered = new Promise<void>((resolve) => (bothSent = resolve))
        const { db, name, requests, result } = yield* runAgainst(async (request) => {
          if (isSend(request)) {
            if (++sends === 2) setTimeout(bothSent, 50)
            return sent(request)
          }
          if (!endsWith(request, "/uploadposts/comments")) return noConversations
          if (request.url.searchParams.get("after") !== "page-2") {
            return page([
              { id: "c1", text: "guide please", userId: "2001" },
              { id: "c2", text: "GUIDE", userId: "2002" }
            ], "page-2")
          }
          // The second page is answered once both people of the first are settled: nobody is left pending.
          await Promise.race([bothAnswered, new Promise((resolve) => setTimeout(resolve, 20_000))])
          return dailyLimit
        })
        assert.strictEqual(result.code, 3, exitOf(result))
        const summary = jsonSummary(result)
        assert.strictEqual(summary.outcome, "daily_limit")
        assert.strictEqual(summary.counts.sent, 2)
        assert.strictEqual(summary.counts.pending, 0)
        assert.strictEqual(requests.filter(isSend).length, 2)
        const entries = yield* ledgerEntries(db, name)
        assert.deepStrictEqual(entries.map((entry) => [entry.userId, entry.state]), [["2001", "sent"], [
          "2002",
          "sent"
        ]])
      }),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "a `posts: recent` lookup answered with the daily limit: exit 3, outcome daily_limit, nothing sent",
    () =>
      Effect.gen(function*() {
        const { requests, result } = yield* runAgainst(
          (request) => endsWith(request, "/uploadposts/media") ? dailyLimit : noConversations,
          { posts: { recent: 3 } }
        )
        assert.strictEqual(result.code, 3, exitOf(result))
        assert.strictEqual(jsonSummary(result).outcome, "daily_limit")
        assert.strictEqual(requests.filter((request) => endsWith(request, "/uploadposts/media")).length, 1)
        assert.strictEqual(requests.filter(isSend).length, 0)
      }),
    { timeout: 90_000 }
  )
})
