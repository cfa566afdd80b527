/**
 * Issue 19: `active: false` pauses a campaign, and `watch` and `serve` keep it loaded (DESIGN.md, campaign file): a
 * watcher on a paused campaign stays up and makes no request, its `/healthz` says paused (not stuck), and it starts
 * once its file says active again; `serve` shows the campaign `paused` on its board (`/healthz`), makes no request for
 * it, and resumes it when its file changes.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { finished, startCli, writeCampaign } from "./support/cli.js"
import { campaign, exitOf, recipients, withStudio } from "./support/consent-data.js"
import { control } from "./support/sandbox.js"
import { sleep, startServe } from "./support/serve-child.js"

const anna = { id: "17841499999993001", username: "paused_anna", text: "guide please" }
const li = { id: "17841499999993002", username: "paused_li", text: "GUIDE for li" }

/** Waits for `done`, checking every 100 ms, failing after `timeoutMs`. */
const until = async (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

const healthzOf = async (url: string) => {
  const answer = await fetch(url)
  return { status: answer.status, body: await answer.json() as Record<string, unknown> }
}

describe("active: false keeps watch and serve up", () => {
  it(
    "watch on a paused campaign stays up without a request, /healthz says paused and ok; it starts when the file " +
      "says active again, and Ctrl-C still ends it with 130",
    withStudio([anna, li], async (studio) => {
      const file = studio.write({ active: false })
      const before = (await control(studio.sandbox.handle.stats)).requests
      const child = startCli(
        ["watch", file, "--db", studio.db, "--every", "1s", "--http", "127.0.0.1:0"],
        { cwd: studio.dir, env: studio.sandbox.env }
      )
      let stdout = ""
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
      const ended = finished(child, 90_000)
      await until("the paused notice", () => stdout.includes("the watcher stays up"))
      const address = /serving \/healthz and \/metrics on (http:\/\/\S+?)\//.exec(stdout)?.[1]
      assert.isDefined(address, stdout)

      // Several intervals later: still up, not a single request, healthy and paused.
      await sleep(3_500)
      assert.isNull(child.exitCode, "the watcher stays up")
      assert.deepStrictEqual((await control(studio.sandbox.handle.stats)).requests, before, "no request while paused")
      const paused = await healthzOf(`${address}/healthz`)
      assert.strictEqual(paused.status, 200, JSON.stringify(paused.body))
      assert.deepInclude(paused.body, { status: "ok", campaign_state: "paused" })
      assert.deepStrictEqual(await recipients(studio), [])

      studio.write({ active: true })
      await until("both sent", async () => (await recipients(studio)).length === 2)
      assert.include(stdout, "says the campaign is active again: the watcher starts")
      const active = await healthzOf(`${address}/healthz`)
      assert.deepInclude(active.body, { status: "ok", campaign_state: "active" })

      child.kill("SIGINT")
      const result = await ended
      assert.strictEqual(result.code, 130, exitOf(result))
      assert.deepStrictEqual(await recipients(studio), [anna.id, li.id].sort())
    }),
    120_000
  )

  it(
    "a stop while paused ends the watcher at once, with no request; --once on a paused campaign reports and exits",
    withStudio([anna], async (studio) => {
      const file = studio.write({ active: false })
      const child = startCli(["watch", file, "--db", studio.db, "--every", "1s"], {
        cwd: studio.dir,
        env: studio.sandbox.env
      })
      let stdout = ""
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
      const ended = finished(child, 60_000)
      await until("the paused notice", () => stdout.includes("the watcher stays up"))
      child.kill("SIGTERM")
      const result = await ended
      assert.strictEqual(result.code, 130, exitOf(result))
      const once = await studio.cli(["watch", file, "--db", studio.db, "--once"])
      assert.strictEqual(once.code, 0, exitOf(once))
      assert.include(once.stdout, "the campaign is paused (active: false)")
      assert.deepStrictEqual((await control(studio.sandbox.handle.stats)).requests, {}, "no request at all")
    }),
    90_000
  )

  it(
    "serve shows a paused campaign as paused on /healthz (healthy), makes no request for it, and resumes it when " +
      "its file changes",
    withStudio([anna, li], async (studio) => {
      const folder = Path.join(studio.dir, "campaigns")
      Fs.mkdirSync(folder)
      const write = (extra: Record<string, unknown>) => writeCampaign(folder, "paused.json", campaign(extra))
      write({ active: false })
      const server = startServe(
        [folder, "--db", studio.db, "--every", "1s", "--log-format", "json", "--http", "127.0.0.1:0"],
        studio.sandbox.env
      )
      try {
        await server.until("the campaign paused", () => server.lines().some((line) => line.event === "CampaignPaused"))
        await sleep(3_000)
        const paused = await server.healthz()
        assert.strictEqual(paused.status, 200, paused.text)
        assert.strictEqual(paused.body.status, "ok", paused.text)
        assert.deepStrictEqual(
          paused.body.campaigns.map((entry) => [entry.name, entry.state]),
          [["consent-data", "paused"]],
          paused.text
        )
        assert.deepStrictEqual(
          (await control(studio.sandbox.handle.stats)).requests,
          {},
          "no request for a paused campaign"
        )
        assert.strictEqual(
          server.lines().filter((line) => line.event === "CampaignPaused").length,
          1,
          "it waits, told once, instead of starting its watcher over and over"
        )
        const metrics = await (await fetch(`${server.address()}/metrics`)).text()
        assert.include(
          metrics,
          "comment_dm_campaign_state{campaign=\"consent-data\",profile=\"consent.studio\"," +
            "state=\"paused\"} 1"
        )

        write({ active: true })
        await server.until("both sent", async () => (await recipients(studio)).length === 2)
        const running = await server.healthz()
        assert.strictEqual(running.body.campaigns[0]?.state, "running", running.text)
      } finally {
        server.child.kill("SIGTERM")
        await server.exited
      }
    }),
    120_000
  )
})
