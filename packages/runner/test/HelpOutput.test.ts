import { Args, Command, HelpDoc, Options } from "@effect/cli"
import * as Span from "@effect/cli/HelpDoc/Span"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Config, Console, Effect, Option } from "effect"
import * as HelpOutput from "../src/HelpOutput.js"

const coloured = "\x1b[0;1m\x1b[0;37;1mcomment-dm\x1b[0;1m\x1b[0m\n\n\x1b[0;1mUSAGE\x1b[0m\n\n$ run [--json] <file>\n"

describe("HelpOutput", () => {
  it("colours a terminal only, and never under a non-empty NO_COLOR", () => {
    assert.isTrue(HelpOutput.colourFor({ isTTY: true }, {}))
    assert.isTrue(HelpOutput.colourFor({ isTTY: true }, { NO_COLOR: "" }))
    assert.isFalse(HelpOutput.colourFor({ isTTY: true }, { NO_COLOR: "1" }))
    assert.isFalse(HelpOutput.colourFor({ isTTY: false }, {}))
    assert.isFalse(HelpOutput.colourFor({}, {}))
  })

  it("drops the escape codes without colour, and names the command in every usage line", () => {
    assert.strictEqual(
      HelpOutput.mend(coloured, "comment-dm", false),
      "comment-dm\n\nUSAGE\n\n$ comment-dm run [--json] <file>\n"
    )
    assert.include(HelpOutput.mend(coloured, "comment-dm", true), "\x1b[0;1mUSAGE\x1b[0m\n\n$ comment-dm run [--json]")
  })

  it("leaves usage lines that already name the command, and other lines, alone", () => {
    assert.strictEqual(
      HelpOutput.mend("$ comment-dm\n$ comment-dm run x", "comment-dm", false),
      "$ comment-dm\n$ comment-dm run x"
    )
    assert.strictEqual(HelpOutput.mend("$ comment-dmx", "comment-dm", false), "$ comment-dm comment-dmx")
    assert.strictEqual(HelpOutput.mend("costs $ 5\n  $ run", "comment-dm", false), "costs $ 5\n  $ run")
  })

  it.effect("mends what @effect/cli writes for a subcommand's --help", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const base = yield* Console.consoleWith(Effect.succeed)
      const capture = {
        ...base,
        log: (...args: ReadonlyArray<unknown>) => Effect.sync(() => void lines.push(args.join(" ")))
      }
      const sub = Command.make("run", { json: Options.boolean("json") })
      const cli = Command.run(Command.make("comment-dm").pipe(Command.withSubcommands([sub])), {
        name: "comment-dm",
        version: "0"
      })
      yield* cli(["node", "comment-dm", "run", "--help"]).pipe(
        HelpOutput.mended("comment-dm", { stdout: false, stderr: false }),
        Effect.withConsole(capture),
        Effect.provide(NodeContext.layer)
      )
      const text = lines.join("\n")
      assert.include(text, "$ comment-dm run [--json]")
      assert.notInclude(text, "\x1b[")
    }))
})

const about = { name: "tool", version: "1.2.3", environment: { "--db": "TOOL_DB" } }

/** A command with an option of every kind @effect/cli describes with sentences of its own. */
const everyKind = Command.make("every", {
  file: Args.text({ name: "file" }).pipe(Args.withDescription("the file to read")),
  extra: Args.text({ name: "extra" }).pipe(Args.withDescription("one more"), Args.optional),
  db: Options.text("db").pipe(
    Options.withDescription("the ledger"),
    Options.withFallbackConfig(Config.string("TOOL_DB")),
    Options.optional
  ),
  flag: Options.boolean("flag").pipe(Options.withDescription("a switch")),
  count: Options.integer("count").pipe(Options.withDescription("how many"), Options.optional),
  ratio: Options.float("ratio").pipe(Options.withDescription("how much"), Options.withDefault(0.5)),
  format: Options.choice("format", ["csv", "jsonl"]).pipe(Options.withDescription("how")),
  at: Options.date("at").pipe(Options.withDescription("when"), Options.optional),
  data: Options.file("data").pipe(Options.withDescription("where from"), Options.optional),
  key: Options.redacted("key").pipe(Options.withDescription("a secret"), Options.optional),
  tag: Options.text("tag").pipe(Options.withDescription("a label"), Options.repeated)
})
const tool = Command.make("tool").pipe(
  Command.withDescription("A tool. It does things."),
  Command.withSubcommands([
    everyKind.pipe(Command.withDescription("Every kind of option: text, numbers, choices and more. And so on.")),
    Command.make("short").pipe(Command.withDescription("Short (a command with no options): nothing else"))
  ])
)

/** The lines of @effect/cli's own rendering of `command`'s help that are neither a heading nor ours. */
const fillerOf = (doc: HelpDoc.HelpDoc, ours: ReadonlyArray<string>) =>
  HelpDoc.toAnsiText(doc).replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((line) => line.trim())
    .filter((line) => line !== "" && !/^[A-Z]+$/.test(line) && !line.startsWith("-") && !line.startsWith("(-"))
    .filter((line) => !line.startsWith("<") && !ours.some((text) => line.includes(text)))

const pageOf = (args: ReadonlyArray<string>) =>
  HelpOutput.pageFor(tool, args, about).pipe(Effect.provide(NodeContext.layer))

describe("HelpOutput.render", () => {
  it.effect("lists the subcommands first, a name and one line each, then the options", () =>
    Effect.gen(function*() {
      const text = HelpOutput.render(Option.getOrThrow(yield* pageOf(["--help"])))
      const plain = HelpOutput.mend(text, "tool", false)
      const lines = plain.split("\n")
      assert.strictEqual(lines[0], "tool 1.2.3")
      assert.include(plain, "USAGE\n  $ tool <command> [options]\n")
      assert.include(plain, "COMMANDS\n  every   Every kind of option: text, numbers, choices and more\n")
      assert.include(plain, "  short   Short (a command with no options): nothing else\n")
      assert.isBelow(plain.indexOf("COMMANDS"), plain.indexOf("GLOBAL OPTIONS"))
      assert.notInclude(plain, "\nOPTIONS\n", "the top command has only the global options")
      assert.isBelow(plain.indexOf("COMMANDS"), plain.indexOf("DESCRIPTION"))
      assert.include(plain, "  -h, --help ")
      assert.notInclude(plain, "This setting is optional.")
      // Headings are bold for a terminal; the mended console drops that elsewhere.
      assert.include(text, "\x1b[1mCOMMANDS\x1b[0m")
    }))

  it.effect("drops every sentence @effect/cli adds under an option, keeping what it says as a note", () =>
    Effect.gen(function*() {
      const page = Option.getOrThrow(yield* pageOf(["every", "--help"]))
      const plain = HelpOutput.mend(HelpOutput.render(page), "tool", false)
      const ours = [
        "the file",
        "one more",
        "the ledger",
        "a switch",
        "how many",
        "how much",
        "how",
        "when",
        "where from",
        "a secret",
        "a label",
        "Every kind",
        "Generate a completion",
        "Sets the minimum",
        "Show the help",
        "Start wizard",
        "Show the version",
        "$ every"
      ]
      const filler = fillerOf(page.doc, ours)
      // The sentences exist in @effect/cli's rendering, so the check below can fail.
      assert.isAtLeast(filler.length, 8, filler.join("\n"))
      for (const sentence of filler) assert.notInclude(plain, sentence)
      assert.include(plain, "  $ tool every ")
      // The command's own options, then the ones every command takes.
      const own = plain.slice(plain.indexOf("\nOPTIONS\n"), plain.indexOf("\nGLOBAL OPTIONS\n"))
      const global = plain.slice(plain.indexOf("\nGLOBAL OPTIONS\n"))
      assert.include(own, "  --tag text")
      assert.notInclude(own, "--help")
      assert.include(global, "  -h, --help ")
      assert.notInclude(global, "--tag")
      assert.match(plain, /\n {2}--db text +the ledger \(env TOOL_DB\)\n/)
      assert.match(plain, /\n {2}--flag +a switch\n/)
      assert.match(plain, /\n {2}--ratio float +how much\n/)
      assert.match(plain, /\n {2}--format csv \| jsonl +how \(required\)\n/)
      assert.match(plain, /\n {2}--tag text\.\.\. +a label \(repeatable\)\n/)
      assert.match(plain, /\n {2}<file> +the file to read\n/)
      assert.match(plain, /\n {2}<extra> +one more \(optional\)\n/)
    }))

  it("wraps a long text under its own column, and a long name above its text", () => {
    const page: HelpOutput.Page = {
      name: "tool",
      version: "1",
      usage: ["tool x"],
      doc: HelpDoc.blocks([
        HelpDoc.h1("OPTIONS"),
        HelpDoc.descriptionList([
          [Span.text("--a"), HelpDoc.p("word ".repeat(40))],
          [Span.text(`--${"b".repeat(40)}`), HelpDoc.p("short")]
        ])
      ]),
      describe: () => "",
      environment: {},
      global: new Set()
    }
    const lines = HelpOutput.render(page).split("\n")
    const a = lines.findIndex((line) => line.startsWith("  --a "))
    assert.isAtMost(Math.max(...lines.map((line) => line.length)), 100)
    assert.match(lines[a + 1] ?? "", /^ {7}word/)
    assert.strictEqual(lines.at(-2), `  --${"b".repeat(40)}`)
    assert.strictEqual(lines.at(-1), `${" ".repeat(7)}short (required)`)
  })

  it("summarises a command in its first sentence, shortened to fit", () => {
    assert.strictEqual(HelpOutput.summary("Do it. Then more.", 80), "Do it")
    assert.strictEqual(HelpOutput.summary("Do it (carefully) now. More.", 12), "Do it now")
    assert.strictEqual(HelpOutput.summary("Do it: all of it, and then some more of it.", 12), "Do it")
    assert.strictEqual(HelpOutput.summary("", 12), "")
    assert.strictEqual(HelpOutput.summary("v1.2 is out", 80), "v1.2 is out")
  })

  it.effect("takes over help only where @effect/cli would show it", () =>
    Effect.gen(function*() {
      const shown = [
        [],
        ["--help"],
        ["-h"],
        ["every", "--help"],
        ["every", "f", "--help"],
        ["short", "-h"],
        ["--log-level", "debug"],
        ["--log-level=debug", "every", "--help"]
      ]
      for (const args of shown) assert.isTrue(Option.isSome(yield* pageOf(args)), args.join(" "))
      const notShown = [
        ["--version"],
        ["every", "f", "--format", "csv"],
        ["nope"],
        ["every"],
        ["--wizard"],
        ["--log-level", "debug", "every", "f", "--format", "csv"]
      ]
      for (const args of notShown) assert.isTrue(Option.isNone(yield* pageOf(args)), args.join(" "))
    }))
})
