/**
 * What a careless or hostile user feeds the newer commands (suppress, forget) and campaign keys: empty settings, broken
 * CSV, control characters in messages. Each is refused with exit 2 and a readable message, and nothing is changed.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type CliResult, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { startServed } from "./support/served.js"

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup()
})

const workspace = () => {
  const dir = tempDir("comment-dm-hostile-")
  cleanups.push(dir.cleanup)
  return { dir: dir.path, db: Path.join(dir.path, "ledger.sqlite") }
}

const refused = (result: CliResult) => {
  assert.strictEqual(result.code, 2, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`)
  assert.notInclude(result.stderr, "    at ", "no stack trace")
  return result
}

/** A campaign that needs no platform to be refused or reported on. */
const base = {
  name: "hostile",
  platform: "instagram",
  user: "p",
  posts: ["17900000000000001"],
  match: { keywords: ["guide"] },
  message: "Hi"
}

const ok = (result: CliResult) => {
  assert.strictEqual(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`)
  return result
}

describe("a hostile user", () => {
  it("suppress import: a file's several bad rows are listed one a line, not run together with \\u000a", async () => {
    const { db, dir } = workspace()
    const csv = Path.join(dir, "bad.csv")
    Fs.writeFileSync(csv, "user_id,username\n1 2,a\n3,b c\n")
    const result = refused(await runCli(["suppress", "import", csv, "--profile", "p", "--db", db]))
    assert.notInclude(result.stderr, "\\u000a")
    assert.include(result.stderr, "\nline 2: ")
    assert.include(result.stderr, "\nline 3: ")
  })

  it("suppress add: several bad arguments are listed one a line, each with its control characters escaped", async () => {
    const { db } = workspace()
    const result = refused(await runCli(["suppress", "add", "", "a\u001b[2Jb", "--profile", "p", "--db", db]))
    assert.notInclude(result.stderr, "\\u000a")
    assert.notInclude(result.stderr, "\u001b")
    assert.strictEqual(result.stderr.trim().split("\n").length, 2, result.stderr)
  })

  it("suppress import: a quote left open is refused, not read as an id holding the rest of the file", async () => {
    const { db, dir } = workspace()
    const csv = Path.join(dir, "open-quote.csv")
    Fs.writeFileSync(csv, "user_id,username\n\"17841,x\n")
    const result = refused(await runCli(["suppress", "import", csv, "--profile", "p", "--db", db]))
    assert.include(result.stderr, "quote")
    const listed = ok(await runCli(["suppress", "list", "--profile", "p", "--json", "--db", db]))
    assert.strictEqual(JSON.parse(listed.stdout.trim().split("\n").at(-1) ?? "null").count, 0)
  })

  it("forget --profile \"\" (an unset variable in a script) is refused instead of forgetting nobody with exit 0", async () => {
    const { db } = workspace()
    ok(await runCli(["suppress", "add", "17841000000000001", "--profile", "p", "--db", db]))
    const result = refused(await runCli(["forget", "17841000000000001", "--profile", "", "--yes", "--db", db]))
    assert.include(result.stderr, "--profile")
    const blank = refused(await runCli(["forget", "17841000000000001", "--profile", "  ", "--yes", "--db", db]))
    assert.include(blank.stderr, "--profile")
  })

  it("a message, follow-up or public reply holding NUL or ESC is refused with the key that holds it", async () => {
    const { db, dir } = workspace()
    const cases: ReadonlyArray<readonly [string, object]> = [
      ["message", { message: "Hi\u0000 there" }],
      ["message[1]", { message: ["Hi", "Hi \u001b[2J"] }],
      ["follow_up.message", { follow_up: { message: "more\u0000", within: "1d" } }],
      ["public_reply.message[0]", { public_reply: { message: ["sent\u0007"] } }]
    ]
    for (const [key, change] of cases) {
      const file = writeCampaign(dir, "c.json", { ...base, ...change })
      const result = refused(await runCli(["run", file, "--dry-run", "--db", db]))
      assert.include(result.stderr, `${key}: `, result.stderr)
      assert.include(result.stderr, "control character", result.stderr)
      assert.notInclude(result.stderr, "\u001b")
    }
    const lines = writeCampaign(dir, "lines.json", { ...base, message: "Hi,\n\there is\r\nthe guide" })
    const fine = await runCli(["run", lines, "--dry-run", "--db", db])
    assert.notInclude(fine.stderr, "control character", "line breaks and tabs are a message's own")
  })

  it("dashboard --http [::1]:0 announces a URL that opens (the IPv6 host in brackets)", async () => {
    const { db } = workspace()
    const served = await startServed(["dashboard", "--db", db, "--http", "[::1]:0"], /^dashboard: (\S+)$/m)
    try {
      assert.match(served.url, /^http:\/\/\[::1\]:\d+\/$/)
      assert.strictEqual((await fetch(served.url)).status, 200)
    } finally {
      await served.stop()
    }
  })

  it("serve --http [::1]:0 logs health and metrics URLs that open (the IPv6 host in brackets)", async () => {
    const { db, dir } = workspace()
    const folder = Path.join(dir, "campaigns")
    Fs.mkdirSync(folder)
    const served = await startServed(["serve", folder, "--db", db, "--http", "[::1]:0"], /health on (\S+)\/healthz/)
    try {
      assert.match(served.url, /^http:\/\/\[::1\]:\d+$/)
      assert.strictEqual((await fetch(`${served.url}/metrics`)).status, 200)
    } finally {
      await served.stop()
    }
  })

  it("report --out naming the ledger or the campaign file (a slip of the shell) is refused; both stay intact", async () => {
    const { db, dir } = workspace()
    ok(await runCli(["suppress", "add", "17841000000000001", "--profile", "p", "--db", db]))
    const file = writeCampaign(dir, "c.json", base)
    const campaignText = Fs.readFileSync(file, "utf8")
    for (const out of [db, file]) {
      const result = refused(await runCli(["report", file, "--db", db, "--out", out]))
      assert.include(result.stderr, "not a report", result.stderr)
    }
    assert.strictEqual(Fs.readFileSync(file, "utf8"), campaignText)
    const listed = ok(await runCli(["suppress", "list", "--profile", "p", "--json", "--db", db]))
    assert.strictEqual(JSON.parse(listed.stdout.trim().split("\n").at(-1) ?? "null").count, 1)
    const html = Path.join(dir, "report.html")
    ok(await runCli(["report", file, "--db", db, "--out", html]))
    ok(await runCli(["report", file, "--db", db, "--out", html]))
  })

  it("forget and prune on a --db that does not exist (a typo) are refused instead of forgetting in a new, empty ledger", async () => {
    const { dir } = workspace()
    const typo = Path.join(dir, "ledgr.sqlite")
    const forgot = refused(await runCli(["forget", "17841000000000001", "--db", typo]))
    assert.include(forgot.stderr, "no ledger", forgot.stderr)
    const pruned = refused(await runCli(["prune", "--older-than", "90d", "--db", typo]))
    assert.include(pruned.stderr, "no ledger", pruned.stderr)
    const fromEnvironment = refused(await runCli(["forget", "17841000000000001"], { env: { COMMENT_DM_DB: typo } }))
    assert.include(fromEnvironment.stderr, "COMMENT_DM_DB", fromEnvironment.stderr)
    assert.isFalse(Fs.existsSync(typo), "no ledger was made")
  })

  it("report --out in a folder that does not exist says so, without the name of a temporary file", async () => {
    const { db, dir } = workspace()
    const file = writeCampaign(dir, "c.json", base)
    const out = Path.join(dir, "no-such-folder", "report.html")
    const result = refused(await runCli(["report", file, "--db", db, "--out", out]))
    assert.include(result.stderr, `cannot write the report to ${out}: its folder does not exist`)
    assert.notInclude(result.stderr, ".tmp")
  })

  it("Ctrl-C stops the dashboard (exit 130) without speaking of claims it never holds", async () => {
    const { db } = workspace()
    const served = await startServed(["dashboard", "--db", db, "--http", "127.0.0.1:0"], /^dashboard: (\S+)$/m)
    served.child.kill("SIGINT")
    const code = await new Promise((resolve) => served.child.on("close", resolve))
    assert.strictEqual(code, 130, served.output())
    assert.notInclude(served.output(), "claims")
  })
})
