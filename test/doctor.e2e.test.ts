/**
 * `comment-dm doctor`, end to end: the real command against the sandbox (or a bare server for answers the sandbox
 * cannot give). A good campaign exits 0 and names every check; a broken one (a refused key, a post_url beyond the
 * recent posts, an unknown profile, a pace above the plan's limits) exits with the contract's code and names the fix;
 * `--json` has a stable shape; nothing is ever sent. And a `run` never matches the account's own comments.
 */
import type { DataSet, Sandbox } from "@comment-dm/sandbox"
import { assert, describe, it, type TestContext } from "@effect/vitest"
import * as Path from "node:path"
import { type RawRequest, startRawServer } from "../packages/core/test/support/e2e-rawServer.js"
import { type CliResult, jsonSummary, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { control, type RunningSandbox, startSandbox } from "./support/sandbox.js"

const profile = "studio"
const accountId = "17841400000000777"
const firstPost = "17900000000000501"
const secondPost = "17900000000000502"
const firstUrl = "https://www.instagram.com/reel/DoctorReelOne/"

const exitOf = (result: CliResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

const assertExit = (result: CliResult, code: number) => assert.strictEqual(result.code, code, exitOf(result))

const instagramTime = (millis: number) => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "+0000")
const hoursAgo = (hours: number) => instagramTime(Date.now() - hours * 3_600_000)

/**
 * Two posts: the first a month old with a matching comment from 8 days ago and fresh ones, one of them by the account
 * itself; the second with one fresh matching comment.
 */
const data: DataSet.Listed = {
  _tag: "Listed",
  profile,
  posts: [{
    id: firstPost,
    url: firstUrl,
    platform: "instagram",
    caption: "Comment GUIDE",
    timestamp: hoursAgo(24 * 30),
    comments: [
      { id: "c-old", text: "guide please", timestamp: hoursAgo(24 * 8), user: { id: "2003", username: "old_fan" } },
      { id: "c-anna", text: "GUIDE", timestamp: hoursAgo(5), user: { id: "2001", username: "anna" } },
      {
        id: "c-own",
        text: "The guide is in your DMs",
        timestamp: hoursAgo(4),
        user: { id: accountId, username: "studio.gram" }
      },
      { id: "c-none", text: "nice", timestamp: hoursAgo(3), user: { id: "2004", username: "ben" } }
    ]
  }, {
    id: secondPost,
    url: "https://www.instagram.com/reel/DoctorReelTwo/",
    platform: "instagram",
    caption: "Comment GUIDE",
    timestamp: hoursAgo(24 * 2),
    comments: [
      { id: "c-carl", text: "guide 🔥", timestamp: hoursAgo(1), user: { id: "2002", username: "carl" } }
    ]
  }]
}

const account: Sandbox.Account = { userId: accountId, handle: "studio.gram", plan: "Business" }

/**
 * The sandbox of these tests. Its commenters of listed posts wrote to the account an hour ago, but for the closed
 * windows named here, whose message is two days old: anna's window is open; carl and old_fan only commented.
 */
const closedWindows: Sandbox.SandboxOptions = { windows: "open", faults: { refusedRecipients: ["2002", "2003"] } }

const sandboxFor = async (context: TestContext, options: Sandbox.SandboxOptions = {}) => {
  const sandbox = await startSandbox({ data, account, ...closedWindows, ...options })
  context.onTestFinished(() => sandbox.close())
  return sandbox
}

const campaign = (extra: Record<string, unknown> = {}) => ({
  name: "doctor-e2e",
  platform: "instagram",
  user: profile,
  posts: [firstPost, secondPost],
  match: { keywords: ["guide"] },
  message: "Hi @{{username}}, here is your guide: https://example.com/g",
  pace: { per_hour: 150, concurrency: 2 },
  ...extra
})

const doctor = async (
  context: TestContext,
  env: Readonly<Record<string, string | undefined>>,
  content: object | string,
  flags: ReadonlyArray<string> = []
) => {
  const dir = tempDir()
  context.onTestFinished(dir.cleanup)
  const file = writeCampaign(dir.path, "campaign.json", content)
  return runCli(["doctor", file, ...flags], { env })
}

interface JsonCheck {
  readonly name: string
  readonly subject: string | null
  readonly status: string
  readonly detail: string
  readonly fix: string | null
  readonly exit_code: number
}

const report = (result: CliResult) => {
  const lines = result.stdout.trim().split("\n")
  assert.strictEqual(lines.length, 1, `one JSON line on stdout\n${exitOf(result)}`)
  return JSON.parse(lines[0]!) as {
    readonly ok: boolean
    readonly exit_code: number
    readonly checks: ReadonlyArray<JsonCheck>
    readonly [key: string]: unknown
  }
}

const checkNamed = (checks: ReadonlyArray<JsonCheck>, name: string, subject: string | null = null) => {
  const found = checks.find((check) => check.name === name && (subject === null || check.subject === subject))
  assert.isDefined(found, `check ${name} ${subject ?? ""}: ${JSON.stringify(checks)}`)
  return found!
}

/** Nothing was sent, and every request the sandbox saw was a read. */
const assertNothingSent = async (sandbox: RunningSandbox) => {
  assert.deepStrictEqual(await control(sandbox.handle.deliveries), [], "no delivery")
  const requests = Object.keys((await control(sandbox.handle.stats)).requests)
  assert.isTrue(requests.length > 0, "the doctor asked the API")
  for (const endpoint of requests) assert.match(endpoint, /^GET /, `only reads: ${requests.join(", ")}`)
}

const budget = 120_000

describe("doctor on a good campaign", () => {
  it("exits 0, names every check, previews auto per person, and sends nothing", async (context) => {
    const sandbox = await sandboxFor(context)
    const result = await doctor(context, sandbox.env, campaign())
    assertExit(result, 0)
    for (
      const line of [
        /ok +key: the key is valid \(studio@sandbox\.upload-post\.local, plan Business\)/,
        /ok +profile: profile studio answers; the account is @studio\.gram \(17841400000000777\)/,
        new RegExp(`ok +post ${firstPost}: resolves: 4 comments on the first page`),
        new RegExp(`ok +post ${secondPost}: resolves: 1 comments on the first page`),
        /ok +conversations: conversations are readable: 5 conversations; 2 people wrote to the account in the last 24 hours/,
        /ok +request_limit: pace\.per_hour 150 is within plan "Business"'s request limit \(15,000 an hour\)/,
        /warning +daily_cap: at 150 an hour the daily DM cap of 500 .* is reached after 3h 20m/,
        /ok +preview: auto on the first page of each post: 4 matching people: 1 by DM .*, 1 by private reply, skipped 1 comment_too_old, 1 own_comment/,
        /@anna \(2001\) on post 17900000000000501: DM \(until /,
        /@carl \(2002\) on post 17900000000000502: private reply \(until /,
        /@old_fan \(2003\) on post 17900000000000501: skipped: comment_too_old/,
        /@studio\.gram \(17841400000000777\) on post 17900000000000501: skipped: own_comment/,
        /result: a run can proceed \(1 warning\); nothing was sent/
      ]
    ) {
      assert.match(result.stdout, line)
    }
    await assertNothingSent(sandbox)
  }, budget)

  it(
    "--json: one line with the documented keys, every check with its fields, the preview's counts",
    async (context) => {
      const sandbox = await sandboxFor(context)
      const result = await doctor(context, sandbox.env, campaign(), ["--json"])
      assertExit(result, 0)
      const json = report(result)
      assert.deepStrictEqual(Object.keys(json), [
        "campaign",
        "platform",
        "user",
        "ok",
        "exit_code",
        "checks",
        "account",
        "conversations",
        "limits",
        "preview"
      ])
      assert.deepStrictEqual([json.ok, json.exit_code], [true, 0])
      assert.deepStrictEqual(
        json.checks.map((check) => [check.name, check.subject, check.status]),
        [
          ["key", null, "ok"],
          ["profile", null, "ok"],
          ["request_limit", null, "ok"],
          ["daily_cap", null, "warning"],
          ["post", firstPost, "ok"],
          ["post", secondPost, "ok"],
          ["conversations", null, "ok"],
          ["preview", null, "ok"]
        ]
      )
      for (const check of json.checks) {
        assert.deepStrictEqual(Object.keys(check), ["name", "subject", "status", "detail", "fix", "exit_code"])
      }
      assert.deepStrictEqual(json.account, {
        email: "studio@sandbox.upload-post.local",
        plan: "Business",
        user_id: accountId,
        username: "studio.gram",
        source: "profile"
      })
      assert.deepStrictEqual(json.limits, {
        requests_per_minute: 500,
        requests_per_10_minutes: 2500,
        daily_dm_cap: 500,
        pace_per_hour: 150,
        concurrency: 2
      })
      const preview = json.preview as {
        readonly people: number
        readonly dm: number
        readonly private_reply: number
        readonly skipped: Record<string, number>
        readonly sample: ReadonlyArray<Record<string, unknown>>
      }
      assert.deepStrictEqual([preview.people, preview.dm, preview.private_reply, preview.skipped], [4, 1, 1, {
        window_closed: 0,
        comment_too_old: 1,
        own_comment: 1
      }])
      assert.deepStrictEqual(Object.keys(preview.sample[0]!), [
        "user_id",
        "username",
        "post",
        "path",
        "reason",
        "until"
      ])
      await assertNothingSent(sandbox)
    },
    budget
  )

  it("a post_url among the recent posts resolves to its id", async (context) => {
    const sandbox = await sandboxFor(context)
    const result = await doctor(context, sandbox.env, campaign({ posts: [firstUrl.replace("www.", "")] }))
    assertExit(result, 0)
    assert.match(
      result.stdout,
      new RegExp(`ok +post https://instagram\\.com/reel/DoctorReelOne/: resolves \\(post id ${firstPost}\\)`)
    )
  }, budget)

  it(
    "posts: recent lists the newest posts through /uploadposts/media and reads each one's first page",
    async (context) => {
      const sandbox = await sandboxFor(context)
      const result = await doctor(context, sandbox.env, campaign({ posts: { recent: 2 } }), ["--json"])
      assertExit(result, 0)
      const posts = report(result).checks.filter((check) => check.name === "post")
      assert.deepStrictEqual(posts.map((check) => [check.subject, check.status]), [[secondPost, "ok"], [
        firstPost,
        "ok"
      ]])
      assert.include(posts[0]!.detail, "(recent:2)")
    },
    budget
  )
})

describe("doctor on a broken campaign: the exit code of the contract, each problem with its fix", () => {
  it(
    "a refused key: exit 4, the fix names UPLOAD_POST_API_KEY, one request and nothing else checked",
    async (context) => {
      const sandbox = await sandboxFor(context)
      const result = await doctor(context, { ...sandbox.env, UPLOAD_POST_API_KEY: "not-the-key" }, campaign(), [
        "--json"
      ])
      assertExit(result, 4)
      const json = report(result)
      assert.deepStrictEqual([json.ok, json.exit_code], [false, 4])
      const key = checkNamed(json.checks, "key")
      assert.deepStrictEqual([key.status, key.exit_code], ["problem", 4])
      assert.include(key.fix ?? "", "check UPLOAD_POST_API_KEY")
      assert.isTrue(json.checks.filter((check) => check.name !== "key").every((check) => check.status === "skipped"))
      assert.deepStrictEqual((await control(sandbox.handle.stats)).requests, { "GET /uploadposts/me": 1 })
      const text = await doctor(context, { ...sandbox.env, UPLOAD_POST_API_KEY: "not-the-key" }, campaign())
      assertExit(text, 4)
      assert.match(text.stdout, /PROBLEM +key: .*HTTP 401/)
      assert.match(text.stdout, /fix: check UPLOAD_POST_API_KEY/)
      assert.match(text.stdout, /result: 1 problem: fix it before a run \(exit 4\); nothing was sent/)
    },
    budget
  )

  it("an empty or blank key: exit 2 before any request, the fix says to export it", async (context) => {
    const sandbox = await sandboxFor(context)
    for (const key of ["", "   "]) {
      const result = await doctor(context, { ...sandbox.env, UPLOAD_POST_API_KEY: key }, campaign(), ["--json"])
      assertExit(result, 2)
      const check = checkNamed(report(result).checks, "key")
      assert.include(check.detail, "UPLOAD_POST_API_KEY is not set")
      assert.include(check.fix ?? "", "export UPLOAD_POST_API_KEY")
    }
    // A base URL that would send the key in the clear: named once, in the command's own words.
    const plain = await doctor(
      context,
      { ...sandbox.env, UPLOAD_POST_BASE_URL: "http://example.com/api" },
      campaign(),
      [
        "--json"
      ]
    )
    assertExit(plain, 2)
    const detail = checkNamed(report(plain).checks, "key").detail
    assert.match(detail, /^UPLOAD_POST_BASE_URL: plain http to example\.com would send the API key unencrypted/)
    assert.deepStrictEqual((await control(sandbox.handle.stats)).requests, {})
  }, budget)

  it("a post_url beyond the 50 most recent posts: exit 2, the fix is to name it by id", async (context) => {
    const sandbox = await sandboxFor(context)
    for (let index = 0; index < 50; index++) {
      await control(sandbox.handle.addPost({ id: `1790000000000${String(600 + index)}`, caption: "newer" }))
    }
    const result = await doctor(context, sandbox.env, campaign({ posts: [firstUrl, secondPost] }), ["--json"])
    assertExit(result, 2)
    const json = report(result)
    const post = checkNamed(json.checks, "post", firstUrl)
    assert.deepStrictEqual([post.status, post.exit_code], ["problem", 2])
    assert.include(post.detail, "not among profile studio's 50 most recent posts")
    assert.include(post.fix ?? "", "name the post by its id")
    assert.strictEqual(checkNamed(json.checks, "post", secondPost).status, "ok", "the other post still resolves")
    await assertNothingSent(sandbox)
  }, budget)

  it(
    "an unknown profile: exit 2, the fix is the profile username; posts and conversations are not asked",
    async (context) => {
      const sandbox = await sandboxFor(context)
      const result = await doctor(context, sandbox.env, campaign({ user: "nobody" }))
      assertExit(result, 2)
      assert.match(result.stdout, /PROBLEM +profile: profile "nobody" did not answer: .*[Pp]rofile not found/)
      assert.match(result.stdout, /fix: set user: to the Upload-Post profile username/)
      assert.match(result.stdout, /skipped +post: not checked: the profile did not answer/)
      const requests = (await control(sandbox.handle.stats)).requests
      assert.deepStrictEqual(Object.keys(requests).sort(), ["GET /uploadposts/me", "GET /uploadposts/users/{profile}"])
    },
    budget
  )

  it(
    "a pace above the plan's request limit: exit 2 with the highest pace; an account that needs re-login: exit 4",
    async (context) => {
      const free = await sandboxFor(context, { account: { ...account, plan: "free" } })
      const fast = await doctor(context, free.env, campaign({ pace: { per_hour: 5000, concurrency: 4 } }), ["--json"])
      assertExit(fast, 2)
      const limit = checkNamed(report(fast).checks, "request_limit")
      assert.deepStrictEqual([limit.status, limit.exit_code], ["problem", 2])
      assert.include(limit.detail, "pace.per_hour 5,000 is above plan \"free\"'s request limit")
      assert.include(limit.fix ?? "", "set pace.per_hour to 1,800 or less")
      assert.include(checkNamed(report(fast).checks, "daily_cap").detail, "daily DM cap of 10")
      await assertNothingSent(free)

      const stale = await sandboxFor(context, { account: { ...account, reauthRequired: true } })
      const relogin = await doctor(context, stale.env, campaign())
      assertExit(relogin, 4)
      assert.match(relogin.stdout, /PROBLEM +profile: the instagram account of profile studio must be connected again/)
      assert.match(relogin.stdout, /fix: reconnect the instagram account in the Upload-Post dashboard/)
    },
    budget
  )

  it(
    "a profile that does not tell its account: a warning naming the campaign key, and the run can proceed",
    async (context) => {
      const sandbox = await sandboxFor(context, { account: { ...account, told: false } })
      const result = await doctor(context, sandbox.env, campaign())
      assertExit(result, 0)
      assert.match(result.stdout, /warning +profile: profile studio answers, but does not tell its instagram account/)
      assert.match(result.stdout, /fix: add account: \{ user_id: \.\.\., username: \.\.\. \} to the campaign file/)
      const named = await doctor(context, sandbox.env, campaign({ account: { user_id: accountId } }))
      assertExit(named, 0)
      assert.match(named.stdout, /ok +profile: .*\(17841400000000777, from the campaign file\)/)
      assert.match(named.stdout, /1 own_comment/)
    },
    budget
  )
})

describe("doctor as a hostile user would use it", () => {
  it("an API that answers 500: exit 1 with the failure named, after a short retry", async (context) => {
    const sandbox = await sandboxFor(context, { faults: { readErrorRate: 1 } })
    const started = Date.now()
    const result = await doctor(context, sandbox.env, campaign(), ["--json"])
    assertExit(result, 1)
    const key = checkNamed(report(result).checks, "key")
    assert.include(key.detail, "HTTP 500")
    assert.include(key.fix ?? "", "try again later")
    assert.isBelow(Date.now() - started, 20_000)
    await assertNothingSent(sandbox)
  }, budget)

  it("answers that lie about their shape: exit 1 naming the field, the key never echoed", async (context) => {
    const server = await startRawServer((request: RawRequest) => {
      const path = request.url.pathname
      const body = path.endsWith("/uploadposts/me")
        ? { success: true, email: "x@example.com", plan: { name: "Free" } }
        : { success: true, conversations: "none", comments: 5, media: null }
      return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
    })
    context.onTestFinished(() => server.close())
    const env = { UPLOAD_POST_BASE_URL: server.baseUrl, UPLOAD_POST_API_KEY: "secret-key-123" }
    const result = await doctor(context, env, campaign(), ["--json"])
    assertExit(result, 1)
    const key = checkNamed(report(result).checks, "key")
    assert.include(key.detail, "does not fit the API")
    assert.include(key.detail, "plan")
    assert.notInclude(result.stdout + result.stderr, "secret-key-123")
    assert.isTrue(server.requests.every((request) => request.method === "GET"))

    // The key accepted, every later answer a lie: each check names its own failure; nothing is sent.
    const liar = await startRawServer((request: RawRequest) => ({
      status: 200,
      headers: { "content-type": "application/json" },
      body: request.url.pathname.endsWith("/uploadposts/me")
        ? JSON.stringify({ success: true, plan: "Business" })
        : "{\"success\": true, \"profile\": {\"social_accounts\": [1]}, \"comments\": {}}"
    }))
    context.onTestFinished(() => liar.close())
    const lied = await doctor(context, { ...env, UPLOAD_POST_BASE_URL: liar.baseUrl }, campaign(), ["--json"])
    assertExit(lied, 1)
    const checks = report(lied).checks
    for (const name of ["profile"]) assert.strictEqual(checkNamed(checks, name).status, "problem")
    assert.isTrue(liar.requests.every((request) => request.method === "GET"))
  }, budget)

  it(
    "a post id with control characters and a profile name with terminal escapes: refused or shown escaped",
    async (context) => {
      const sandbox = await sandboxFor(context)
      const badPost = await doctor(context, sandbox.env, campaign({ posts: ["1790\u0000\u001b[2J"] }))
      assertExit(badPost, 2)
      assert.include(badPost.stderr, "posts[0]")
      assert.deepStrictEqual((await control(sandbox.handle.stats)).requests, {}, "refused before any request")

      const badUser = await doctor(
        context,
        sandbox.env,
        campaign({ user: "studio\u001b[2J\nresult: a run can proceed" })
      )
      assertExit(badUser, 2)
      assert.notMatch(badUser.stdout, /\u001b/)
      assert.include(badUser.stdout, "studio\\u001b[2J\\u000aresult")
      assert.strictEqual(badUser.stdout.match(/^result: /gm)?.length, 1, "the name cannot forge a verdict line")
    },
    budget
  )
})

describe("run: the account's own comments never match", () => {
  const runIn = async (context: TestContext, sandbox: RunningSandbox, content: object) => {
    const dir = tempDir()
    context.onTestFinished(dir.cleanup)
    const file = writeCampaign(dir.path, "campaign.json", content)
    return runCli(["run", file, "--db", Path.join(dir.path, "ledger.sqlite"), "--json"], { env: sandbox.env })
  }
  const quick = { pace: { per_hour: 360000, concurrency: 2 } }
  const recipients = async (sandbox: RunningSandbox) =>
    (await control(sandbox.handle.deliveries)).map((delivery) => delivery.recipientId).sort()

  it(
    "from the profile's answer: the account's comments (listed and added later) are dropped, everyone else is sent",
    async (context) => {
      const sandbox = await sandboxFor(context)
      await control(
        sandbox.handle.addComment({ postId: secondPost, text: "GUIDE sent to all of you", byAccount: true })
      )
      const result = await runIn(context, sandbox, campaign({ delivery: "private_reply", ...quick }))
      const summary = jsonSummary(result) as ReturnType<typeof jsonSummary> & {
        readonly dropped: Record<string, number>
      }
      assert.notInclude(await recipients(sandbox), accountId)
      // old_fan's comment is 8 days old: the platform refuses the private reply; the others are sent.
      assert.deepStrictEqual(await recipients(sandbox), ["2001", "2002"], exitOf(result))
      assert.strictEqual(summary.dropped["the account's own comment"], 2)
      assert.strictEqual(summary.counts.matched, 3)
      assert.notInclude(result.stderr, "notice: the account's own comments cannot be recognised")
    },
    budget
  )

  it(
    "from the campaign file when the profile does not tell; without either, one notice and the run goes on",
    async (context) => {
      const silent = await sandboxFor(context, { account: { ...account, told: false } })
      const named = await runIn(
        context,
        silent,
        campaign({ account: { username: "@Studio.Gram" }, delivery: "private_reply", ...quick })
      )
      assert.notInclude(await recipients(silent), accountId)
      assert.strictEqual(
        (jsonSummary(named) as unknown as { readonly dropped: Record<string, number> })
          .dropped["the account's own comment"],
        1
      )

      const unknown = await sandboxFor(context, { account: { ...account, told: false } })
      const warned = await runIn(context, unknown, campaign({ delivery: "private_reply", ...quick }))
      const notices = warned.stderr.match(/notice: the account's own comments cannot be recognised/g) ?? []
      assert.strictEqual(notices.length, 1, exitOf(warned))
      assert.include(warned.stderr, "account: { user_id: ..., username: ... }")
      assert.include(await recipients(unknown), accountId, "nobody could tell: the run went on")
    },
    budget
  )
})
