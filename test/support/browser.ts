/**
 * A real browser for the tests of the web pages: Debian's chromium (scripts/ensure-chromium.sh installs it), driven
 * by playwright-core. COMMENT_DM_CHROMIUM names another executable.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { type Browser, chromium, type Page } from "playwright-core"
import { repositoryRoot } from "./cli.js"

export const chromiumPath = process.env["COMMENT_DM_CHROMIUM"] ?? "/usr/bin/chromium"

/** Why the browser tests cannot run here, or undefined when they can. */
export const missing: string | undefined = Fs.existsSync(chromiumPath)
  ? undefined
  : `no chromium at ${chromiumPath}; run scripts/ensure-chromium.sh (or set COMMENT_DM_CHROMIUM)`

export const launch = (): Promise<Browser> => chromium.launch({ executablePath: chromiumPath })

/** Where the tests leave screenshots for a person to look at. */
export const resultsDir = Path.join(repositoryRoot, ".test-results")

export interface OpenedFile {
  readonly page: Page
  /** Every request the page made, the file itself included. */
  readonly requests: ReadonlyArray<string>
  /** What the console said: errors, and the browser's own reports such as a Content-Security-Policy refusal. */
  readonly console: ReadonlyArray<string>
}

/**
 * Opens a local file as a person would, at a viewport width, recording every request the page makes; a request for
 * anything but the file itself is also aborted, so that a page that would load something cannot succeed quietly.
 */
export const openFile = async (browser: Browser, path: string, width: number): Promise<OpenedFile> => {
  const context = await browser.newContext({ viewport: { width, height: 800 } })
  const url = pathToFileURL(path).href
  const requests: Array<string> = []
  const console: Array<string> = []
  await context.route("**/*", (route) => route.request().url() === url ? route.continue() : route.abort())
  const page = await context.newPage()
  page.on("request", (request) => requests.push(request.url()))
  page.on("console", (message) => console.push(`${message.type()}: ${message.text()}`))
  page.on("pageerror", (error) => console.push(`pageerror: ${error.message}`))
  await page.goto(url, { waitUntil: "load" })
  return { page, requests, console }
}

/** Writes a full-page screenshot under .test-results/ and answers its path. */
export const screenshot = async (page: Page, name: string): Promise<string> => {
  Fs.mkdirSync(resultsDir, { recursive: true })
  const path = Path.join(resultsDir, name)
  await page.screenshot({ path, fullPage: true })
  return path
}

export interface OpenedUrl {
  readonly page: Page
  /** What the console said (errors, Content-Security-Policy refusals). */
  readonly console: ReadonlyArray<string>
  /** Every request the page made. */
  readonly requests: ReadonlyArray<string>
}

/**
 * Opens a served page (the dashboard) at a viewport width in a fresh context (no cookies), recording its requests and
 * console; a request to any other origin is aborted, so that a page that would load something cannot succeed quietly.
 */
export const openUrl = async (browser: Browser, url: string, width: number): Promise<OpenedUrl> => {
  const context = await browser.newContext({ viewport: { width, height: 800 } })
  const origin = new URL(url).origin
  const requests: Array<string> = []
  const console: Array<string> = []
  await context.route(
    "**/*",
    (route) => new URL(route.request().url()).origin === origin ? route.continue() : route.abort()
  )
  const page = await context.newPage()
  page.on("request", (request) => requests.push(request.url()))
  page.on("console", (message) => console.push(`${message.type()}: ${message.text()}`))
  page.on("pageerror", (error) => console.push(`pageerror: ${error.message}`))
  await page.goto(url, { waitUntil: "load" })
  return { page, requests, console }
}

/** Whether the page scrolls sideways (this project's TypeScript has no DOM types: the expression runs in the page). */
export const scrollsSideways = async (page: Page): Promise<boolean> => {
  const width = await page.evaluate<{ scroll: number; client: number }>(
    "({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })"
  )
  return width.scroll > width.client
}

export interface DrawnChart {
  /** The hours or days it has bars for. */
  readonly times: number
  /** The sum of its topmost stack over every time: every send it shows. */
  readonly total: number
  /** Whether its canvas has a pixel drawn that is not transparent. */
  readonly painted: boolean
  /** Its canvas's width in CSS pixels. */
  readonly width: number
}

/**
 * The uPlot chart of over-time data under `selector`, as the page drew it: the instance the page keeps on the chart's
 * box (`chart`), its data and its canvas. Fails when no chart was drawn.
 */
export const chartOf = async (page: Page, selector: string): Promise<DrawnChart> => {
  const drawn = await page.evaluate<DrawnChart | null>(`(() => {
    const box = document.querySelector(${JSON.stringify(`${selector} [data-chart=time]`)})
    const chart = box && box.chart
    const canvas = box && box.querySelector(".uplot canvas")
    if (!chart || !canvas) return null
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data
    let painted = false
    for (let i = 3; i < pixels.length && !painted; i += 4) painted = pixels[i] !== 0
    return {
      // The last time only closes the axis.
      times: chart.data[0].length - 1,
      total: chart.data[1].reduce((sum, n) => sum + n, 0),
      painted,
      width: canvas.getBoundingClientRect().width
    }
  })()`)
  if (drawn === null) throw new Error(`no uPlot chart drawn under ${selector}`)
  return drawn
}
