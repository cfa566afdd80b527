/**
 * The request budget of an API key, from outside: `comment-dm watch` (the real command, as child processes) over many
 * posts against a sandbox whose key has a tight plan (a minute's and 10 minutes' fixed windows, answered 429 beyond
 * them). The sandbox's own per-key counts are the ground truth: no 429, and never more requests in one of its minutes
 * or 10 minutes than the plan allows, also with two watchers on one ledger and one key.
 */
import type { DataSet, Faults } from "@comment-dm/sandbox"
import { assert, describe, it, type TestContext } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import * as Path from "node:path"
import { type CliResult, startCli, stopAll, tempDir, writeCampaign } from "./support/cli.js"
import { control, type RunningSandbox, startSandbox } from "./support/sandbox.js"

const profile = "budget.studio"
const postCount = 25
/** Small, so that a few seconds show the budget: a poll of the posts alone would spend it twice over. */
const plan = { perMinute: 12, perTenMinutes: 30 } as const

const posts = Array.from({ length: postCount }, (_, index) => `17900000000009${String(index).padStart(3, "0")}`)

/** Every post with one commenter asking for the guide, so that sends draw on the budget too. */
const data = (): DataSet.Listed => ({
  _tag: "Listed",
  profile,
  posts: posts.map((id, index) => ({
    id,
    comments: [{
      id: `c-${id}`,
      text: "guide please",
      timestamp: new Date(Date.now() - 3_600_000).toISOString(),
      user: { id: `1784140000009${String(index).padStart(4, "0")}`, username: `person${index}` }
    }]
  }))
})

const campaign = (
  name: string,
  apiPlan: object = { per_minute: plan.perMinute, per_10_minutes: plan.perTenMinutes }
) => ({
  name,
  platform: "instagram",
  user: profile,
  posts,
  match: { keywords: ["guide"] },
  message: "Hi @{{username}}, here is your guide: https://example.com/guide",
  pace: { per_hour: 360_000, concurrency: 4 },
  api_plan: apiPlan
})

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

interface Watcher {
  readonly child: ChildProcess
  readonly exited: Promise<CliResult>
}

/** A sandbox with the tight plan (or other limits), a ledger, and watchers killed when the test ends. */
const studio = async (context: TestContext, faults: Faults.FaultsPatch = { plan }) => {
  const sandbox = await startSandbox({ seed: 1, windows: "open", data: data(), faults })
  const dir = tempDir("comment-dm-budget-")
  const children: Array<ChildProcess> = []
  context.onTestFinished(async () => {
    await stopAll(children)
    await sandbox.close()
    dir.cleanup()
  })
  const db = Path.join(dir.path, "ledger.sqlite")
  const watch = (name: string, apiPlan?: object): Watcher => {
    const file = writeCampaign(dir.path, `${name}.json`, campaign(name, apiPlan))
    const child = startCli(["watch", file, "--db", db, "--json", "--every", "1s"], { env: sandbox.env })
    children.push(child)
    let stdout = ""
    let stderr = ""
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const exited = new Promise<CliResult>((resolve) =>
      child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
    )
    return { child, exited }
  }
  return { sandbox, watch }
}

const keyTraffic = async (sandbox: RunningSandbox) => {
  const stats = await control(sandbox.handle.stats)
  const traffic = stats.keys[sandbox.apiKey]
  assert.isDefined(traffic)
  return { traffic: traffic!, responses: stats.responses }
}

/**
 * Lets the watchers run until the key has spent its minute (or 20 s pass), then 4 s more, in which a watcher without
 * a budget keeps asking (and is answered 429), then stops them with SIGINT.
 */
const runWatchers = async (sandbox: RunningSandbox, watchers: ReadonlyArray<Watcher>) => {
  const deadline = Date.now() + 20_000
  while ((await keyTraffic(sandbox)).traffic.requests < plan.perMinute && Date.now() < deadline) {
    await sleep(100)
  }
  await sleep(4_000)
  for (const watcher of watchers) watcher.child.kill("SIGINT")
  return Promise.all(watchers.map((watcher) => watcher.exited))
}

const assertWithinPlan = async (sandbox: RunningSandbox, results: ReadonlyArray<CliResult>) => {
  const { responses, traffic } = await keyTraffic(sandbox)
  const shown = `key traffic ${JSON.stringify(traffic)}, answers ${JSON.stringify(responses)}\n` +
    results.map((result) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`).join("\n")
  assert.strictEqual(traffic.rateLimited, 0, `no 429\n${shown}`)
  assert.isAtMost(traffic.maxPerMinute, plan.perMinute, shown)
  assert.isAtMost(traffic.maxPerTenMinutes, plan.perTenMinutes, shown)
  // The budget was spent, not just left alone: the watchers pressed against the plan (a slow machine may take
  // them into a second minute, whose requests the sliding window's maximum above still bounds).
  assert.isAtLeast(traffic.requests, plan.perMinute, shown)
  for (const result of results) assert.strictEqual(result.code, 130, shown)
}

describe.concurrent("the request budget of an API key against the sandbox's plan", () => {
  it("a watch over many posts spends the key's plan without a 429", async (context) => {
    const { sandbox, watch } = await studio(context)
    const results = await runWatchers(sandbox, [watch("budget-one")])
    await assertWithinPlan(sandbox, results)
  }, 90_000)

  it("two watchers on one ledger with the same key hold its plan together", async (context) => {
    const { sandbox, watch } = await studio(context)
    const results = await runWatchers(sandbox, [watch("budget-first"), watch("budget-second")])
    await assertWithinPlan(sandbox, results)
  }, 90_000)

  it("a per-profile limit stated in api_plan keeps the profile's requests within it", async (context) => {
    const perProfile = 5
    const { sandbox, watch } = await studio(context, { profileRequestLimit: perProfile })
    const watcher = watch("budget-profile", { per_profile_per_minute: perProfile })
    const profileTraffic = async () => (await control(sandbox.handle.stats)).profiles[profile]
    const deadline = Date.now() + 20_000
    while (((await profileTraffic())?.requests ?? 0) < perProfile && Date.now() < deadline) await sleep(100)
    await sleep(4_000)
    watcher.child.kill("SIGINT")
    const result = await watcher.exited
    const traffic = await profileTraffic()
    const shown = `profile traffic ${JSON.stringify(traffic)}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`
    assert.strictEqual(traffic?.rateLimited, 0, `no 429\n${shown}`)
    assert.strictEqual(traffic?.requests, perProfile, shown)
    assert.strictEqual(result.code, 130, shown)
  }, 90_000)
})
