/**
 * `comment-dm dashboard` and `watch --http`, black-box: the ledger comes from real runs of the command against the
 * sandbox, the dashboard is opened in a real browser (Debian's chromium through playwright-core) and checked as a
 * person sees it: its numbers are `status --json`'s, a send made by a run while the page is open appears without a
 * reload, it fits a phone's width, and off loopback it asks for its token. `watch --http`'s /healthz and /metrics are
 * read over HTTP. Screenshots go to .test-results/.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Path from "node:path"
import type { Browser, Page } from "playwright-core"
import * as BrowserSupport from "./support/browser.js"
import { type CliResult, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { onePost } from "./support/e2e-commenters.js"
import { type RunningSandbox, startSandbox } from "./support/sandbox.js"
import { type Served, startServed } from "./support/served.js"

const postId = "17900000000000931"
const people = 6

const dataSet = (now: number) =>
  onePost({
    postId,
    people,
    commentIdPrefix: "1785889327000",
    userIdPrefix: "1784140000000093",
    // The last commenter's name is markup: the dashboard shows it as text.
    text: (n) => n === 0 ? "<b>guide</b>" : "guide please",
    username: (n) => n === 0 ? "<img src=x onerror=alert(1)>" : `person.${n}`
  }, now)

const campaign = {
  name: "dashboard-e2e",
  platform: "instagram",
  user: "studio",
  posts: [postId],
  match: { keywords: ["guide"] },
  message: "Hi @{{username}}, the guide: https://example.com/g",
  pace: { per_hour: 36000, concurrency: 1 }
}

interface Status {
  readonly matched: number
  readonly counts: Readonly<Record<string, number>>
}

const assertExit = (result: CliResult, code: number) =>
  assert.strictEqual(result.code, code, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`)

/** A count as the page shows it ("1,234"), read back as a number. */
const shown = async (page: Page, selector: string): Promise<number> => {
  const text = (await page.locator(selector).first().innerText()).trim()
  const digits = /[\d,]+/.exec(text)?.[0]
  assert.isDefined(digits, `${selector} shows a number, not ${JSON.stringify(text)}`)
  return Number(digits?.replaceAll(",", ""))
}

/** Polls `check` until it holds, failing after `timeoutMs`. */
const until = async (check: () => Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not so within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const dashboardAt = /^dashboard: (http:\/\/\S+\/)$/m
const token = "dashboard-e2e-token-0123456789"

describe.skipIf(BrowserSupport.missing !== undefined)("comment-dm dashboard in a real browser", () => {
  let sandbox: RunningSandbox
  let dir: ReturnType<typeof tempDir>
  let browser: Browser
  let db: string
  let file: string
  let dashboard: Served
  const cli = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) =>
    runCli(args, { env: { ...sandbox.env, ...env }, timeoutMs: 90_000 })
  const status = async (): Promise<Status> => {
    const result = await cli(["status", file, "--db", db, "--json"])
    return JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}")
  }
  const campaignUrl = () => `${dashboard.url}campaign?name=${encodeURIComponent(campaign.name)}`

  beforeAll(async () => {
    sandbox = await startSandbox({ data: dataSet(Date.now()) })
    dir = tempDir("comment-dm-dashboard-")
    browser = await BrowserSupport.launch()
    db = Path.join(dir.path, "ledger.sqlite")
    file = writeCampaign(dir.path, "campaign.json", campaign)
    // Two of six sent; the others pending until the test's second run.
    assertExit(await cli(["run", file, "--db", db, "--max-sends", "2", "--json"]), 5)
    dashboard = await startServed(["dashboard", "--db", db, "--http", "127.0.0.1:0"], dashboardAt)
  }, 120_000)

  afterAll(async () => {
    await dashboard?.stop()
    await browser?.close()
    await sandbox?.close()
    dir?.cleanup()
  })

  it("lists the campaign, and its page shows the numbers of status --json at 375 px, loading nothing else", async () => {
    const expected = await status()
    assert.deepInclude(expected.counts, { sent: 2, pending: people - 2, in_doubt: 0 })

    const index = await BrowserSupport.openUrl(browser, dashboard.url, 375)
    assert.strictEqual(
      await shown(index.page, `tr[data-campaign=${campaign.name}] [data-key=matched]`),
      expected.matched
    )
    assert.isFalse(await BrowserSupport.scrollsSideways(index.page), "the index scrolls sideways at 375 px")
    await BrowserSupport.screenshot(index.page, "dashboard-index-phone.png")

    await index.page.locator(`tr[data-campaign=${campaign.name}] a`).click()
    await index.page.waitForURL(/\/campaign\?name=/)
    const page = index.page
    assert.strictEqual(await shown(page, ".tile[data-key=matched] .value"), expected.matched)
    assert.strictEqual(await shown(page, ".tile[data-key=reached] .value"), expected.counts["sent"])
    assert.strictEqual(await shown(page, ".tile[data-key=pending] .value"), expected.counts["pending"])
    assert.strictEqual(await shown(page, ".tile[data-key=in_doubt] .value"), expected.counts["in_doubt"])
    for (const [state, count] of Object.entries(expected.counts)) {
      if (count === 0) continue
      assert.strictEqual(await shown(page, `#step-first_message tr[data-state=${state}]:not(.reason) td.n`), count)
    }
    assert.isFalse(await BrowserSupport.scrollsSideways(page), "the campaign page scrolls sideways at 375 px")
    await BrowserSupport.screenshot(page, "dashboard-phone.png")
    const origin = new URL(dashboard.url).origin
    assert.deepStrictEqual(index.requests.filter((url) => !url.startsWith(origin)), [], "nothing from elsewhere")
    assert.deepStrictEqual(index.console, [], "no error, and nothing the Content-Security-Policy refused")
    assert.deepStrictEqual(await page.evaluate<number>("document.images.length"), 0, "no image came from the data")
  })

  it("shows a new send without a reload while a run writes to the same ledger", async () => {
    const { console, page } = await BrowserSupport.openUrl(browser, campaignUrl(), 1000)
    assert.strictEqual(await shown(page, ".tile[data-key=reached] .value"), 2)
    assert.strictEqual((await BrowserSupport.chartOf(page, "#sends")).total, 2, "uPlot's chart shows the two sends")
    // A mark on the page's window: a reload would drop it.
    await page.evaluate("window.keptAcrossUpdates = true")
    assertExit(await cli(["run", file, "--db", db, "--json"]), 0)
    const expected = await status()
    assert.strictEqual(expected.counts["sent"], people)
    // Read from outside the page: its policy forbids the evaluated strings a wait in the page would need.
    await until(async () => (await shown(page, ".tile[data-key=reached] .value")) === people, 15_000)
    assert.strictEqual(await shown(page, ".tile[data-key=pending] .value"), expected.counts["pending"])
    assert.isTrue(await page.evaluate<boolean>("window.keptAcrossUpdates === true"), "the page was not reloaded")
    // The chart was drawn again from the swapped-in views' data.
    const chart = await BrowserSupport.chartOf(page, "#sends")
    assert.strictEqual(chart.total, expected.counts["sent"])
    assert.isTrue(chart.painted)
    await BrowserSupport.screenshot(page, "dashboard-desktop.png")
    assert.deepStrictEqual(console, [])
  })

  it("watch --http answers /healthz and /metrics, and its heartbeat shows as the campaign's health", async () => {
    const watch = await startServed(
      ["watch", file, "--db", db, "--every", "1s", "--http", "127.0.0.1:0"],
      /serving \/healthz and \/metrics on (http:\/\/\S+\/)/,
      { env: sandbox.env }
    )
    try {
      let health: { status: string; last_poll_at: string | null; ledger: string; key: string } | undefined
      for (let tries = 0; tries < 50 && health?.last_poll_at == null; tries++) {
        const response = await fetch(`${watch.url}healthz`)
        health = (await response.json()) as typeof health
        if (health?.last_poll_at == null) await new Promise((resolve) => setTimeout(resolve, 200))
        else assert.strictEqual(response.status, 200)
      }
      assert.deepInclude(health, { status: "ok", ledger: "ok", key: "ok" })
      const metrics = await (await fetch(`${watch.url}metrics`)).text()
      assert.include(
        metrics,
        `comment_dm_people{campaign="dashboard-e2e",step="first_message",state="sent"} ${people}\n`
      )
      assert.include(metrics, `comment_dm_in_doubt{campaign="dashboard-e2e"} 0\n`)
      assert.match(metrics, /^comment_dm_polls_total\{campaign="dashboard-e2e"\} [1-9]\d*$/m)
      assert.match(metrics, /^# TYPE comment_dm_poll_lag_seconds gauge$/m)
      assert.strictEqual((await fetch(`${watch.url}nothing`)).status, 404)

      const { page } = await BrowserSupport.openUrl(browser, campaignUrl(), 375)
      await page.locator("#health .beat[data-health=ok]").waitFor({ timeout: 15_000 })
      // The first heartbeat may come before the first poll; a later one, swapped in live, has it.
      await until(async () => (await page.locator("#health").innerText()).includes("last poll"), 15_000)
      await BrowserSupport.screenshot(page, "dashboard-health-phone.png")
    } finally {
      await watch.stop()
    }
  })

  it("shows a watcher paused at the daily DM limit as its profile's health, with until when", async () => {
    const limited = await startSandbox({ data: dataSet(Date.now()), faults: { dailyDmLimit: 1 } })
    const pausedDb = Path.join(dir.path, "paused.sqlite")
    const paused = await startServed(["dashboard", "--db", pausedDb, "--http", "127.0.0.1:0"], dashboardAt)
    const watch = await startServed(
      ["watch", file, "--db", pausedDb, "--every", "1s", "--http", "127.0.0.1:0"],
      /serving \/healthz and \/metrics on (http:\/\/\S+\/)/,
      { env: limited.env }
    )
    try {
      await until(async () => /daily DM limit reached/.test(watch.output()), 30_000)
      const { page } = await BrowserSupport.openUrl(browser, paused.url, 375)
      await until(async () => (await page.locator("#profiles .beat[data-health=paused]").count()) === 1, 15_000)
      assert.include(
        await page.locator("#profiles [data-key=paused]").innerText(),
        "paused at the daily DM limit until"
      )
      const metrics = await (await fetch(`${watch.url}metrics`)).text()
      assert.include(metrics, `comment_dm_paused{campaign="dashboard-e2e"} 1\n`)
      await BrowserSupport.screenshot(page, "dashboard-paused-phone.png")
    } finally {
      await watch.stop()
      await paused.stop()
      await limited.close()
    }
  })

  it("bound off loopback, refuses to start without a token, then asks for it once and keeps a cookie", async () => {
    const refused = await runCli(["dashboard", "--db", db, "--http", "0.0.0.0:0"], { timeoutMs: 30_000 })
    assertExit(refused, 2)
    assert.include(refused.stderr, "needs a token")

    const gated = await startServed(["dashboard", "--db", db, "--http", "0.0.0.0:0"], dashboardAt, {
      env: { COMMENT_DM_DASHBOARD_TOKEN: token }
    })
    try {
      const base = gated.url.replace("0.0.0.0", "127.0.0.1")
      const none = await fetch(base, { redirect: "manual" })
      assert.strictEqual(none.status, 401)
      assert.include(await none.text(), "Token needed")
      const wrongToken = "not-the-token-but-long-enough"
      const wrong = await fetch(`${base}?token=${wrongToken}`, { redirect: "manual" })
      assert.strictEqual(wrong.status, 403)
      assert.notInclude(await wrong.text(), wrongToken)
      assert.strictEqual((await fetch(base, { headers: { authorization: "Bearer x" } })).status, 403)

      const right = await fetch(`${base}campaign?name=${campaign.name}&token=${token}`, { redirect: "manual" })
      assert.strictEqual(right.status, 303)
      assert.strictEqual(right.headers.get("location"), `/campaign?name=${campaign.name}`)
      const cookie = right.headers.get("set-cookie") ?? ""
      assert.match(cookie, /^comment_dm_dashboard=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/)
      assert.notInclude(cookie, token, "the cookie holds a session value, not the token")
      const withCookie = await fetch(`${base}campaign?name=${campaign.name}`, {
        headers: { cookie: cookie.split(";")[0] ?? "" }
      })
      assert.strictEqual(withCookie.status, 200)
      assert.notInclude(await withCookie.text(), token)
      assert.strictEqual((await fetch(base, { headers: { authorization: `Bearer ${token}` } })).status, 200)
      assert.strictEqual((await fetch(base, { headers: { cookie: "comment_dm_dashboard=forged" } })).status, 401)

      // In the browser: the 401 page, then the token once, then the cookie alone.
      const denied = await BrowserSupport.openUrl(browser, base, 375)
      assert.include(await denied.page.locator("h1").innerText(), "Token needed")
      await BrowserSupport.screenshot(denied.page, "dashboard-token-needed.png")
      const { page } = await BrowserSupport.openUrl(browser, `${base}?token=${token}`, 375)
      assert.notInclude(page.url(), token, "the token is taken out of the address")
      assert.strictEqual(await shown(page, `tr[data-campaign=${campaign.name}] [data-key=matched]`), people)
      const cookies = await page.context().cookies()
      assert.deepInclude(cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite })), {
        name: "comment_dm_dashboard",
        httpOnly: true,
        sameSite: "Strict"
      })
      await page.goto(`${base}campaign?name=${campaign.name}`)
      assert.strictEqual(await shown(page, ".tile[data-key=matched] .value"), people)
      assert.notInclude(gated.output(), token, "the token is never logged")
    } finally {
      await gated.stop()
    }
  })
})
