/**
 * `comment-dm report` opened in a real browser (Debian's chromium through playwright-core): the ledger comes from real
 * runs of the command against the sandbox, and the page is checked as a person sees it: its numbers are `status
 * --json`'s, it loads nothing, it fits a phone's width, and a username that is markup shows as text. Screenshots go to
 * .test-results/ (and, with COMMENT_DM_UPDATE_SCREENSHOTS=1, the README's to docs/report.png).
 */
import type { DataSet } from "@comment-dm/sandbox"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Browser, Page } from "playwright-core"
import * as BrowserSupport from "./support/browser.js"
import { type CliResult, jsonSummary, repositoryRoot, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { control, type RunningSandbox, startSandbox } from "./support/sandbox.js"

const hour = 3_600_000
const day = 24 * hour
const postId = "17900000000000901"

/** Commenters by role; ids are the platform's. */
const person = {
  dm: "17841400000000901",
  privately: "17841400000000902",
  unreachable: "17841400000000903",
  tooOld: "17841400000000904",
  link: "17841400000000905",
  nonMatching: "17841400000000906",
  // Added after the first run, and left pending:
  script: "17841400000000907",
  late: "17841400000000908",
  fresh: "17841400000000909"
} as const

const scriptName = "<script>alert(1)</script>"
const scriptComment = "<img src=https://example.com/x.png onerror=alert(2)> guide"
const usernames = ["dm.person", "private.person", "unreachable.person", "old.person", "link.person", scriptName]

const dataSet = (now: number): DataSet.Listed => {
  const ago = (millis: number) => new Date(now - millis).toISOString()
  const comment = (n: number, userId: string, username: string, text: string, age: number): DataSet.Comment => ({
    id: `1785889326990${String(n).padStart(4, "0")}`,
    text,
    timestamp: ago(age),
    user: { id: userId, username }
  })
  return {
    _tag: "Listed",
    profile: "studio",
    // Only the DM person wrote to the account (an hour ago): everyone else is reached by a private reply.
    messages: [{ from: person.dm, text: "hi", timestamp: ago(hour) }],
    posts: [{
      id: postId,
      platform: "instagram",
      caption: "Comment GUIDE",
      timestamp: ago(12 * day),
      comments: [
        comment(1, person.dm, "dm.person", "GUIDE please", 2 * hour),
        comment(2, person.link, "link.person", "send the link", 3 * hour),
        comment(3, person.unreachable, "unreachable.person", "guide", day),
        comment(4, person.privately, "private.person", "guide 🙏", 2 * day),
        comment(5, person.nonMatching, "quiet.person", "nice reel", 3 * day),
        comment(6, person.tooOld, "old.person", "guide", 9 * day)
      ]
    }]
  }
}

const campaign = {
  name: "report-e2e",
  platform: "instagram",
  user: "studio",
  posts: [postId],
  match: { keywords: ["guide", "link"] },
  message: ["Hi @{{username}}, the guide: https://example.com/g", "Here you go @{{username}}: https://example.com/g"],
  pace: { per_hour: 36000, concurrency: 2 }
}

interface Status {
  readonly matched: number
  readonly counts: Readonly<Record<string, number>>
  readonly refused_reasons: ReadonlyArray<{ readonly reason: string; readonly count: number }>
  readonly skipped_reasons: ReadonlyArray<{ readonly reason: string; readonly count: number }>
  readonly sent_by_path: Readonly<Record<string, number>>
}

const assertExit = (result: CliResult, code: number) =>
  assert.strictEqual(result.code, code, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`)

/** A count as the page shows it ("1,234"), read back as a number. */
const shown = async (page: Page, selector: string): Promise<number> => {
  const text = (await page.locator(selector).first().innerText()).trim()
  const digits = /^[\d,]+/.exec(text)?.[0]
  assert.isDefined(digits, `${selector} shows a number, not ${JSON.stringify(text)}`)
  return Number(digits?.replaceAll(",", ""))
}

describe.skipIf(BrowserSupport.missing !== undefined)("comment-dm report in a real browser", () => {
  let sandbox: RunningSandbox
  let dir: ReturnType<typeof tempDir>
  let browser: Browser
  let status: Status
  let reportPath: string
  let anonymizedPath: string
  let anonymizedJson: string

  beforeAll(async () => {
    const now = Date.now()
    sandbox = await startSandbox({
      data: dataSet(now),
      faults: { unreachableRecipients: [person.unreachable] }
    })
    dir = tempDir("comment-dm-report-")
    browser = await BrowserSupport.launch()
    const db = Path.join(dir.path, "ledger.sqlite")
    const file = writeCampaign(dir.path, "campaign.json", campaign)
    const env = sandbox.env
    const cli = (args: ReadonlyArray<string>) => runCli(args, { env, timeoutMs: 90_000 })

    assertExit(await cli(["run", file, "--db", db, "--json"]), 0)
    // Three more commenters, recorded but not sent to: two close to their private reply's deadline.
    const ago = (millis: number) => new Date(now - millis).toISOString()
    for (
      const [n, userId, username, text, age] of [
        [7, person.script, scriptName, scriptComment, 6 * day],
        [8, person.late, "late.person", "guide", 5 * day + 12 * hour],
        [9, person.fresh, "fresh.person", "link please", hour]
      ] as const
    ) {
      await control(sandbox.handle.addComment({
        postId,
        id: `17858893269910${n}`,
        text,
        timestamp: ago(age),
        user: { id: userId, username }
      }))
    }
    assertExit(await cli(["run", file, "--db", db, "--max-sends", "0", "--json"]), 5)

    const statusRun = await cli(["status", file, "--db", db, "--json"])
    assertExit(statusRun, 0)
    status = JSON.parse(statusRun.stdout.trim().split("\n").at(-1) ?? "{}")

    reportPath = Path.join(dir.path, "report.html")
    const report = await cli(["report", file, "--db", db, "--out", reportPath])
    assertExit(report, 0)
    assert.include(report.stdout, `report written to ${reportPath}`)
    anonymizedPath = Path.join(dir.path, "anonymized.html")
    const anonymized = await cli(["report", file, "--db", db, "--out", anonymizedPath, "--anonymize", "--json"])
    assertExit(anonymized, 0)
    anonymizedJson = anonymized.stdout.trim().split("\n").at(-1) ?? ""
  }, 240_000)

  afterAll(async () => {
    await browser?.close()
    await sandbox?.close()
    dir?.cleanup()
  })

  it("the ledger has every kind of person the report shows", () => {
    assert.deepInclude(status.counts, { sent: 3, refused: 1, skipped: 1, pending: 3, in_doubt: 0 })
    assert.deepStrictEqual(status.sent_by_path, { dm: 1, private_reply: 2 })
  })

  it("shows the numbers of status --json, at a phone's width without scrolling sideways, loading nothing", async () => {
    const { console, page, requests } = await BrowserSupport.openFile(browser, reportPath, 375)
    await BrowserSupport.screenshot(page, "report-phone.png")

    // Expressions run in the page (this project's TypeScript has no DOM types).
    const width = await page.evaluate<{ scroll: number; client: number }>(
      "({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })"
    )
    assert.isAtMost(width.scroll, width.client, "no horizontal scrolling at 375 px")

    assert.strictEqual(await shown(page, ".tile[data-key=matched] .value"), status.matched)
    assert.strictEqual(await shown(page, ".tile[data-key=reached] .value"), status.counts["sent"])
    assert.strictEqual(await shown(page, ".tile[data-key=pending] .value"), status.counts["pending"])
    assert.strictEqual(await shown(page, ".tile[data-key=in_doubt] .value"), status.counts["in_doubt"])
    // Six comments read by the first run, three more by the second (which read the six again: counted once).
    assert.strictEqual(await shown(page, "#funnel [data-key=comments_read] .value"), 9)
    assert.strictEqual(await shown(page, "#funnel [data-key=matched] .value"), status.matched)
    assert.strictEqual(await shown(page, "#funnel [data-key=reached] .value"), status.counts["sent"])
    for (const [path, count] of Object.entries(status.sent_by_path)) {
      assert.strictEqual(await shown(page, `#funnel [data-key=${path}] .value`), count, `sent by ${path}`)
    }

    // Every state of the first message: a row with status's count, and no row for a state nobody is in.
    const firstMessage = page.locator("#step-first_message")
    for (const [state, count] of Object.entries(status.counts)) {
      const row = firstMessage.locator(`tr[data-state=${state}]:not(.reason) td.n`)
      if (count === 0) assert.strictEqual(await row.count(), 0, `no row for ${state}`)
      else assert.strictEqual(await shown(page, `#step-first_message tr[data-state=${state}]:not(.reason) td.n`), count)
    }
    const reasons = async (state: string) =>
      (await firstMessage.locator(`tr.reason[data-state=${state}]`).allInnerTexts()).map((text) => text.trim())
    assert.deepStrictEqual(
      await reasons("refused"),
      status.refused_reasons.map((r) => `${r.reason}\t${r.count}`)
    )
    assert.strictEqual(status.skipped_reasons.length, 1)
    assert.match((await reasons("skipped"))[0] ?? "", /\(comment_too_old\)\t1$/)

    // Sends over time: the hours' table (folded until asked for) adds up to the people sent.
    await page.locator("#sends summary").click()
    const cells = await page.locator("#sends tbody td.n").allInnerTexts()
    assert.strictEqual(cells.reduce((sum, text) => sum + Number(text.replaceAll(",", "")), 0), status.counts["sent"])
    // And uPlot drew them: its chart holds the hours, its topmost stack the sends of each, which add up to the same.
    const chart = await BrowserSupport.chartOf(page, "#sends")
    assert.isAbove(chart.times, 0)
    assert.strictEqual(chart.total, status.counts["sent"])
    assert.isTrue(chart.painted, "the chart's canvas has something drawn on it")
    assert.isAtMost(chart.width, 375, "the chart fits the phone's width")

    assert.strictEqual(await shown(page, "#at-risk [data-key=at_risk]"), 2)
    assert.strictEqual(await page.locator("#at-risk tr.person").count(), 2)
    assert.strictEqual(await shown(page, "#keywords [data-keyword=guide] .value"), 6)
    assert.strictEqual(await shown(page, "#keywords [data-keyword=link] .value"), 2)

    assert.deepStrictEqual(requests, [page.url()], "the only request is the file itself")
    assert.deepStrictEqual(console, [], "no error, and no load the Content-Security-Policy refused")
  })

  it("shows a username and a comment that are markup as text, and runs only its own scripts", async () => {
    const { page, requests } = await BrowserSupport.openFile(browser, reportPath, 1000)
    await BrowserSupport.screenshot(page, "report-desktop.png")
    if (process.env["COMMENT_DM_UPDATE_SCREENSHOTS"] === "1") {
      Fs.copyFileSync(
        Path.join(BrowserSupport.resultsDir, "report-desktop.png"),
        Path.join(repositoryRoot, "docs", "report.png")
      )
    }
    const atRisk = await page.locator("#at-risk").innerText()
    assert.include(atRisk, `@${scriptName}`)
    assert.include(atRisk, scriptComment)
    assert.include(atRisk, person.script)
    assert.deepStrictEqual(
      await page.evaluate<[ReadonlyArray<string>, number]>(
        "[[...document.scripts].map((s) => s.type), document.images.length]"
      ),
      [["", "", "application/json"], 0],
      "no script or image element came from the data: the page's own two scripts and the chart's data"
    )
    const policy = await page.locator("meta[http-equiv=Content-Security-Policy]").getAttribute("content")
    assert.match(
      policy ?? "",
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; script-src 'sha256-[A-Za-z0-9+/=]+' 'sha256-[A-Za-z0-9+/=]+'; base-uri 'none'; form-action 'none'$/,
      "the page's own scripts by their hashes, and nothing to fetch"
    )
    assert.deepStrictEqual(requests, [page.url()])
    // The settings are the campaign file's, and never the key.
    const settings = await page.locator("#settings").innerText()
    assert.include(settings, "https://example.com/g")
    assert.include(settings, "keywords")
    assert.notInclude(Fs.readFileSync(reportPath, "utf8"), sandbox.apiKey)
  })

  it("--anonymize leaves out every username, user id and comment text, in the page and in --json", async () => {
    const page = Fs.readFileSync(anonymizedPath, "utf8")
    const model = JSON.parse(anonymizedJson)
    assert.strictEqual(model.funnel.matched, status.matched)
    assert.strictEqual(model.private_replies_at_risk.at_risk, 2)
    for (const text of [...usernames, ...Object.values(person), scriptComment, "GUIDE please", "send the link"]) {
      assert.notInclude(page, text, `the page shows ${text}`)
      assert.notInclude(anonymizedJson, text, `--json shows ${text}`)
    }
    const { page: opened } = await BrowserSupport.openFile(browser, anonymizedPath, 375)
    assert.deepStrictEqual(await opened.locator("#at-risk tr.person td:first-child").allInnerTexts(), [
      "person 1",
      "person 2"
    ])
  })
})

/** `comment-dm report` on a campaign in a fresh directory whose ledger was never written, with `--out` and `extra`. */
const reportOnNothing = async (
  check: (report: (out: string, ...extra: ReadonlyArray<string>) => Promise<CliResult>, dir: string) => Promise<void>
) => {
  const dir = tempDir("comment-dm-report-")
  try {
    const file = writeCampaign(dir.path, "campaign.json", campaign)
    const db = Path.join(dir.path, "ledger.sqlite")
    await check((out, ...extra) => runCli(["report", file, "--db", db, "--out", out, ...extra]), dir.path)
  } finally {
    dir.cleanup()
  }
}

describe("comment-dm report, outside the browser", () => {
  it("an --out that cannot be written (no such directory, a directory, blank) is a usage error, and leaves nothing behind", () =>
    reportOnNothing(async (report, dir) => {
      const out = Path.join(dir, "no-such-dir", "report.html")
      const missing = await report(out)
      assertExit(missing, 2)
      assert.include(missing.stderr, `cannot write the report to ${out}`)
      const intoDirectory = await report(dir)
      assertExit(intoDirectory, 2)
      assert.include(intoDirectory.stderr, "it is a directory")
      const blank = await report(" ")
      assertExit(blank, 2)
      assert.include(blank.stderr, "--out expects the path of the HTML file to write")
      assert.deepStrictEqual(Fs.readdirSync(dir), ["campaign.json"])
    }))

  it("a campaign with nobody recorded yet gives a report that says so", () =>
    reportOnNothing(async (report, dir) => {
      const out = Path.join(dir, "report.html")
      const result = await report(out, "--json")
      assertExit(result, 0)
      assert.strictEqual(jsonSummary(result).campaign, "report-e2e")
      assert.include(Fs.readFileSync(out, "utf8"), "Nobody recorded yet")
    }))
})
