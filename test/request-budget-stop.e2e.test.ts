/**
 * A `watch` stopped (SIGINT) while its first request waits for the API key's request budget (another watcher on the
 * ledger has spent the key's minute) ends at once with 130: nothing of it is in flight, so nothing is settled by
 * waiting up to a minute for the window to free. (The request-budget e2e file's two watchers met this by chance when
 * the second one started late, and took a minute more.)
 */
import { assert, describe, it } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import * as Path from "node:path"
import { type CliResult, finished, startCli, stopAll, tempDir, writeCampaign } from "./support/cli.js"
import { control, startSandbox } from "./support/sandbox.js"

const profile = "budget.stop"
const plan = { perMinute: 12, perTenMinutes: 30 } as const
const posts = Array.from({ length: 20 }, (_, index) => `17900000000031${String(index).padStart(3, "0")}`)

const campaign = (name: string) => ({
  name,
  platform: "instagram",
  user: profile,
  posts,
  match: { keywords: ["guide"] },
  message: "Hi @{{username}}, here is your guide",
  api_plan: { per_minute: plan.perMinute, per_10_minutes: plan.perTenMinutes }
})

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

describe("a watcher stopped while it waits for the key's budget", () => {
  it("ends at once with 130, having made no request", async (context) => {
    const sandbox = await startSandbox({
      seed: 3,
      windows: "open",
      data: { _tag: "Listed", profile, posts: posts.map((id) => ({ id, comments: [] })) },
      faults: { plan }
    })
    const dir = tempDir("comment-dm-budget-stop-")
    const children: Array<ChildProcess> = []
    context.onTestFinished(async () => {
      await stopAll(children)
      await sandbox.close()
      dir.cleanup()
    })
    const db = Path.join(dir.path, "ledger.sqlite")
    const watch = (name: string) => {
      const file = writeCampaign(dir.path, `${name}.json`, campaign(name))
      const child = startCli(["watch", file, "--db", db, "--every", "1s"], { env: sandbox.env })
      children.push(child)
      return { child, exited: finished(child, 120_000) }
    }
    const requests = async () => (await control(sandbox.handle.stats)).keys[sandbox.apiKey]?.requests ?? 0

    // The first watcher spends the key's minute (20 posts, 12 requests a minute).
    const first = watch("budget-stop-first")
    const deadline = Date.now() + 30_000
    while ((await requests()) < plan.perMinute) {
      assert.isBelow(Date.now(), deadline, "the first watcher spends the key's minute")
      await sleep(100)
    }
    const spent = await requests()
    const second = watch("budget-stop-second")
    // Started, its first request (the account check) waiting for the minute to free.
    await sleep(3_000)
    assert.strictEqual(await requests(), spent, "nobody got a request through the spent minute")
    const stoppedAt = Date.now()
    second.child.kill("SIGINT")
    const result: CliResult = await second.exited
    const took = Date.now() - stoppedAt
    const shown = `exit ${result.code} after ${took} ms\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`
    assert.strictEqual(result.code, 130, shown)
    // Well under the ~55 s left of the minute the request waited for.
    assert.isBelow(took, 10_000, shown)
    assert.strictEqual(await requests(), spent, `no request of the stopped watcher went out\n${shown}`)
    first.child.kill("SIGINT")
    assert.strictEqual((await first.exited).code, 130)
  }, 120_000)
})
