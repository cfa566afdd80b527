/**
 * Issue 19, `forget` as a hostile or careless user drives it: a mistyped or garbled `--profile` (which would forget the
 * person where nobody sends from and keep their data), control characters, people the ledger never saw, no terminal to
 * confirm on, and a reader that goes away before the answer.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { repositoryRoot } from "./support/cli.js"
import { exitOf, profile, withStudio } from "./support/consent-data.js"
import { byUser, ledgerEntries } from "./support/e2e-ledger.js"

const anna = { id: "17841499999994001", username: "hostile_anna", text: "guide please" }

describe("forget, driven badly", () => {
  it(
    "a --profile the ledger does not know, or holding control characters, forgets nothing (exit 2); ids never seen " +
      "are forgotten; unknown usernames and a missing confirmation change nothing",
    withStudio([anna], async (studio) => {
      const file = studio.write()
      const held = await studio.cli(["run", file, "--db", studio.db, "--max-sends", "0"])
      assert.strictEqual(held.code, 5, exitOf(held))
      const kept = async () => byUser(await ledgerEntries(studio.db, "consent-data")).has(anna.id)

      for (const bad of ["consent.studoi", "consent.studio\u001b[2J", `${profile}\u0007`]) {
        const result = await studio.cli(["forget", anna.id, "--db", studio.db, "--profile", bad])
        assert.strictEqual(result.code, 2, `${JSON.stringify(bad)}: ${exitOf(result)}`)
        assert.include(result.stderr, "nothing was forgotten")
        assert.include(result.stderr, profile, "the profiles it knows are named")
        assert.notMatch(result.stderr, /[\u0007\u001b]/, "control characters shown escaped")
        assert.isTrue(await kept(), "Anna's row stays as it was")
      }

      const unknownName = await studio.cli(["forget", "@nobody_here", "--db", studio.db, "--yes"])
      assert.strictEqual(unknownName.code, 2, exitOf(unknownName))
      // No terminal (the test's stdin is not one), no --yes: the ids are shown, nothing is forgotten.
      const unconfirmed = await studio.cli(["forget", `@${anna.username.toUpperCase()}`, "--db", studio.db])
      assert.strictEqual(unconfirmed.code, 2, exitOf(unconfirmed))
      assert.include(unconfirmed.stderr, anna.id)
      assert.isTrue(await kept())

      const neverSeen = await studio.cli(["forget", "17841499999994999", "--db", studio.db, "--json"])
      assert.strictEqual(neverSeen.code, 0, exitOf(neverSeen))
      assert.deepInclude(JSON.parse(neverSeen.stdout.trim()), { rows: 0, forgotten: ["17841499999994999"] })

      const inProfile = await studio.cli(["forget", anna.id, "--db", studio.db, "--profile", ` ${profile} `])
      assert.strictEqual(inProfile.code, 0, exitOf(inProfile))
      assert.isFalse(await kept(), "forgotten in the profile that was named")
    }),
    120_000
  )

  it(
    "a reader that goes away before the answer: the person is forgotten all the same, and the command ends",
    withStudio([anna], async (studio) => {
      const file = studio.write()
      await studio.cli(["run", file, "--db", studio.db, "--max-sends", "0"])
      const child = spawn(
        process.execPath,
        [Path.join(repositoryRoot, "build", "bin", "comment-dm.mjs"), "forget", anna.id, "--db", studio.db, "--json"],
        { cwd: studio.dir, env: { ...process.env, HOME: studio.dir }, stdio: ["ignore", "pipe", "pipe"] }
      )
      // The reader goes away at once.
      child.stdout.destroy()
      const code = await new Promise<number | null>((resolve) => child.on("close", (exit) => resolve(exit)))
      assert.include([0, 1], code, "it ends, without hanging")
      assert.isFalse(byUser(await ledgerEntries(studio.db, "consent-data")).has(anna.id))
    }),
    60_000
  )
})
