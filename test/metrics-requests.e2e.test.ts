/**
 * `watch --http`'s /metrics: the requests the watcher made to the API by endpoint and the 429s it got, as Prometheus
 * counters, checked against what the sandbox counted of the same requests (read before and after the scrape, the
 * watcher polling meanwhile), on a sandbox whose request-rate limit answers 429s; and the poll lag.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Path from "node:path"
import { tempDir, writeCampaign } from "./support/cli.js"
import { onePost } from "./support/e2e-commenters.js"
import { control, startSandbox } from "./support/sandbox.js"
import { startServed } from "./support/served.js"

const postId = "17900000000000981"

/** The samples of a counter family, by their endpoint label. */
const samples = (metrics: string, name: string): Map<string, number> =>
  new Map(
    [...metrics.matchAll(new RegExp(`^${name}\\{endpoint="([^"]+)"\\} (\\d+)$`, "gm"))].map((
      match
    ) => [match[1] ?? "", Number(match[2])])
  )

const sum = (values: Iterable<number>) => [...values].reduce((total, n) => total + n, 0)

describe("watch --http /metrics: requests and 429s", () => {
  it("counts every request by endpoint and every 429, as the sandbox saw them", async () => {
    const sandbox = await startSandbox({
      data: onePost({
        postId,
        people: 8,
        commentIdPrefix: "1785889327200",
        userIdPrefix: "1784140000000098",
        text: () => "guide please",
        username: (n) => `person.${n}`
      }, Date.now()),
      windows: "open",
      faults: { requestLimit: { requests: 3, windowSeconds: 1 } }
    })
    const dir = tempDir("comment-dm-metrics-")
    const file = writeCampaign(dir.path, "campaign.json", {
      name: "metrics-e2e",
      platform: "instagram",
      user: "studio",
      posts: [postId],
      match: { keywords: ["guide"] },
      message: "Hi, the guide: https://example.com/g",
      pace: { per_hour: 36000, concurrency: 2 }
    })
    const watch = await startServed(
      ["watch", file, "--db", Path.join(dir.path, "ledger.sqlite"), "--every", "1s", "--http", "127.0.0.1:0"],
      /serving \/healthz and \/metrics on (http:\/\/\S+\/)/,
      { env: sandbox.env }
    )
    try {
      // Until the rate limit has answered a 429 and the watcher has polled since.
      let metrics = ""
      for (let tries = 0; tries < 100; tries++) {
        metrics = await (await fetch(`${watch.url}metrics`)).text()
        if (sum(samples(metrics, "comment_dm_rate_limited_total").values()) > 0) break
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      assert.match(metrics, /^# TYPE comment_dm_requests_total counter$/m)
      assert.match(metrics, /^# TYPE comment_dm_rate_limited_total counter$/m)
      assert.match(metrics, /^comment_dm_poll_lag_seconds\{campaign="metrics-e2e"\} \d+(\.\d+)?$/m)

      const before = await control(sandbox.handle.stats)
      const scraped = await (await fetch(`${watch.url}metrics`)).text()
      const after = await control(sandbox.handle.stats)
      const requests = samples(scraped, "comment_dm_requests_total")
      const limited = samples(scraped, "comment_dm_rate_limited_total")
      assert.isAbove(requests.get("GET /uploadposts/comments") ?? 0, 0, scraped)
      assert.isAbove(sum(limited.values()), 0, "the watcher counted 429s")
      // What the watcher counted lies between the sandbox's counts before and after the scrape, endpoint by endpoint.
      for (const [endpoint, count] of requests) {
        assert.isAtLeast(count, before.requests[endpoint] ?? 0, endpoint)
        assert.isAtMost(count, after.requests[endpoint] ?? 0, endpoint)
      }
      assert.deepStrictEqual([...requests.keys()].sort(), Object.keys(after.requests).sort(), "every endpoint")
      assert.isAtLeast(sum(limited.values()), before.responses["429"] ?? 0)
      assert.isAtMost(sum(limited.values()), after.responses["429"] ?? 0)
    } finally {
      await watch.stop()
      await sandbox.close()
      dir.cleanup()
    }
  }, 120_000)
})
