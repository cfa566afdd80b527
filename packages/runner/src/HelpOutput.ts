/**
 * What @effect/cli writes (help, usage errors) follows the conventions of a command: colour only on a terminal and
 * never under `NO_COLOR`, and usage lines that name the command (`$ comment-dm run ...`, where @effect/cli prints
 * `$ run ...` for a subcommand). @effect/cli renders its help to ANSI text and writes it through Effect's `Console`,
 * with no switch for either, so the console it writes to is one that mends the text.
 */
import { Console, Effect } from "effect"

/** Whether a stream gets colour: a terminal, and no `NO_COLOR` with a value (https://no-color.org). */
export const colourFor = (stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean =>
  stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "")

// Select Graphic Rendition sequences: the only escape codes @effect/printer-ansi emits.
const sgr = /\x1b\[[0-9;]*m/g

/** The text as a stream gets it: without colour unless `colour`, every usage line starting with `name`. */
export const mend = (text: string, name: string, colour: boolean): string => {
  const plain = colour ? text : text.replace(sgr, "")
  return plain.replace(new RegExp(`^\\$ (?!${name}(?: |$))`, "gm"), `$ ${name} `)
}

const mendAll = (args: ReadonlyArray<unknown>, name: string, colour: boolean) =>
  args.map((arg) => typeof arg === "string" ? mend(arg, name, colour) : arg)

/** Which of the process's streams get colour. */
export interface Colour {
  readonly stdout: boolean
  readonly stderr: boolean
}

/**
 * Runs `self` (a `Command.run` of the command `name`) with a console whose writes are mended; `colour` defaults to
 * what this process's streams and environment allow.
 */
export const mended = (
  name: string,
  colour: Colour = { stdout: colourFor(process.stdout, process.env), stderr: colourFor(process.stderr, process.env) }
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((base) =>
    Effect.withConsole(self, {
      ...base,
      log: (...args) => base.log(...mendAll(args, name, colour.stdout)),
      info: (...args) => base.info(...mendAll(args, name, colour.stdout)),
      error: (...args) => base.error(...mendAll(args, name, colour.stderr)),
      warn: (...args) => base.warn(...mendAll(args, name, colour.stderr))
    })
  )
