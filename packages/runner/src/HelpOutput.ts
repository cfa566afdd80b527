/**
 * What @effect/cli writes (help, usage errors) follows the conventions of a command: colour only on a terminal and
 * never under `NO_COLOR`, and usage lines that name the command (`$ comment-dm run ...`, where @effect/cli prints
 * `$ run ...` for a subcommand). @effect/cli renders its help to ANSI text and writes it through Effect's `Console`,
 * with no switch for either, so the console it writes to is one that mends the text.
 *
 * Help pages are laid out here ({@link render}), from the HelpDoc @effect/cli's own parser picks for the command line
 * ({@link pageFor}): working on that structure (headings, paragraphs, an option's name and its paragraphs) rather than
 * on the text it renders does not depend on its spacing, line breaks or colour codes, and leaves which command's
 * help it is, and every other output, to @effect/cli.
 */
import {
  BuiltInOptions,
  CliConfig,
  CommandDescriptor as Descriptor,
  CommandDirective,
  type HelpDoc,
  Usage
} from "@effect/cli"
import type { Span } from "@effect/cli/HelpDoc/Span"
import { Console, Effect, HashMap, Option } from "effect"

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

// ---------------------------------------------------------------------------------------------------------------
// The layout of `--help`

/**
 * Sentences @effect/cli adds under every option and argument (its type, "optional", "from the environment",
 * "repeated"). They say what the usage line already says; the few worth keeping become a short note.
 */
const typeSentences = [
  /^A true or false value\.$/,
  /^One of the following: /,
  /^A date without a time-zone in the ISO-8601 format/,
  /^A floating point number\.$/,
  /^An integer\.$/,
  /^An existing (file|directory|file or directory)\.$/,
  /^A (file|directory|file or directory)( that must not exist)?\.$/,
  /^A user-defined piece of text( that is confidential)?\.$/
]
const optionalSentence = /^This setting is optional\.(?: Defaults to: (.*))?$/
const environmentSentence = /^This (?:option|argument) can be set from environment variables\.$/
const repeatedSentence = /^This (?:option|argument) may be repeated zero or more times\.$/

/** Help's layout: where descriptions wrap, and where they start beside a name. */
const width = 100
const nameColumn = 30

/** An option or argument: its name (with its value's type) and what its help says about it. */
interface Entry {
  readonly name: string
  readonly text: string
}

/** A span's text without its styles (@effect/cli keeps its own `getText` internal). */
const spanText = (span: Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Highlight":
    case "Weak":
    case "Strong":
      return spanText(span.value)
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
  }
}

/** What a command's HelpDoc holds, by section. */
interface Sections {
  readonly description: Array<string>
  readonly arguments: Array<Entry>
  readonly options: Array<Entry>
  readonly commands: Array<string>
}

const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> => {
  switch (doc._tag) {
    case "Paragraph":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphs(doc.left), ...paragraphs(doc.right)]
    case "Header":
      return [spanText(doc.value)]
    case "DescriptionList":
      return doc.definitions.flatMap(([name, item]) => [spanText(name), ...paragraphs(item)])
    case "Enumeration":
      return doc.elements.flatMap(paragraphs)
    case "Empty":
      return []
  }
}

/** An option's or argument's help in one paragraph: its own description, then notes for what the sentences said. */
const entry = (name: string, doc: HelpDoc.HelpDoc, environment: Readonly<Record<string, string>>): Entry => {
  const kept: Array<string> = []
  const notes: Array<string> = []
  let optional = false
  let repeated = false
  for (const paragraph of paragraphs(doc)) {
    const defaulted = optionalSentence.exec(paragraph)
    if (typeSentences.some((sentence) => sentence.test(paragraph))) continue
    if (defaulted !== null) {
      optional = true
      if (defaulted[1] !== undefined && !kept.join(" ").includes("default")) notes.push(`default ${defaulted[1]}`)
    } else if (environmentSentence.test(paragraph)) {
      const variable = environment[name.split(" ")[0] ?? ""]
      if (variable === undefined) notes.push("can be set from the environment")
      else if (!kept.join(" ").includes(variable)) notes.push(`env ${variable}`)
    } else if (repeatedSentence.test(paragraph)) {
      repeated = true
      if (!kept.join(" ").includes("repeatable")) notes.push("repeatable")
    } else {
      kept.push(paragraph)
    }
  }
  // An option is optional unless said otherwise; an argument is required unless said otherwise.
  const isOption = name.startsWith("-")
  if (isOption && !optional && !repeated) notes.unshift("required")
  if (!isOption && optional) notes.unshift("optional")
  const text = [...kept, ...(notes.length > 0 ? [`(${notes.join("; ")})`] : [])].join(" ")
  return { name, text }
}

const sections = (doc: HelpDoc.HelpDoc, environment: Readonly<Record<string, string>>): Sections => {
  const found: Sections = { description: [], arguments: [], options: [], commands: [] }
  let section = ""
  const visit = (node: HelpDoc.HelpDoc): void => {
    switch (node._tag) {
      case "Sequence":
        visit(node.left)
        visit(node.right)
        return
      case "Header":
        section = spanText(node.value)
        return
      case "DescriptionList": {
        const into = section === "ARGUMENTS" ? found.arguments : found.options
        // @effect/cli writes an option with an alias as "(-h, --help)".
        node.definitions.forEach(([name, item]) =>
          into.push(entry(spanText(name).replace(/^\((-.*)\)$/, "$1"), item, environment))
        )
        return
      }
      case "Enumeration":
        // COMMANDS: one paragraph a subcommand, its usage first (and one for each of a subcommand's own commands).
        node.elements.forEach((element) =>
          paragraphs(element).forEach((line) => {
            const name = line.trim().split(" ")[0] ?? ""
            if (!found.commands.includes(name)) found.commands.push(name)
          })
        )
        return
      case "Paragraph":
        if (section === "DESCRIPTION") found.description.push(spanText(node.value))
        return
      case "Empty":
        return
    }
  }
  visit(doc)
  return found
}

/** `prefix` then `text` wrapped to `width`, the lines after the first indented by `indent`. */
const wrap = (prefix: string, text: string, indent: number): Array<string> => {
  const lines: Array<string> = []
  let line = prefix
  let empty = true
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line)
      line = `${" ".repeat(indent)}${word}`
    } else {
      line = empty ? `${line}${word}` : `${line} ${word}`
    }
    empty = false
  }
  return [...lines, line]
}

/** A name and its text as a row: side by side when the name fits the column, else the text under it. */
const row = (name: string, text: string, column: number): Array<string> => {
  const indent = 2 + column
  if (text === "") return [`  ${name}`]
  if (name.length + 2 <= column) return wrap(`  ${name.padEnd(column)}`, text, indent)
  return [`  ${name}`, ...wrap(" ".repeat(indent), text, indent)]
}

/**
 * A command's one line: the first sentence of its description, without its asides in brackets if that is too long
 * for `room`, and then only the part before a colon.
 */
export const summary = (description: string, room: number): string => {
  const sentence = (/^(.*?)\.(?:\s|$)/s.exec(description)?.[1] ?? description).trim()
  const plain = sentence.replace(/\s*\([^()]*\)/g, "")
  const head = /^(.*?):\s/s.exec(plain)?.[1] ?? plain
  return [sentence, plain].find((candidate) => candidate.length <= room) ?? head
}

const bold = (text: string) => `\x1b[1m${text}\x1b[0m`

/** What a help page is made of: the HelpDoc and usage lines @effect/cli made for the command asked about. */
export interface Page {
  readonly name: string
  readonly version: string
  readonly usage: ReadonlyArray<string>
  readonly doc: HelpDoc.HelpDoc
  /** The subcommands' descriptions, by name (for the COMMANDS list). */
  readonly describe: (command: string) => string
  /** The environment variable an option can be set from, by option (`--db`), for its note. */
  readonly environment: Readonly<Record<string, string>>
  /** The options every command takes (@effect/cli's own: --help, --version, ...), listed apart. */
  readonly global: ReadonlySet<string>
}

/**
 * A help page laid out as `git` and `npm` do: USAGE, the COMMANDS (a name and one line each), then the description,
 * the ARGUMENTS, the OPTIONS and the GLOBAL OPTIONS (one row or short paragraph each), without the sentences @effect/cli adds under every
 * option. Headings are bold (the mended console drops that where colour is not wanted).
 */
export const render = (page: Page): string => {
  const found = sections(page.doc, page.environment)
  const out: Array<string> = [`${page.name} ${page.version}`, "", bold("USAGE")]
  for (const line of page.usage) {
    const named = line === page.name || line.startsWith(`${page.name} `) ? line : `${page.name} ${line}`
    // A command of commands (the top one, `suppress`) is used through one of them.
    const full = found.commands.length > 0 && !/[[<]/.test(named) ? `${named} <command> [options]` : named
    out.push(...wrap("  $ ", full, 6))
  }
  if (found.commands.length > 0) {
    const column = Math.max(...found.commands.map((name) => name.length)) + 3
    out.push("", bold("COMMANDS"))
    found.commands.forEach((name) => out.push(...row(name, summary(page.describe(name), width - 2 - column), column)))
  }
  if (found.description.length > 0) {
    out.push("", bold("DESCRIPTION"))
    found.description.forEach((text) => out.push(...wrap("  ", text, 2)))
  }
  const own = found.options.filter((e) => !page.global.has(e.name))
  const global = found.options.filter((e) => page.global.has(e.name))
  for (
    const [title, entries] of [["ARGUMENTS", found.arguments], ["OPTIONS", own], ["GLOBAL OPTIONS", global]] as const
  ) {
    if (entries.length === 0) continue
    // As wide as the longest name that fits; a longer one gets a line of its own.
    const fitting = entries.map((e) => e.name.length + 2).filter((length) => length <= nameColumn)
    const column = Math.max(0, ...fitting)
    out.push("", bold(title))
    entries.forEach((e) => out.push(...row(e.name, e.text, column)))
  }
  if (found.commands.length > 0) {
    out.push("", `Run '${page.name} <command> --help' for a command's arguments and options.`)
  }
  return out.join("\n")
}

/**
 * The help page `args` (the command line after the executable) asks for, if it asks for one: `--help`/`-h` anywhere
 * @effect/cli's own parser takes it, or nothing at all (but a `--log-level`). The parser decides which command's help
 * it is, exactly as when @effect/cli prints it, so only the layout is ours.
 */
export const pageFor = <A>(
  command: { readonly descriptor: Descriptor.Command<A> },
  args: ReadonlyArray<string>,
  about: Pick<Page, "name" | "version" | "environment">,
  nested: Readonly<Record<string, { readonly descriptor: Descriptor.Command<unknown> }>> = {}
) =>
  Effect.gen(function*() {
    const config = Option.getOrElse(yield* Effect.serviceOption(CliConfig.CliConfig), () => CliConfig.defaultConfig)
    // @effect/cli takes `--log-level` out and parses the rest again; so does this.
    const rest = args.filter((arg, i) =>
      arg !== "--log-level" && !arg.startsWith("--log-level=") && args[i - 1] !== "--log-level"
    )
    const asked = rest.length === 0 ? ["--help"] : rest
    const directive = yield* Effect.option(Descriptor.parse(command.descriptor, [about.name, ...asked], config))
    if (Option.isNone(directive) || !CommandDirective.isBuiltIn(directive.value)) return Option.none()
    const option = directive.value.option
    if (!BuiltInOptions.isShowHelp(option)) return Option.none()
    // A command with commands of its own (`suppress`): its name leads its commands' usage, and they are listed.
    const group = Option.fromNullable(asked[0] === undefined ? undefined : nested[asked[0]])
    const subcommands = Descriptor.getSubcommands(Option.match(group, {
      onNone: () => command.descriptor,
      onSome: (inner) => inner.descriptor
    }))
    const parent = Option.isSome(group) ? `${asked[0]} ` : ""
    const describe = (name: string) =>
      Option.match(HashMap.get(subcommands, name), {
        onNone: () => "",
        onSome: (sub) => sections(Descriptor.getHelp(sub, config), {}).description.join(" ")
      })
    const global = sections(Descriptor.getHelp(Descriptor.make(about.name), config), {}).options
    return Option.some<Page>({
      ...about,
      global: new Set(global.map((e) => e.name)),
      usage: Usage.enumerate(option.usage, config).map(spanText).map((line) =>
        line.startsWith(parent) || `${line} ` === parent ? line : `${parent}${line}`
      ),
      doc: option.helpDoc,
      describe
    })
  })
