/**
 * The report's chart of sends over time (uPlot, inlined with its data as JSON) under hostile text: a campaign whose
 * name holds `</script>`, `<!--`, a script of its own, U+2028 and NUL. The name goes into the chart's data and the
 * page as text: the data element cannot be closed or commented out from inside, the chart is still drawn from it with
 * the sends of `status --json`, the page runs only its own two scripts and loads nothing.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Browser } from "playwright-core"
import * as BrowserSupport from "./support/browser.js"
import { type CliResult, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { onePost } from "./support/e2e-commenters.js"
import { type RunningSandbox, startSandbox } from "./support/sandbox.js"

const postId = "17900000000000971"
const people = 3
const hostileName = "</script><!--<script>window.pwned=1</script>\u2028<!-- x \u0000 --> end"

const dataSet = (now: number) =>
  onePost({
    postId,
    people,
    commentIdPrefix: "1785889327100",
    userIdPrefix: "1784140000000097",
    text: () => "guide </script><!-- \u2028",
    username: (n) => `</script><!--person.${n}\u2028`
  }, now)

const assertExit = (result: CliResult, code: number) =>
  assert.strictEqual(result.code, code, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`)

describe.skipIf(BrowserSupport.missing !== undefined)("the report's chart, under hostile text", () => {
  let sandbox: RunningSandbox
  let dir: ReturnType<typeof tempDir>
  let browser: Browser
  let reportPath: string
  let sent: number

  beforeAll(async () => {
    sandbox = await startSandbox({ data: dataSet(Date.now()) })
    dir = tempDir("comment-dm-report-charts-")
    browser = await BrowserSupport.launch()
    const db = Path.join(dir.path, "ledger.sqlite")
    const file = writeCampaign(dir.path, "campaign.json", {
      name: hostileName,
      platform: "instagram",
      user: "studio",
      posts: [postId],
      match: { keywords: ["guide"] },
      message: "Hi, the guide: https://example.com/g",
      pace: { per_hour: 36000, concurrency: 1 }
    })
    const cli = (args: ReadonlyArray<string>) => runCli(args, { env: sandbox.env, timeoutMs: 90_000 })
    assertExit(await cli(["run", file, "--db", db, "--json"]), 0)
    const status = await cli(["status", file, "--db", db, "--json"])
    assertExit(status, 0)
    sent = JSON.parse(status.stdout.trim().split("\n").at(-1) ?? "{}").counts.sent
    reportPath = Path.join(dir.path, "report.html")
    assertExit(await cli(["report", file, "--db", db, "--out", reportPath]), 0)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await sandbox?.close()
    dir?.cleanup()
  })

  it("inlines the chart's data so that nothing in it can end or hide the element", () => {
    assert.strictEqual(sent, people)
    const text = Fs.readFileSync(reportPath, "utf8")
    const data = /<script type="application\/json" class="chart-data">([^]*?)<\/script>/.exec(text)?.[1]
    assert.isDefined(data, "the chart's data is in the page")
    assert.notMatch(data ?? "", /[<>&\u2028\u2029\u0000]/, "no character of the data can close or comment the element")
    assert.strictEqual(JSON.parse(data ?? "{}").label, `Sends per hour (UTC), ${hostileName}`)
  })

  it("draws the chart from it, with the sends of status --json, running only its own scripts and loading nothing", async () => {
    const { console, page, requests } = await BrowserSupport.openFile(browser, reportPath, 375)
    const chart = await BrowserSupport.chartOf(page, "#sends")
    assert.strictEqual(chart.total, sent)
    assert.isTrue(chart.painted)
    assert.strictEqual(
      await page.evaluate<string>("JSON.parse(document.querySelector('script.chart-data').textContent).label"),
      `Sends per hour (UTC), ${hostileName}`,
      "the data the chart was drawn from holds the name as it is"
    )
    assert.deepStrictEqual(
      await page.evaluate<[unknown, ReadonlyArray<string>]>(
        "[window.pwned, [...document.scripts].map((s) => s.type)]"
      ),
      [undefined, ["", "", "application/json"]],
      "no script of the name's ran, and the page holds only its own"
    )
    assert.include(await page.locator("h1").innerText(), "</script><!--<script>window.pwned=1</script>")
    assert.isFalse(await BrowserSupport.scrollsSideways(page), "no horizontal scrolling at 375 px")
    await BrowserSupport.screenshot(page, "report-hostile-phone.png")
    assert.deepStrictEqual(requests, [page.url()], "the only request is the file itself")
    assert.deepStrictEqual(console, [], "no error, and nothing the Content-Security-Policy refused")
  })
})
