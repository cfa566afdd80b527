/**
 * `since`, `until` and `active`: the real command against the sandbox. `since` drops older comments before matching
 * (counted in the summary's dropped), `until` ends a campaign (nobody new; people still pending end expired; a
 * watcher stops by itself), `active: false` pauses it (nothing read or sent, and the command says so).
 */
import { assert, describe, it } from "@effect/vitest"
import { jsonSummary } from "./support/cli.js"
import { commentsNow, exitOf, recipients, type Studio, withStudio } from "./support/consent-data.js"
import { byUser, ledgerEntries } from "./support/e2e-ledger.js"
import { control } from "./support/sandbox.js"

const hour = 3_600_000
const day = 24 * hour

const anna = { id: "17841400000000911", username: "anna", text: "guide please", agoMillis: 5 * day }
const li = { id: "17841400000000912", username: "li", text: "GUIDE", agoMillis: hour }
const marco = { id: "17841400000000913", username: "marco", text: "the guide?", agoMillis: 2 * hour }

const requests = async (studio: Studio, endpoint: string) =>
  (await control(studio.sandbox.handle.stats)).requests[endpoint] ?? 0

describe("since", () => {
  it(
    "a date: older comments are dropped before matching, counted as such, and never recorded",
    withStudio([anna, li], async (studio) => {
      const since = new Date(Date.now() - 2 * day).toISOString()
      const file = studio.write({ since })
      const result = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.strictEqual(result.code, 0, exitOf(result))
      const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!)
      assert.strictEqual(summary.counts.sent, 1)
      assert.strictEqual(summary.counts.matched, 1)
      assert.strictEqual(summary.counts.dropped, 1)
      assert.deepStrictEqual(summary.dropped, { [`older than since (${since})`]: 1 })
      assert.deepStrictEqual(await recipients(studio), [li.id])
      assert.deepStrictEqual([...byUser(await ledgerEntries(studio.db, "consent-data")).keys()], [li.id])

      // Without `since` the older comment matches: the same campaign then reaches Anna too.
      const without = await studio.cli(["run", studio.write(), "--db", studio.db, "--json"])
      assert.strictEqual(without.code, 0, exitOf(without))
      assert.deepStrictEqual(await recipients(studio), [anna.id, li.id].sort())
    }),
    90_000
  )

  it(
    "set on a campaign with people pending from before: those whose comment is older are skipped, never sent",
    withStudio([anna, li], async (studio) => {
      const held = await studio.cli(["run", studio.write(), "--db", studio.db, "--max-sends", "0", "--json"])
      assert.strictEqual(held.code, 5, exitOf(held))
      assert.strictEqual(jsonSummary(held).counts.pending, 2)
      const since = new Date(Date.now() - 2 * day).toISOString()
      const result = await studio.cli(["run", studio.write({ since }), "--db", studio.db, "--json"])
      assert.strictEqual(result.code, 0, exitOf(result))
      assert.deepStrictEqual(await recipients(studio), [li.id])
      const rows = byUser(await ledgerEntries(studio.db, "consent-data"))
      assert.deepStrictEqual([rows.get(anna.id)?.state, rows.get(anna.id)?.reason], ["skipped", "comment_too_old"])
    }),
    90_000
  )

  it(
    "start: the comments before the campaign's first run are history; a comment after it is answered",
    withStudio([anna, li], async (studio) => {
      const file = studio.write({ since: "start" })
      const first = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.strictEqual(first.code, 0, exitOf(first))
      assert.strictEqual(jsonSummary(first).counts.sent, 0)
      assert.strictEqual(jsonSummary(first).counts.dropped, 2)
      assert.deepStrictEqual(await recipients(studio), [])

      // The platform's comment times have whole seconds: the new comment comes a whole second after the first run.
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      await commentsNow(studio, "c-901-new", marco, "guide!")
      // The first run's time is kept in the ledger: a later run does not move it.
      const second = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.strictEqual(second.code, 0, exitOf(second))
      assert.strictEqual(jsonSummary(second).counts.sent, 1, exitOf(second))
      assert.deepStrictEqual(await recipients(studio), [marco.id])
    }),
    90_000
  )

  it(
    "a bad value is a configuration error naming the key, before any request",
    withStudio([li], async (studio) => {
      for (
        const [extra, words] of [
          [{ since: "yesterday" }, "since: expected start (the campaign's first run) or a date"],
          [{ until: "2026-12-31T18:00" }, "until: \"2026-12-31T18:00\" has no time zone"],
          [{ since: "2026-02-30" }, "since: \"2026-02-30\" is not a date of the calendar"],
          [{ active: "no" }, "active: expected true or false"],
          [{ since: "2026-06-02", until: "2026-06-01" }, "until: ends at 2026-06-02T00:00:00.000Z, not after since"]
        ] as const
      ) {
        const result = await studio.cli(["run", studio.write(extra), "--db", studio.db])
        assert.strictEqual(result.code, 2, exitOf(result))
        assert.include(result.stderr, words)
      }
      assert.deepStrictEqual((await control(studio.sandbox.handle.stats)).requests, {})
    }),
    90_000
  )
})

describe("until", () => {
  it(
    "past its end a run reads nothing, sends nothing, and the people still pending end expired (exit 0)",
    withStudio([li, marco], async (studio) => {
      const first = await studio.cli(["run", studio.write(), "--db", studio.db, "--max-sends", "1", "--json"])
      assert.strictEqual(first.code, 5, exitOf(first))
      const reads = await requests(studio, "GET /uploadposts/comments")

      const until = new Date(Date.now() - 1000).toISOString()
      const ended = await studio.cli(["run", studio.write({ until }), "--db", studio.db, "--json"])
      assert.strictEqual(ended.code, 0, exitOf(ended))
      const summary = JSON.parse(ended.stdout.trim().split("\n").at(-1)!)
      assert.strictEqual(summary.counts.sent, 0)
      assert.strictEqual(summary.counts.expired, 1)
      assert.strictEqual(summary.counts.pending, 0)
      assert.include(summary.notices.join("\n"), `the campaign ended at ${until} (until): it reaches nobody new`)
      assert.strictEqual(await requests(studio, "GET /uploadposts/comments"), reads, "no comments were read")
      assert.strictEqual((await recipients(studio)).length, 1)
      const expired = [...(await ledgerEntries(studio.db, "consent-data"))].filter((entry) => entry.state === "expired")
      assert.deepStrictEqual(expired.map((entry) => entry.reason), [`the campaign ended at ${until} (until)`])
    }),
    90_000
  )

  it(
    "a watcher stops by itself at the campaign's end, with a message, and reaches nobody after it",
    withStudio([li], async (studio) => {
      const until = new Date(Date.now() + 6_000)
      const file = studio.write({ until: until.toISOString() })
      const result = await studio.cli(["watch", file, "--db", studio.db, "--every", "1s", "--json"], {
        timeoutMs: 60_000
      })
      assert.strictEqual(result.code, 0, exitOf(result))
      assert.isAtLeast(Date.now(), until.getTime())
      assert.include(result.stderr, "(until): it reaches nobody new; the watcher stops")
      assert.deepStrictEqual(await recipients(studio), [li.id])
    }),
    90_000
  )
})

describe("active: false", () => {
  it(
    "pauses: run and watch read and send nothing and say so; status still works",
    withStudio([li, marco], async (studio) => {
      const first = await studio.cli(["run", studio.write(), "--db", studio.db, "--max-sends", "1", "--json"])
      assert.strictEqual(first.code, 5, exitOf(first))
      const before = await control(studio.sandbox.handle.stats)
      const file = studio.write({ active: false })
      const run = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.include(run.stderr, "the campaign is paused (active: false): nothing is read or sent")
      assert.strictEqual(jsonSummary(run).counts.sent, 0)
      assert.strictEqual(jsonSummary(run).counts.pending, 1, "the pending person waits for the campaign to resume")
      assert.strictEqual(run.code, 5, exitOf(run))
      // Without --once the watcher stays up while paused (test/consent-paused.e2e.test.ts).
      const watch = await studio.cli(["watch", file, "--db", studio.db, "--once"])
      assert.strictEqual(watch.code, 5, exitOf(watch))
      assert.include(
        watch.stdout,
        "paused (active: false): nothing is read or sent; set active: true (or remove it) to resume; the watcher stops"
      )
      assert.deepStrictEqual((await control(studio.sandbox.handle.stats)).requests, before.requests, "no request")
      const status = await studio.cli(["status", file, "--db", studio.db, "--json"])
      assert.strictEqual(JSON.parse(status.stdout).counts.pending, 1, exitOf(status))

      const resumed = await studio.cli(["run", studio.write({ active: true }), "--db", studio.db, "--json"])
      assert.strictEqual(resumed.code, 0, exitOf(resumed))
      assert.strictEqual(jsonSummary(resumed).counts.sent, 1)
    }),
    90_000
  )
})
