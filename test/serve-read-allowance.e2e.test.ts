/**
 * `comment-dm serve` with two campaigns that state their key's plan, on two profiles sharing one API key: the key's
 * read allowance (four fifths of what it sustains) is shared by the two watchers by their posts' demand, so the
 * campaign whose post gets comments reads far more than the one whose posts are silent, and the key stays within its
 * plan. The sandbox's per-profile and per-key counts are the ground truth.
 */
import type { DataSet } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { tempDir, writeCampaign } from "./support/cli.js"
import { control, startSandbox } from "./support/sandbox.js"
import { sleep, startServe } from "./support/serve-child.js"

const key = "shared-key-5d1"
const plan = { perMinute: 60, perTenMinutes: 600 } as const
const busy = { campaign: "busy-guide", profile: "agency.busy", posts: ["17900000000000701", "17900000000000702"] }
const quiet = { campaign: "quiet-guide", profile: "agency.quiet", posts: ["17900000000000711", "17900000000000712"] }
const hotPost = "17900000000000701"

const listed = (client: typeof busy): DataSet.Listed => ({
  _tag: "Listed",
  profile: client.profile,
  posts: client.posts.map((id) => ({ id, comments: [] }))
})

const campaignYaml = (client: typeof busy) =>
  [
    `name: ${client.campaign}`,
    "platform: instagram",
    `user: ${client.profile}`,
    "posts:",
    ...client.posts.map((post) => `  - "${post}"`),
    "match:",
    "  keywords: [guide]",
    `message: "${client.campaign}: hi @{{username}}, here is your guide"`,
    "delivery: dm",
    "api_plan:",
    `  per_minute: ${plan.perMinute}`,
    `  per_10_minutes: ${plan.perTenMinutes}`,
    ""
  ].join("\n")

describe("serve: one read allowance per key", () => {
  it("two campaigns on one key share its reads by demand, within its plan", async (context) => {
    const sandbox = await startSandbox({
      seed: 5,
      windows: "open",
      profiles: [{ name: busy.profile, data: listed(busy) }, { name: quiet.profile, data: listed(quiet) }],
      keys: [{ key, profiles: [busy.profile, quiet.profile] }],
      faults: { plan },
      // The busy post has had a comment every two minutes for an hour, and goes on; none of them asks.
      arrivals: { perPost: { [hotPost]: 0.5 }, posts: [hotPost], matchRatio: 0, historyMinutes: 60 }
    })
    const dir = tempDir("comment-dm-serve-allowance-")
    context.onTestFinished(async () => {
      await sandbox.close()
      dir.cleanup()
    })
    const folder = Path.join(dir.path, "campaigns")
    Fs.mkdirSync(folder)
    for (const client of [busy, quiet]) writeCampaign(folder, `${client.campaign}.yaml`, campaignYaml(client))
    const server = startServe(
      [
        folder,
        "--db",
        Path.join(dir.path, "ledger.sqlite"),
        "--http",
        "127.0.0.1:0",
        "--every",
        "1s",
        "--log-format",
        "json"
      ],
      { UPLOAD_POST_BASE_URL: sandbox.baseUrl, UPLOAD_POST_API_KEY: key }
    )
    context.onTestFinished(async () => {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill("SIGKILL")
        await server.exited
      }
    })
    await sleep(40_000)
    server.child.kill("SIGINT")
    const result = await server.exited
    const stats = await control(sandbox.handle.stats)
    const shown = `${JSON.stringify(stats)}\n${server.output()}`
    const traffic = stats.keys[key]
    assert.isDefined(traffic, shown)
    assert.strictEqual(traffic?.rateLimited, 0, `no 429\n${shown}`)
    assert.isAtMost(traffic?.maxPerMinute ?? Infinity, plan.perMinute, shown)
    const busyRequests = stats.profiles[busy.profile]?.requests ?? 0
    const quietRequests = stats.profiles[quiet.profile]?.requests ?? 0
    // Each campaign on its own allowance would spend four fifths of the key each, the quiet one on its silent posts.
    assert.isAtLeast(busyRequests, 2 * quietRequests, shown)
    assert.isAtLeast(busyRequests, 20, shown)
    assert.strictEqual(result.code, 130, shown)
  }, 90_000)
})
