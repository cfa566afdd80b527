import { Command, Options } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Console, Effect } from "effect"
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
