/**
 * `comment-dm serve` says in its log where a campaign's `api_plan` is not what the key's plan is: when it disagrees
 * with the limit the API's `X-RateLimit-Limit` headers tell (the budget holds the stated plan, so a limit stated above
 * the API's ends in 429s), and when campaigns on one key state different plans (the budget holds the tightest). The
 * sandbox's keys have plans of their own; one campaign per situation, in one folder, on one serve process.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { tempDir, writeCampaign } from "./support/cli.js"
import { control, startSandbox } from "./support/sandbox.js"
import { type ServeLogLine, sleep, startServe } from "./support/serve-child.js"

const profile = "plan.studio"
const plan = { perMinute: 100, perTenMinutes: 500 }
const keys = { told: "key-told-41a", agrees: "key-agrees-7d2", shared: "key-shared-c90" } as const
const posts = Array.from({ length: 4 }, (_, i) => `1790000000002${String(i + 1).padStart(4, "0")}`)

const campaign = (
  name: string,
  post: string,
  keyEnv: string,
  apiPlan: { readonly per_minute: number; readonly per_10_minutes: number }
) => ({
  name,
  platform: "instagram",
  user: profile,
  posts: [post],
  match: { keywords: ["guide"] },
  message: "Hi @{{username}}, here is your guide",
  api_key_env: keyEnv,
  api_plan: apiPlan
})

const warnings = (lines: ReadonlyArray<ServeLogLine>, event: string | undefined, campaign?: string) =>
  lines.filter((line) =>
    line.level === "warn" && (event === undefined || line.event === event) &&
    (campaign === undefined || line.campaign === campaign)
  )

describe("serve's warnings about api_plan", () => {
  it(
    "one log line names a campaign whose api_plan is not what the API's X-RateLimit-Limit tells, with both limits; " +
      "one names the campaigns of one key that state different plans; a plan that agrees gets none",
    async (context) => {
      const sandbox = await startSandbox({
        seed: 7,
        windows: "open",
        data: { _tag: "Listed", profile, posts: posts.map((id) => ({ id, comments: [] })) },
        keys: [{ key: keys.told, plan }, { key: keys.agrees, plan }, { key: keys.shared, plan }]
      })
      context.onTestFinished(() => sandbox.close())
      const dir = tempDir("comment-dm-serve-api-plan-")
      context.onTestFinished(() => dir.cleanup())
      const folder = Path.join(dir.path, "campaigns")
      Fs.mkdirSync(folder)
      const files = [
        campaign("overstated", posts[0]!, "TOLD_KEY", { per_minute: 300, per_10_minutes: 1_500 }),
        campaign("stated-right", posts[1]!, "AGREES_KEY", { per_minute: 100, per_10_minutes: 500 }),
        campaign("shared-one", posts[2]!, "SHARED_KEY", { per_minute: 100, per_10_minutes: 500 }),
        campaign("shared-two", posts[3]!, "SHARED_KEY", { per_minute: 90, per_10_minutes: 450 })
      ]
      for (const file of files) writeCampaign(folder, `${file.name}.json`, file)
      const serve = startServe(
        [folder, "--db", Path.join(dir.path, "ledger.sqlite"), "--every", "1s", "--log-format", "json"],
        {
          UPLOAD_POST_BASE_URL: sandbox.baseUrl,
          TOLD_KEY: keys.told,
          AGREES_KEY: keys.agrees,
          SHARED_KEY: keys.shared
        }
      )
      context.onTestFinished(async () => {
        serve.child.kill("SIGKILL")
        await serve.exited
      })

      await serve.until(
        "the warning about overstated's api_plan",
        () => warnings(serve.lines(), "ApiPlanDisagrees", "overstated").length > 0,
        30_000
      )
      const told = warnings(serve.lines(), "ApiPlanDisagrees", "overstated")
      assert.strictEqual(told.length, 1, "said once")
      assert.include(told[0]!.message, "per_minute 300")
      assert.include(told[0]!.message, "X-RateLimit-Limit tells 100 a minute")

      await serve.until(
        "the warning about the plans of one key",
        () => warnings(serve.lines(), undefined).some((line) => line.message.includes("different api_plan")),
        30_000
      )
      const shared = warnings(serve.lines(), undefined).filter((line) => line.message.includes("different api_plan"))
      assert.include(shared[0]!.message, "shared-one")
      assert.include(shared[0]!.message, "shared-two")
      assert.include(shared[0]!.message, "per_minute 90")

      // stated-right's key has been answered (with its headers); a few checks later, still no warning.
      await serve.until("stated-right's reads", async () => {
        const traffic = (await control(sandbox.handle.stats)).keys[keys.agrees]
        return (traffic?.requests ?? 0) > 0
      })
      await sleep(5_000)
      const output = serve.output()
      assert.deepStrictEqual(warnings(serve.lines(), "ApiPlanDisagrees", "stated-right"), [], output)
      assert.deepStrictEqual(warnings(serve.lines(), "ApiPlanDisagrees", "shared-one"), [], output)
      assert.lengthOf(warnings(serve.lines(), "ApiPlanDisagrees", "overstated"), 1, output)
    },
    90_000
  )
})
