/**
 * Issue 19: `forget` while a live runner holds the person's claim. The runner claims people ahead of its pace slots;
 * a person forgotten while their claim waits for its slot is settled `unconfirmed` by `forget`, and the runner's
 * confirmation before the request finds the claim gone: it sends them nothing, and records nothing over the row.
 */
import { assert, describe, it } from "@effect/vitest"
import { finished, startCli } from "./support/cli.js"
import { exitOf, recipients, withStudio } from "./support/consent-data.js"
import { ledgerEntries } from "./support/e2e-ledger.js"

const people = [1, 2, 3, 4].map((n) => ({
  id: `1784149999999200${n}`,
  username: `race_person_${n}`,
  text: `guide please ${n}`,
  agoMillis: 3_600_000 + n * 60_000
}))

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

describe("forget racing a live runner", () => {
  it(
    "a person forgotten while a runner's claim on them waits for its slot is never sent; the row ends unconfirmed " +
      "without their texts, and the runner goes on with the others",
    withStudio(people, async (studio) => {
      // One send every 4 seconds, one in flight: the next person is claimed ahead and waits seconds for the slot,
      // long past the moment a claim stands for its own confirmation.
      const file = studio.write({ pace: { per_hour: 900, concurrency: 1 } })
      const runner = startCli(["run", file, "--db", studio.db, "--json"], { cwd: studio.dir, env: studio.sandbox.env })
      const ran = finished(runner, 90_000)

      // A person claimed and not yet delivered to: the one whose request has not left.
      let target: string | undefined
      for (let tries = 0; tries < 300 && target === undefined; tries++) {
        await sleep(50)
        const delivered = new Set(await recipients(studio))
        const rows = await ledgerEntries(studio.db, "consent-data").catch(() => [])
        target = rows.find((row) => row.state === "claimed" && !delivered.has(row.userId) && delivered.size > 0)
          ?.userId
      }
      assert.isDefined(target, "a person claimed ahead of their slot")
      const forgot = await studio.cli(["forget", target!, "--db", studio.db, "--json"])
      // The runner keeps the ledger open, so the files are rewritten only by a later forget (exit 1 says so).
      assert.include([0, 1], forgot.code, exitOf(forgot))
      assert.include(forgot.stdout, "\"settled\":1", exitOf(forgot))

      const run = await ran
      assert.include([0, 5], run.code, exitOf(run))
      const delivered = await recipients(studio)
      assert.notInclude(delivered, target, "the forgotten person is never sent")
      assert.strictEqual(delivered.length, people.length - 1, "the others are")

      const rows = await ledgerEntries(studio.db, "consent-data")
      assert.isFalse(rows.some((row) => row.userId === target))
      const forgotten = rows.filter((row) => row.userId.startsWith("forgotten:"))
      assert.deepStrictEqual(
        forgotten.map((row) => [row.state, row.message, row.username, row.commentText]),
        [["unconfirmed", undefined, undefined, undefined]],
        "settled by forget; the runner recorded nothing over it"
      )
      const again = await studio.cli(["forget", target!, "--db", studio.db])
      assert.strictEqual(again.code, 0, exitOf(again))
      const status = await studio.cli(["status", file, "--db", studio.db, "--json"])
      assert.strictEqual(JSON.parse(status.stdout).unaccounted, 0, exitOf(status))
    }),
    120_000
  )
})
