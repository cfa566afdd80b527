/**
 * Loading a campaign file: read it, parse it as JSON or YAML, decode it into a checked campaign. Every failure is one
 * {@link CampaignFileError} whose message starts with the file's path.
 */
import { CampaignSpec } from "@comment-dm/core"
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Context, Data, Effect } from "effect"
import * as YAML from "yaml"

/** Largest campaign file accepted. A campaign is a few hundred bytes; anything near this is the wrong file. */
export const maxBytes = 1024 * 1024

/** What went wrong, for programs that react to it; `message` says it for people. */
export type Reason = "NotFound" | "Unreadable" | "TooLarge" | "Syntax" | "Invalid"

export class CampaignFileError extends Data.TaggedError("CampaignFileError")<{
  readonly path: string
  readonly reason: Reason
  readonly detail: string
  /** The campaign's problems when `reason` is "Invalid"; empty otherwise. */
  readonly issues: ReadonlyArray<CampaignSpec.Issue>
}> {
  override get message(): string {
    return `${this.path}: ${this.detail}`
  }
}

const fail = (path: string, reason: Reason, detail: string) =>
  Effect.fail(new CampaignFileError({ path, reason, detail, issues: [] }))

const withSeparators = (n: number | bigint): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",")

const unreadable = (path: string) => (error: PlatformError) => {
  if (error._tag === "SystemError" && error.reason === "NotFound") {
    return fail(path, "NotFound", "no such file; check the path to the campaign file")
  }
  if (error._tag === "SystemError" && error.reason === "PermissionDenied") {
    return fail(path, "Unreadable", "permission denied; the campaign file must be readable")
  }
  return fail(path, "Unreadable", `cannot read the file: ${error.message}`)
}

const tooLarge = (path: string, bytes: number | bigint) =>
  fail(path, "TooLarge", `campaign file is ${withSeparators(bytes)} bytes; the limit is 1 MiB`)

const readText = (path: string): Effect.Effect<string, CampaignFileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* Effect.catchAll(fs.stat(path), unreadable(path))
    if (info.type === "Directory") return yield* fail(path, "Unreadable", "is a directory, not a campaign file")
    if (info.size > BigInt(maxBytes)) return yield* tooLarge(path, info.size)
    const bytes = yield* Effect.catchAll(fs.readFile(path), unreadable(path))
    // The file may have grown between the two calls.
    if (bytes.byteLength > maxBytes) return yield* tooLarge(path, bytes.byteLength)
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes)
    } catch {
      return yield* fail(path, "Unreadable", "is not UTF-8 text; save the campaign file as UTF-8")
    }
  })

/** Characters of the source line shown before and after the caret: a one-line file may be a megabyte long. */
const excerptBefore = 60
const excerptAfter = 20

/** The source line at `line` (1-based) with a caret under `column`, cut to the part around the caret. */
const pointAt = (text: string, line: number, column: number): string => {
  const source = (text.split(/\r?\n/, line)[line - 1] ?? "").replace(/\t/g, " ")
  const start = Math.max(0, column - 1 - excerptBefore)
  const end = Math.min(source.length, column - 1 + excerptAfter)
  const excerpt = `${start > 0 ? "…" : ""}${source.slice(start, end)}${end < source.length ? "…" : ""}`
  const caret = column - 1 - start + (start > 0 ? 1 : 0)
  return `\n  ${excerpt}\n  ${" ".repeat(Math.max(0, caret))}^`
}

const shownErrors = 5

/** The parsers recurse per level: a file nested deeper than the stack allows gets a message that says so. */
const syntaxMessage = (message: string): string =>
  /Maximum call stack size exceeded/.test(message)
    ? "the file nests too deeply (a campaign has a few levels of keys and lists)"
    : message

const lineAndColumn = (text: string, offset: number): { line: number; column: number } => {
  const before = text.slice(0, offset).split("\n")
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 }
}

/**
 * YAML parse, strict: duplicate keys and several documents are errors, and integers are read exactly (as bigint,
 * turned back into numbers below when that is lossless) so that a long unquoted post id is not silently rounded.
 */
const parseYaml = (path: string, text: string): Effect.Effect<unknown, CampaignFileError> => {
  const lineCounter = new YAML.LineCounter()
  const document = YAML.parseDocument(text, { uniqueKeys: true, intAsBigInt: true, prettyErrors: false, lineCounter })
  if (document.errors.length > 0) {
    // The first few say what is wrong; a broken file can have thousands.
    const details = document.errors.slice(0, shownErrors).map((error) => {
      const { col, line } = lineCounter.linePos(error.pos[0])
      const what = error.code === "DUPLICATE_KEY" ?
        "duplicate key: each key may appear once" :
        error.code === "MULTIPLE_DOCS" ?
        `a second document starts here; a campaign file holds one campaign, so remove the "---" line` :
        syntaxMessage(error.message)
      return `line ${line}, column ${col}: ${what}${pointAt(text, line, col)}`
    })
    const more = document.errors.length - shownErrors
    return fail(path, "Syntax", [...details, ...(more > 0 ? [`… and ${more} more syntax errors`] : [])].join("\n"))
  }
  try {
    return Effect.succeed(exactNumbers(document.toJS()))
  } catch (error) {
    // toJS refuses alias bombs (too many alias expansions).
    return fail(path, "Syntax", syntaxMessage(error instanceof Error ? error.message : String(error)))
  }
}

/** Strict JSON first (YAML would also take comments and trailing commas), then the YAML reading for its checks. */
const parseJson = (path: string, text: string): Effect.Effect<unknown, CampaignFileError> => {
  try {
    JSON.parse(text)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    // V8 quotes the whole input in some messages; the line and column say more.
    const reason = syntaxMessage(message).replace(/, ".*" is not valid JSON$/s, "").replace(
      / in JSON at position \d+.*$/s,
      ""
    )
    const position = /at position (\d+)/.exec(message)
    if (position === null) return fail(path, "Syntax", `invalid JSON: ${reason}`)
    const { column, line } = lineAndColumn(text, Number(position[1]))
    return fail(path, "Syntax", `line ${line}, column ${column}: invalid JSON: ${reason}${pointAt(text, line, column)}`)
  }
  return parseYaml(path, text)
}

const exactNumbers = (value: unknown): unknown => {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value
  }
  if (Array.isArray(value)) return value.map(exactNumbers)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, exactNumbers(item)]))
  }
  return value
}

const extension = (path: string): string => /\.([^./\\]+)$/.exec(path)?.[1]?.toLowerCase() ?? ""

/**
 * Reads and checks a campaign file: `.json` as JSON, anything else (`.yaml`, `.yml`, no extension) as YAML, which
 * also reads JSON. Fails on a missing or unreadable file, a file over 1 MiB, a syntax error (with line and column),
 * or a campaign that does not decode (with every problem and the path of its key).
 */
export const load = (
  path: string
): Effect.Effect<CampaignSpec.CampaignSpec, CampaignFileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const empty = fail(
      path,
      "Invalid",
      "no campaign in the file; it needs at least name, platform, user, posts and message"
    )
    const text = yield* readText(path)
    if (text.trim() === "") return yield* empty
    const value = yield* extension(path) === "json" ? parseJson(path, text) : parseYaml(path, text)
    if (value === null || value === undefined) return yield* empty
    return yield* Effect.mapError(
      CampaignSpec.decode(value),
      (error) => new CampaignFileError({ path, reason: "Invalid", detail: error.message, issues: error.issues })
    )
  }).pipe(Effect.withSpan("CampaignFile.load", { attributes: { path } }))

/** The campaign named on the command line, loaded by {@link load}: what a subcommand works on. */
export class Campaign extends Context.Tag("@comment-dm/runner/CampaignFile/Campaign")<
  Campaign,
  CampaignSpec.CampaignSpec
>() {}
