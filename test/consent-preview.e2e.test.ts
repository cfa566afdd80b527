/**
 * Issue 19: the rehearsals honour the suppression list and the tombstones. `run --dry-run` and `doctor` send nothing
 * and write nothing, but a person on the profile's list (by id or by username in any case), or one `forget` left a
 * tombstone for, must not be told as someone a run would message: a real run suppresses (or drops) them.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import { jsonSummary } from "./support/cli.js"
import { commentsNow, exitOf, profile, recipients, withStudio } from "./support/consent-data.js"

const anna = { id: "17841499999991001", username: "zq_preview_anna", text: "guide please" }
const li = { id: "17841499999991002", username: "li_preview", text: "GUIDE for li" }
const bo = { id: "17841499999991003", username: "bo_preview", text: "the guide, please" }
const cy = { id: "17841499999991004", username: "cy_preview", text: "guide?" }

describe("rehearsals and the suppression list", () => {
  it(
    "run --dry-run counts a listed person (pending before, or met now) as suppressed, never as would send; a " +
      "forgotten one is dropped; the ledger is left as it was",
    withStudio([anna, li, bo], async (studio) => {
      const file = studio.write({ delivery: "auto" })
      const held = await studio.cli(["run", file, "--db", studio.db, "--max-sends", "0", "--json"])
      assert.strictEqual(held.code, 5, exitOf(held))
      const list = (...args: ReadonlyArray<string>) =>
        studio.cli(["suppress", "add", ...args, "--profile", profile, "--db", studio.db])
      // Anna by her username as someone typed it, Cy by id before he ever commented.
      for (const added of [await list("@ZQ_Preview_Anna"), await list(cy.id)]) {
        assert.strictEqual(added.code, 0, exitOf(added))
      }
      const forgot = await studio.cli(["forget", bo.id, "--db", studio.db])
      assert.strictEqual(forgot.code, 0, exitOf(forgot))
      await commentsNow(studio, "c-901-cy", cy, cy.text)
      const before = Fs.readFileSync(studio.db)

      const dry = await studio.cli(["run", file, "--db", studio.db, "--dry-run", "--json"])
      assert.strictEqual(dry.code, 0, exitOf(dry))
      const counts = jsonSummary(dry).counts
      assert.strictEqual(counts.would_send, 1, `only Li would be sent: ${dry.stdout}`)
      assert.strictEqual(counts.suppressed, 2, `Anna and Cy: ${dry.stdout}`)
      const dropped = JSON.parse(dry.stdout.trim().split("\n").at(-1)!).dropped
      assert.strictEqual(dropped["a forgotten person (comment-dm forget)"], 1, "Bo, as a real run drops him")
      const told = (who: string) => dry.stderr.split("\n").filter((line) => line.includes(who)).join("\n")
      for (const who of [anna.username, cy.username]) {
        assert.include(told(who), "suppressed", dry.stderr)
        assert.notMatch(told(who), /would send/i, dry.stderr)
      }
      assert.match(told(li.username), /would send/i, dry.stderr)
      assert.deepStrictEqual(Fs.readFileSync(studio.db), before, "a dry run writes nothing")
      assert.deepStrictEqual(await recipients(studio), [])

      // The real run does what the rehearsal said.
      const real = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.strictEqual(real.code, 0, exitOf(real))
      assert.deepStrictEqual(await recipients(studio), [li.id])
    }),
    120_000
  )

  it(
    "doctor --db counts listed and forgotten people as suppressed in its preview, and writes no ledger",
    withStudio([anna, li, bo], async (studio) => {
      const file = studio.write({ delivery: "auto" })
      const plain = await studio.cli(["doctor", file, "--db", studio.db, "--json"])
      assert.strictEqual(plain.code, 0, exitOf(plain))
      assert.isFalse(Fs.existsSync(studio.db), "doctor writes no ledger")
      const clean = JSON.parse(plain.stdout.trim()).preview
      assert.strictEqual(clean.suppressed, 0)
      assert.strictEqual(clean.dm + clean.private_reply, 3)

      const added = await studio.cli(["suppress", "add", "@zq_PREVIEW_anna", "--profile", profile, "--db", studio.db])
      assert.strictEqual(added.code, 0, exitOf(added))
      const forgot = await studio.cli(["forget", bo.id, "--db", studio.db])
      assert.strictEqual(forgot.code, 0, exitOf(forgot))

      const result = await studio.cli(["doctor", file, "--db", studio.db, "--json"])
      assert.strictEqual(result.code, 0, exitOf(result))
      const preview = JSON.parse(result.stdout.trim()).preview
      assert.strictEqual(preview.people, 3)
      assert.strictEqual(preview.suppressed, 2, JSON.stringify(preview))
      assert.strictEqual(preview.dm + preview.private_reply, 1, JSON.stringify(preview))
      const paths = Object.fromEntries(
        preview.sample.map((person: { user_id: string; path: string }) => [person.user_id, person.path])
      )
      assert.deepStrictEqual([paths[anna.id], paths[bo.id]], ["suppressed", "suppressed"])
      assert.notStrictEqual(paths[li.id], "suppressed")

      const text = await studio.cli(["doctor", file, "--db", studio.db])
      assert.strictEqual(text.code, 0, exitOf(text))
      assert.include(text.stdout, "2 suppressed")
      assert.deepStrictEqual(await recipients(studio), [])
    }),
    120_000
  )
})
