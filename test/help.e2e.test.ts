/**
 * Issue 17, help that follows the conventions: `comment-dm --help` lists the subcommands (a name and one line each)
 * before the options, no subcommand's help carries the sentences @effect/cli adds under every option, every option is
 * still named, and nothing has colour codes in a pipe. Also: Ctrl-C stops `comment-dm sandbox` without a word.
 */
import { CliConfig, CommandDescriptor, Usage } from "@effect/cli"
import type { Span } from "@effect/cli/HelpDoc/Span"
import { assert, describe, it } from "@effect/vitest"
import { HashMap, Option } from "effect"
import { command } from "../packages/runner/src/Cli.js"
import { type CliResult, finished, runCli, startCli } from "./support/cli.js"

const exitOf = (result: CliResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

const subcommands = [
  "run",
  "watch",
  "status",
  "reconcile",
  "export",
  "report",
  "dashboard",
  "doctor",
  "suppress",
  "forget",
  "prune",
  "serve",
  "sandbox"
]

/** What @effect/cli writes under options and arguments, whatever their kind. */
const filler = [
  "A user-defined piece of text",
  "A true or false value",
  "An integer.",
  "A floating point number",
  "One of the following:",
  "A date without a time-zone",
  "An existing file",
  "This setting is optional",
  "can be set from environment variables",
  "may be repeated"
]

const spanText = (span: Span): string =>
  span._tag === "Sequence"
    ? spanText(span.left) + spanText(span.right)
    : span._tag === "Text" || span._tag === "URI"
    ? span.value
    : spanText(span.value)

/** The options a subcommand takes, from its definition (its usage), not from any help text. */
const optionsOf = (name: string): ReadonlyArray<string> => {
  const sub = Option.getOrThrow(HashMap.get(CommandDescriptor.getSubcommands(command.descriptor), name))
  const usage = Usage.enumerate(CommandDescriptor.getUsage(sub), CliConfig.defaultConfig).map(spanText).join(" ")
  return [...new Set(usage.match(/--[a-z][a-z-]*/g) ?? [])]
}

const help = async (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) => {
  const result = await runCli(args, { env })
  assert.strictEqual(result.code, 0, exitOf(result))
  assert.strictEqual(result.stderr, "", exitOf(result))
  assert.notInclude(result.stdout, "\x1b", "no escape codes in a pipe")
  return result.stdout
}

describe("comment-dm --help", () => {
  it("lists every subcommand, one line each, before the options; so does comment-dm with no arguments", async () => {
    for (const args of [["--help"], ["-h"], [], ["--log-level", "info"]]) {
      const text = await help(args)
      const lines = text.split("\n")
      const commands = lines.indexOf("COMMANDS")
      const options = lines.indexOf("GLOBAL OPTIONS")
      assert.isAbove(commands, 0, text)
      assert.isAbove(options, commands, text)
      const listed = lines.slice(commands + 1, lines.indexOf("", commands))
      assert.deepStrictEqual(listed.map((line) => line.trim().split(/\s+/)[0]), subcommands, text)
      for (const line of listed) {
        assert.match(line, /^ {2}[a-z]+ {3,}\S/, "a name, then its line")
        assert.isAtMost(line.length, 100, line)
      }
      assert.include(text, "$ comment-dm <command> [options]")
      for (const sentence of filler) assert.notInclude(text, sentence, args.join(" "))
    }
  })

  it("gives each subcommand's help without filler lines, naming the command and every option it takes", async () => {
    // `suppress` is a command of commands, with no options of its own (test/suppress.e2e.test.ts reads their help).
    for (const name of subcommands.filter((name) => name !== "suppress")) {
      const text = await help([name, "--help"], { NO_COLOR: "1" })
      assert.include(text, `$ comment-dm ${name}`, name)
      for (const sentence of filler) assert.notInclude(text, sentence, name)
      const rows = text.slice(text.indexOf("\nOPTIONS\n") + 1, text.indexOf("\nGLOBAL OPTIONS\n") + 1)
      const global = text.slice(text.indexOf("\nGLOBAL OPTIONS\n") + 1).trimEnd()
      const options = optionsOf(name)
      assert.isNotEmpty(options, name)
      for (const option of options) {
        assert.match(rows, new RegExp(`\\n {2}${option}[ \\n]`), `${name} ${option}`)
      }
      for (const option of ["--help", "--version", "--log-level"]) {
        assert.match(global, new RegExp(`\\n {2}(-h, )?${option}[ \\n]`), `${name} ${option}`)
      }
      // One row or a short paragraph an option: no blank lines between them.
      assert.notInclude(rows.trimEnd(), "\n\n", name)
      assert.notInclude(global, "\n\n", name)
    }
  })

  it("gives every command of the suppression list and of forgetting --help naming --json and the shared --db", async () => {
    const commands = [
      ...["add", "remove", "list", "import", "export"].map((sub) => ["suppress", sub]),
      ["forget"],
      ["prune"]
    ]
    for (const words of commands) {
      const text = (await help([...words, "--help"], { NO_COLOR: "1" })).replace(/\s+/g, " ")
      assert.include(text, `$ comment-dm ${words.join(" ")}`, words.join(" "))
      assert.include(text, "--json", words.join(" "))
      assert.include(text, "--db text the ledger: a SQLite file path or a postgres:// URL shared by several runners")
      assert.include(text, "(default: $COMMENT_DM_DB, else one ledger per user:", words.join(" "))
    }
  })

  it("keeps --db's note that COMMENT_DM_DB sets it", async () => {
    const text = (await help(["status", "--help"])).replace(/\s+/g, " ")
    assert.include(text, "--db text the ledger: a SQLite file path or a postgres:// URL")
    assert.include(text, "(default: $COMMENT_DM_DB, else one ledger per user: $XDG_DATA_HOME/comment-dm/ledger.sqlite")
  })

  it("leaves --version as it was", async () => {
    const result = await runCli(["--version"])
    assert.strictEqual(result.code, 0, exitOf(result))
    assert.strictEqual(result.stdout, "0.1.0\n\n")
    assert.strictEqual(result.stderr, "")
  })

  it("leaves usage errors as they were: exit 2 and @effect/cli's message", async () => {
    const missing = await runCli(["run"])
    assert.strictEqual(missing.code, 2, exitOf(missing))
    assert.include(missing.stderr, "Missing argument <campaign-file>")
    const unknown = await runCli(["nope"])
    assert.strictEqual(unknown.code, 2, exitOf(unknown))
    assert.include(unknown.stderr, "Invalid subcommand for comment-dm")
  })
})

describe("comment-dm sandbox", () => {
  it("stops quietly on Ctrl-C, with exit 130", async () => {
    const child = startCli(["sandbox", "--port", "0"])
    const ended = finished(child, 30_000)
    await new Promise<void>((resolve) => child.stdout?.once("data", () => resolve()))
    child.kill("SIGINT")
    const result = await ended
    assert.strictEqual(result.code, 130, exitOf(result))
    assert.match(result.stdout, /^http:\/\/127\.0\.0\.1:\d+/)
    assert.strictEqual(result.stderr.trim(), "", exitOf(result))
  })
})
