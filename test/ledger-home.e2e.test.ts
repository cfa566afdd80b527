/**
 * One ledger per user by default: without --db or COMMENT_DM_DB the command keeps its ledger in the user's data
 * directory (a temporary HOME here), so that a campaign started from another folder resumes it; a comment-dm.sqlite
 * already in the working directory is still used, with a notice.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { jsonSummary, tempDir } from "./support/cli.js"
import { exitOf, filesUnder, openStudio } from "./support/consent-data.js"
import { control } from "./support/sandbox.js"

const people = [
  { id: "17841400000000901", username: "anna", text: "guide please" },
  { id: "17841400000000902", username: "li", text: "GUIDE" }
]

describe("the default ledger", () => {
  it(
    "lives in $XDG_DATA_HOME/comment-dm, else ~/.local/share/comment-dm; a run from another folder resumes it",
    async () => {
      const studio = await openStudio(people)
      const home = tempDir("comment-dm-home-test-")
      const elsewhere = tempDir("comment-dm-elsewhere-")
      try {
        const file = studio.write()
        // HOME alone: the XDG default under it, the directory created.
        const env = { HOME: home.path, XDG_DATA_HOME: undefined }
        const first = await studio.cli(["run", file, "--json"], { env })
        assert.strictEqual(first.code, 0, exitOf(first))
        assert.strictEqual(jsonSummary(first).counts.sent, 2)
        assert.deepStrictEqual(filesUnder(home.path).filter((name) => name.endsWith(".sqlite")), [
          Path.join(".local", "share", "comment-dm", "ledger.sqlite")
        ])
        assert.deepStrictEqual(Fs.readdirSync(studio.dir), ["campaign.json"], "nothing in the working directory")
        assert.notInclude(first.stderr, "working directory")

        // Another folder, the same user: the same ledger, nobody sent twice.
        const again = await studio.cli(["run", file, "--json"], { env, cwd: elsewhere.path })
        assert.strictEqual(again.code, 0, exitOf(again))
        assert.strictEqual(jsonSummary(again).counts.sent, 0)
        assert.strictEqual(jsonSummary(again).counts.already_sent, 2)
        const status = await studio.cli(["status", file, "--json"], { env, cwd: elsewhere.path })
        assert.strictEqual(JSON.parse(status.stdout).counts.sent, 2, exitOf(status))
        assert.strictEqual((await control(studio.sandbox.handle.deliveries)).length, 2)

        // XDG_DATA_HOME wins over HOME.
        const xdg = Path.join(home.path, "xdg")
        const xdgStatus = await studio.cli(["run", file, "--json"], { env: { HOME: home.path, XDG_DATA_HOME: xdg } })
        assert.strictEqual(xdgStatus.code, 0, exitOf(xdgStatus))
        assert.isTrue(Fs.existsSync(Path.join(xdg, "comment-dm", "ledger.sqlite")))
        assert.strictEqual(jsonSummary(xdgStatus).counts.sent, 0, "the private replies were taken: refused, not resent")
      } finally {
        await studio.close()
        home.cleanup()
        elsewhere.cleanup()
      }
    },
    120_000
  )

  it("a read-only command creates no directory when there is no ledger yet", async () => {
    const studio = await openStudio(people)
    const home = tempDir("comment-dm-home-test-")
    try {
      const file = studio.write()
      const status = await studio.cli(["status", file, "--json"], {
        env: { HOME: home.path, XDG_DATA_HOME: undefined }
      })
      assert.strictEqual(status.code, 0, exitOf(status))
      assert.deepStrictEqual(Fs.readdirSync(home.path), [])
    } finally {
      await studio.close()
      home.cleanup()
    }
  }, 60_000)

  it("a comment-dm.sqlite in the working directory is still used, with a notice saying where to move it", async () => {
    const studio = await openStudio(people)
    const home = tempDir("comment-dm-home-test-")
    try {
      const file = studio.write()
      const env = { HOME: home.path, XDG_DATA_HOME: undefined }
      const legacy = Path.join(studio.dir, "comment-dm.sqlite")
      const first = await studio.cli(["run", file, "--db", "comment-dm.sqlite", "--json"], { env })
      assert.strictEqual(first.code, 0, exitOf(first))
      assert.isTrue(Fs.existsSync(legacy))

      const resumed = await studio.cli(["run", file, "--json"], { env })
      assert.strictEqual(resumed.code, 0, exitOf(resumed))
      assert.strictEqual(jsonSummary(resumed).counts.already_sent, 2, "the working directory's ledger was used")
      const userLedger = Path.join(home.path, ".local", "share", "comment-dm", "ledger.sqlite")
      const notice = resumed.stderr.replace(/\s+/g, " ")
      assert.include(notice, "using the ledger ./comment-dm.sqlite in the working directory")
      assert.include(notice, `mv comment-dm.sqlite ${JSON.stringify(userLedger)}`)
      assert.include(notice, "--db comment-dm.sqlite")
      assert.isFalse(Fs.existsSync(userLedger), "no second ledger was started")
      assert.strictEqual(resumed.stdout.trim().split("\n").length, 1, "stdout holds the summary alone")

      // --db and COMMENT_DM_DB win over it, without the notice.
      const named = await studio.cli(["status", file, "--json"], {
        env: { ...env, COMMENT_DM_DB: Path.join(studio.dir, "other.sqlite") }
      })
      assert.strictEqual(named.code, 0, exitOf(named))
      assert.notInclude(named.stderr, "working directory")
      assert.strictEqual(JSON.parse(named.stdout).matched, 0)
    } finally {
      await studio.close()
      home.cleanup()
    }
  }, 120_000)

  it("no home directory and no setting: exit 2, saying to name a ledger", async () => {
    const studio = await openStudio(people)
    try {
      const file = studio.write()
      const result = await studio.cli(["run", file], { env: { HOME: "", XDG_DATA_HOME: "relative/dir" } })
      assert.strictEqual(result.code, 2, exitOf(result))
      assert.include(result.stderr, "name one with --db or COMMENT_DM_DB")
      const stats = await control(studio.sandbox.handle.stats)
      assert.strictEqual(Object.values(stats.requests).reduce((sum, n) => sum + n, 0), 0, "no request was made")
    } finally {
      await studio.close()
    }
  }, 60_000)
})
