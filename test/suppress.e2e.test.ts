/**
 * `comment-dm suppress add|remove|list|import|export` end to end: the real command on a real SQLite ledger, and a run
 * against the sandbox that honours what the commands put on the list (by id and by @username, for every campaign of
 * the profile). Also what a user can get wrong: no profile to choose, several, an empty or odd name, a CSV that names
 * nobody.
 */
import type { DataSet } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cleanups } from "./support/cleanups.js"
import { type CliResult, jsonSummary, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { parseCsv } from "./support/e2e-csv.js"
import { control, startSandbox } from "./support/sandbox.js"

const profile = "suppress"
const postId = "17900000000000078"
const userId = (n: number) => `1784190000000000${n}`

const comment = (n: number): DataSet.Comment => ({
  id: `c${n}`,
  text: "guide please",
  timestamp: new Date(Date.now() - (10 - n) * 60_000).toISOString(),
  user: { id: userId(n), username: `Viewer.${n}` }
})

const ledger = () => {
  const dir = tempDir("comment-dm-suppress-")
  cleanups.push(dir.cleanup)
  return { dir: dir.path, db: Path.join(dir.path, "ledger.sqlite") }
}

const last = (result: CliResult) => JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "null")

const ok = (result: CliResult) => {
  assert.strictEqual(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`)
  return result
}

describe("comment-dm suppress", () => {
  it("add by id and @username before a run: neither is messaged; remove lets a new campaign reach them", async () => {
    const sandbox = await startSandbox({
      data: { _tag: "Listed", profile, posts: [{ id: postId, comments: [1, 2, 3, 4].map(comment) }], messages: [] },
      seed: 5,
      windows: "faithful"
    })
    cleanups.push(sandbox.close)
    const { db, dir } = ledger()
    const cli = (...args: ReadonlyArray<string>) => runCli([...args, "--db", db], { env: sandbox.env })
    const campaign = (name: string) =>
      writeCampaign(dir, `${name}.json`, {
        name,
        platform: "instagram",
        user: profile,
        posts: [postId],
        match: { keywords: ["guide"] },
        message: "Hi, here is the guide",
        delivery: "private_reply",
        pace: { per_hour: 1_000_000 }
      })

    const added = last(ok(await cli("suppress", "add", userId(1), "@VIEWER.2", "--profile", profile, "--json")))
    assert.deepStrictEqual(added, { profile, platform: "instagram", added: 2, already: 0 })
    const again = last(ok(await cli("suppress", "add", userId(1), "--profile", profile, "--json")))
    assert.deepStrictEqual([again.added, again.already], [0, 1])

    const first = await cli("run", campaign("first"), "--json")
    ok(first)
    assert.deepStrictEqual([jsonSummary(first).counts.sent, jsonSummary(first).counts.suppressed], [2, 2])
    const reached = async () => (await control(sandbox.handle.deliveries)).map((d) => d.recipientId).sort()
    assert.deepStrictEqual(await reached(), [userId(3), userId(4)])
    const rows = parseCsv(ok(await cli("export", campaign("first"))).stdout)
    assert.deepStrictEqual(
      rows.map((row) => `${row.user_id}:${row.state}`).sort(),
      [`${userId(1)}:suppressed`, `${userId(2)}:suppressed`, `${userId(3)}:sent`, `${userId(4)}:sent`]
    )
    const status = JSON.parse(ok(await cli("status", campaign("first"), "--json")).stdout)
    assert.deepStrictEqual([status.counts.suppressed, status.unaccounted], [2, 0])

    // The ledger knows one profile now: --profile may be left out.
    const removed = last(ok(await cli("suppress", "remove", "@viewer.2", "--json")))
    assert.strictEqual(removed.removed, 1)
    const listed = last(ok(await cli("suppress", "list", "--json")))
    assert.deepStrictEqual(listed.suppressions.map((entry: { user_id: string }) => entry.user_id), [userId(1)])
    const second = ok(await cli("run", campaign("second"), "--json"))
    assert.strictEqual(jsonSummary(second).counts.suppressed, 1)
    assert.deepStrictEqual(await reached(), [userId(2), userId(3), userId(4)].sort())
  }, 60_000)

  it("export and import carry the list to another ledger; a CSV that names nobody is refused whole", async () => {
    const from = ledger()
    const to = ledger()
    const cli = (db: string, ...args: ReadonlyArray<string>) => runCli([...args, "--db", db])
    ok(await cli(from.db, "suppress", "add", "111", "@ana", "=cmd", "--profile", "acme"))
    ok(await cli(from.db, "suppress", "add", "222", "--profile", "acme"))
    assert.deepStrictEqual(
      last(ok(await cli(from.db, "suppress", "export", "--json"))),
      last(ok(await cli(from.db, "suppress", "list", "--json")))
    )
    const exported = ok(await cli(from.db, "suppress", "export")).stdout
    assert.strictEqual(exported.split("\n")[0], "user_id,username,source,created_at")
    // A cell a spreadsheet would run as a formula is written as text.
    assert.include(exported, `"'=cmd"`)
    const file = Path.join(to.dir, "list.csv")
    Fs.writeFileSync(file, exported)
    const imported = last(ok(await cli(to.db, "suppress", "import", file, "--profile", "acme", "--json")))
    assert.deepStrictEqual([imported.read, imported.added], [4, 4])
    const shown = (db: string) =>
      cli(db, "suppress", "list", "--json").then((result) =>
        last(ok(result)).suppressions.map((entry: { user_id: string | null; username: string | null }) =>
          `${entry.user_id ?? ""}/${entry.username ?? ""}`
        ).sort()
      )
    assert.deepStrictEqual(await shown(to.db), await shown(from.db))
    assert.deepStrictEqual(await shown(to.db), ["/ana", "111/", "222/", "=cmd/"].sort())
    const sources = parseCsv(ok(await cli(to.db, "suppress", "export")).stdout).map((row) => row.source)
    assert.deepStrictEqual([...new Set(sources)], ["import"])

    const bad = Path.join(to.dir, "bad.csv")
    Fs.writeFileSync(bad, "user_id,username,source\n333,,manual\n,,manual\n444,bo b,manual\n")
    const refused = await cli(to.db, "suppress", "import", bad, "--profile", "acme")
    assert.strictEqual(refused.code, 2)
    assert.include(refused.stderr, "nothing imported; 2 rows cannot be used")
    assert.include(refused.stderr, "line 3: neither a user_id nor a username")
    assert.include(refused.stderr, "line 4: spaces or control characters")
    const headless = Path.join(to.dir, "headless.csv")
    Fs.writeFileSync(headless, "333\n444\n")
    const noHeader = await cli(to.db, "suppress", "import", headless, "--profile", "acme")
    assert.strictEqual(noHeader.code, 2)
    assert.include(noHeader.stderr, "must name the columns")
    assert.notInclude(await shown(to.db), "333/")
  }, 60_000)

  it(
    "what a user can get wrong: no profile known, several, empty names, control characters; --help for each",
    async () => {
      const { db } = ledger()
      const cli = (...args: ReadonlyArray<string>) => runCli([...args, "--db", db])
      const none = await cli("suppress", "add", "1")
      assert.strictEqual(none.code, 2)
      assert.include(none.stderr, "the ledger knows no profile yet: name it with --profile")
      ok(await cli("suppress", "add", "1", "--profile", "acme"))
      ok(await cli("suppress", "add", "2", "--profile", "other"))
      const several = await cli("suppress", "list")
      assert.strictEqual(several.code, 2)
      assert.include(several.stderr, "the ledger holds several profiles (acme, other): name one with --profile")
      for (const odd of ["@", " ", "a\u0007b", "line\nbreak", "@bo b"]) {
        const result = await cli("suppress", "add", odd, "--profile", "acme")
        assert.strictEqual(result.code, 2, JSON.stringify(odd))
        assert.notInclude(result.stderr, "\u0007", "control characters are shown escaped")
      }
      const emptyProfile = await cli("suppress", "add", "3", "--profile", " ")
      assert.strictEqual(emptyProfile.code, 2)
      assert.include(emptyProfile.stderr, "--profile is empty")
      const text = ok(await cli("suppress", "list", "--profile", "acme")).stdout
      assert.include(text, "suppression list of acme (instagram): 1")
      for (const sub of ["add", "remove", "list", "import", "export"]) {
        const help = ok(await runCli(["suppress", sub, "--help"])).stdout
        assert.include(help, `$ comment-dm suppress ${sub}`)
        assert.include(help, "--profile")
        assert.notInclude(help, "A user-defined piece of text", "no filler lines")
      }
      const group = ok(await runCli(["suppress", "--help"])).stdout
      for (const sub of ["add", "remove", "list", "import", "export"]) {
        assert.match(
          group,
          new RegExp(`^  ${sub} +\\S`, "m")
        )
      }
    },
    60_000
  )
})
