/**
 * `comment-dm suppress add|remove|list|import|export`: the profile's suppression list by hand. Every campaign of the
 * profile checks the list inside each claim, so a person added here is never messaged again by any of them; runs add
 * the people who opt out themselves (an opt-out word as a whole comment or DM).
 *
 * A person is named by user id, or by `@username` (anything without the `@` is an id). The profile is `--profile`,
 * or the one profile the ledger knows.
 */
import type { Ledger } from "@comment-dm/core"
import { Suppression } from "@comment-dm/core"
import { Args, Command, Options } from "@effect/cli"
import type { SqlClient } from "@effect/sql"
import { Data, Effect, Either, Option } from "effect"
import * as Fs from "node:fs"
import * as LedgerDatabase from "./LedgerDatabase.js"
import { csvField } from "./Status.js"
import { visible } from "./Visible.js"

/** A suppress command given something it cannot use: nothing was changed. */
export class SuppressUsageError extends Data.TaggedError("SuppressUsageError")<{ readonly detail: string }> {
  override get message() {
    return this.detail
  }
}

const db = LedgerDatabase.option
const profile = Options.text("profile").pipe(
  Options.withDescription(
    "the Upload-Post profile whose list it is (a campaign's `user`); may be left out when the ledger knows one profile"
  ),
  Options.optional
)
const platform = Options.text("platform").pipe(
  Options.withDescription("the platform of the ids (default: the profile's, as its campaigns name it, else instagram)"),
  Options.optional
)
const json = Options.boolean("json").pipe(
  Options.withDescription("print one JSON object as the last line of stdout")
)
const people = Args.text({ name: "user-id|@username" }).pipe(
  Args.withDescription("a user id, or a username written with a leading @"),
  Args.atLeast(1)
)

interface Common {
  readonly db: Option.Option<LedgerDatabase.Given>
  readonly profile: Option.Option<string>
  readonly platform: Option.Option<string>
  readonly json: boolean
}

/** A person as written on the command line or in a file: `@name` is a username, anything else a user id. */
export const personOf = (text: string): Suppression.Person => {
  const trimmed = text.trim()
  return trimmed.startsWith("@") ? { username: trimmed } : { userId: trimmed }
}

/** The problem with a person as written, if any: nothing left, or characters no id or username holds. */
const problemWith = (text: string): string | undefined => {
  const person = personOf(text)
  if (
    person.userId?.trim() === "" ||
    (person.userId === undefined && Suppression.normaliseUsername(person.username) === undefined)
  ) {
    return `${JSON.stringify(text)} names nobody: write a user id or @username`
  }
  if (/[\p{Cc}\p{Cf}\s]/u.test(text.trim())) {
    return `${JSON.stringify(text)} holds spaces or control characters, which no user id or username has`
  }
  return undefined
}

/** The list the command works on: `--profile`, else the ledger's only profile; `--platform`, else the profile's. */
const scopeOf = (
  common: Common
): Effect.Effect<Suppression.Scope, SuppressUsageError | Ledger.LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const known = yield* Suppression.scopes
    const given = Option.map(common.profile, (name) => name.trim())
    if (Option.isSome(given) && given.value === "") {
      return yield* new SuppressUsageError({ detail: "--profile is empty: name the Upload-Post profile" })
    }
    const profiles = [...new Set(known.map((scope) => scope.profile))]
    const name = Option.getOrUndefined(given) ?? (profiles.length === 1 ? profiles[0] : undefined)
    if (name === undefined) {
      return yield* new SuppressUsageError({
        detail: profiles.length === 0
          ? "the ledger knows no profile yet: name it with --profile (a campaign's `user`)"
          : `the ledger holds several profiles (${visible(profiles.join(", "))}): name one with --profile`
      })
    }
    const platforms = [...new Set(known.filter((scope) => scope.profile === name).map((scope) => scope.platform))]
    const chosen = Option.getOrUndefined(common.platform)?.trim()
    if (chosen === undefined && platforms.length > 1) {
      return yield* new SuppressUsageError({
        detail: `profile ${visible(name)} sends on several platforms (${
          visible(platforms.join(", "))
        }): name one with --platform`
      })
    }
    return { profile: name, platform: chosen ?? platforms[0] ?? "instagram" }
  })

const say = (text: string) => Effect.sync(() => process.stdout.write(`${text}\n`))

/** The summary line: text on a terminal or a pipe, one JSON object with `--json`. */
const report = (common: Common, scope: Suppression.Scope, fields: Record<string, unknown>, text: string) =>
  say(common.json ? visible(JSON.stringify({ profile: scope.profile, platform: scope.platform, ...fields })) : text)

/** Runs `work` on the ledger the options name, for the list they name. */
const onList = <A, E>(
  common: Common,
  work: (scope: Suppression.Scope) => Effect.Effect<A, E, SqlClient.SqlClient>,
  readOnly = false
) =>
  Effect.gen(function*() {
    const location = yield* LedgerDatabase.resolve(common.db)
    return yield* Effect.flatMap(scopeOf(common), work).pipe(
      Effect.provide(LedgerDatabase.layer(location, { readOnlyIntent: readOnly }))
    )
  })

const checked = (texts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const problems = texts.flatMap((text) => problemWith(text) ?? [])
    if (problems.length > 0) return yield* new SuppressUsageError({ detail: problems.join("\n") })
    return texts.map(personOf)
  })

const describe = (entry: Suppression.Person) =>
  [entry.userId, entry.username === undefined ? undefined : `@${entry.username}`].filter((part) => part !== undefined)
    .join(" ")

const addCommand = Command.make("add", { people, db, profile, platform, json }, (args) =>
  Effect.gen(function*() {
    const persons = yield* checked(args.people)
    yield* onList(args, (scope) =>
      Effect.gen(function*() {
        const added = yield* Suppression.add(scope, persons, "manual")
        yield* report(
          args,
          scope,
          { added, already: persons.length - added },
          visible(
            `${added} added to the suppression list of ${scope.profile} (${scope.platform}); ` +
              `${persons.length - added} already on it`
          )
        )
      }))
  })).pipe(Command.withDescription(
    "Put people on the profile's suppression list: no campaign of the profile messages them again, in any step. " +
      "Name each by user id or @username."
  ))

const removeCommand = Command.make("remove", { people, db, profile, platform, json }, (args) =>
  Effect.gen(function*() {
    const persons = yield* checked(args.people)
    yield* onList(args, (scope) =>
      Effect.gen(function*() {
        let removed = 0
        for (const person of persons) removed += yield* Suppression.remove(scope, person)
        yield* report(
          args,
          scope,
          { removed },
          visible(`${removed} removed from the suppression list of ${scope.profile} (${scope.platform})`)
        )
      }))
  })).pipe(Command.withDescription(
    "Take people off the profile's suppression list (by user id, or @username: every entry with it). People a " +
      "campaign settled as suppressed stay so; a person who comments again is found as a new commenter by new campaigns."
  ))

const listCommand = Command.make(
  "list",
  { db, profile, platform, json },
  (args) =>
    onList(args, (scope) =>
      Effect.gen(function*() {
        const entries = yield* Suppression.list(scope)
        if (args.json) {
          return yield* report(args, scope, { count: entries.length, suppressions: entries.map(jsonOf) }, "")
        }
        yield* say(visible(`suppression list of ${scope.profile} (${scope.platform}): ${entries.length}`))
        for (const entry of entries) {
          yield* say(visible(`  ${describe(entry)}  ${entry.source}  ${entry.createdAt.toISOString()}`))
        }
      }), true)
).pipe(Command.withDescription(
  "Show the profile's suppression list: each person's id and/or username, where they came from (dm, comment, " +
    "manual, import) and when. Reads the ledger only."
))

/** The list as one JSON object: the profile, the platform, how many, and each person. */
const listed = (common: Common, scope: Suppression.Scope, entries: ReadonlyArray<Suppression.Entry>) =>
  report(common, scope, { count: entries.length, suppressions: entries.map(jsonOf) }, "")

const jsonOf = (entry: Suppression.Entry) => ({
  user_id: entry.userId ?? null,
  username: entry.username ?? null,
  source: entry.source,
  created_at: entry.createdAt.toISOString()
})

export const csvHeader = "user_id,username,source,created_at"

const exportCommand = Command.make(
  "export",
  { db, profile, platform, json },
  (args) =>
    onList(args, (scope) =>
      Effect.gen(function*() {
        const entries = yield* Suppression.list(scope)
        if (args.json) return yield* listed(args, scope, entries)
        const rows = entries.map((entry) =>
          [entry.userId ?? "", entry.username ?? "", entry.source, entry.createdAt.toISOString()].map(csvField).join(
            ","
          )
        )
        yield* Effect.sync(() => process.stdout.write([csvHeader, ...rows].map((row) => `${row}\n`).join("")))
      }), true)
).pipe(Command.withDescription(
  `Write the profile's suppression list as CSV to stdout (${csvHeader}), for another ledger's ` +
    "`suppress import` or a spreadsheet; with --json, as `list --json` writes it."
))

/**
 * A minimal RFC 4180 reader: quoted fields may hold commas, quotes ("") and line breaks. A quote left open (a hand
 * edit gone wrong) is the line it opened on: read on, it would swallow the rest of the file into one field.
 */
export const parseCsv = (text: string): Either.Either<Array<Array<string>>, number> => {
  const rows: Array<Array<string>> = []
  let row: Array<string> = []
  let field = ""
  let quoted = false
  let line = 1
  let quoteLine = 1
  const body = text.replace(/^\uFEFF/, "")
  for (let i = 0; i < body.length; i++) {
    const char = body[i]
    if (quoted) {
      if (char === "\"" && body[i + 1] === "\"") {
        field += "\""
        i++
      } else if (char === "\"") quoted = false
      else field += char
    } else if (char === "\"") {
      quoted = true
      quoteLine = line
    } else if (char === ",") {
      row.push(field)
      field = ""
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && body[i + 1] === "\n") i++
      line++
      rows.push([...row, field])
      row = []
      field = ""
    } else field += char
  }
  if (quoted) return Either.left(quoteLine)
  if (field !== "" || row.length > 0) rows.push([...row, field])
  return Either.right(rows.filter((cells) => cells.some((cell) => cell.trim() !== "")))
}

/** A cell as written by an export: the leading ' that kept a spreadsheet from running it goes. */
const cellValue = (cell: string): string => cell.replace(/^'(?=[=+\-@\t\r])/, "").trim()

/** The people of an imported CSV (with a header naming user_id and/or username), or why it cannot be used. */
export const peopleOfCsv = (text: string): Effect.Effect<Array<Suppression.Person>, SuppressUsageError> =>
  Effect.gen(function*() {
    const parsed = parseCsv(text)
    if (Either.isLeft(parsed)) {
      return yield* new SuppressUsageError({
        detail: `nothing imported: the quote opened on line ${parsed.left} is never closed`
      })
    }
    const [header, ...rows] = parsed.right
    const names = (header ?? []).map((name) => name.trim().toLowerCase())
    const idAt = names.indexOf("user_id")
    const nameAt = names.indexOf("username")
    if (idAt < 0 && nameAt < 0) {
      return yield* new SuppressUsageError({
        detail: `the file's first line must name the columns, with user_id and/or username (${csvHeader})`
      })
    }
    const persons: Array<Suppression.Person> = []
    const problems: Array<string> = []
    rows.forEach((cells, index) => {
      const userId = idAt < 0 ? "" : cellValue(cells[idAt] ?? "")
      const username = nameAt < 0 ? "" : cellValue(cells[nameAt] ?? "")
      const line = index + 2
      if (userId === "" && username === "") problems.push(`line ${line}: neither a user_id nor a username`)
      else if (/[\p{Cc}\p{Cf}\s]/u.test(userId + username)) {
        problems.push(`line ${line}: spaces or control characters, which no user id or username has`)
      } else {persons.push({
          userId: userId === "" ? undefined : userId,
          username: username === "" ? undefined : username
        })}
    })
    if (problems.length > 0) {
      const shown = problems.slice(0, 10).join("\n")
      return yield* new SuppressUsageError({
        detail: `nothing imported; ${problems.length} rows cannot be used:\n${shown}` +
          (problems.length > 10 ? `\n(and ${problems.length - 10} more)` : "")
      })
    }
    return persons
  })

const importCommand = Command.make(
  "import",
  {
    file: Args.text({ name: "file" }).pipe(
      Args.withDescription(`a CSV file with a header line (${csvHeader}; source and created_at are ignored), or -`)
    ),
    db,
    profile,
    platform,
    json
  },
  (args) =>
    Effect.gen(function*() {
      const text = yield* Effect.try({
        try: () => Fs.readFileSync(args.file === "-" ? 0 : args.file, "utf8"),
        catch: (error) =>
          // One line, whatever the path holds: the command shows this error's lines as they are.
          new SuppressUsageError({
            detail: visible(`cannot read ${args.file}: ${error instanceof Error ? error.message : String(error)}`)
          })
      })
      const persons = yield* peopleOfCsv(text)
      yield* onList(args, (scope) =>
        Effect.gen(function*() {
          const added = yield* Suppression.add(scope, persons, "import")
          yield* report(
            args,
            scope,
            { read: persons.length, added },
            visible(
              `${persons.length} read, ${added} added to the suppression list of ${scope.profile} ` +
                `(${scope.platform})`
            )
          )
        }))
    })
).pipe(Command.withDescription(
  "Add the people of a CSV file (such as another ledger's `suppress export`) to the profile's suppression list; a " +
    "file with a row that names nobody is refused whole."
))

export const command = Command.make("suppress").pipe(
  Command.withDescription(
    "The profile's suppression list: people who opted out (an opt-out word as a whole comment or DM) or were added " +
      "here. No campaign of the profile messages anyone on it, in any step."
  ),
  Command.withSubcommands([addCommand, removeCommand, listCommand, importCommand, exportCommand])
)
