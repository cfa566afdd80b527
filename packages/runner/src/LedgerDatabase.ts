/**
 * Where the ledger lives: `--db`, else `COMMENT_DM_DB`, else `comment-dm.sqlite` in the working directory. A file
 * path is a SQLite ledger; a `postgres://` URL is a PostgreSQL ledger that several runners, on one machine or many,
 * can share.
 */
import { SharedPacer, SqlLedger } from "@comment-dm/core"
import type { CampaignSpec, Ledger } from "@comment-dm/core"
import * as PgLedger from "@comment-dm/core/pg"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import type { SqlClient } from "@effect/sql"
import { Config, Data, Effect, Layer, Option, Redacted } from "effect"
import * as Fs from "node:fs"

export const defaultPath = "comment-dm.sqlite"

/** The setting a location came from, as messages name it. */
export type Setting = "--db" | "COMMENT_DM_DB"

export class DatabaseUrlError extends Data.TaggedError("DatabaseUrlError")<{
  readonly setting: Setting
  /** The value as it may be shown: any password masked. */
  readonly shown: string
  readonly why: string
}> {
  override get message() {
    return `${this.setting} ${JSON.stringify(this.shown)}: ${this.why}`
  }
}

const isPostgres = (location: string) => /^postgres(ql)?:\/\//i.test(location)

const fileAdvice = "name the ledger file (e.g. ./comment-dm.sqlite) or a postgres:// URL"

/**
 * Why a value cannot be the ledger, if it cannot. A ledger that forgets sends to everyone again on the next run, so
 * no value a user can type may give one: empty and blank values and every spelling SQLite reads as "in memory" are
 * refused, and so are SQLite's `file:` URIs, which can say the same in many ways.
 */
const problem = (setting: Setting, value: string): string | undefined => {
  if (value.trim() === "") {
    return `${value === "" ? "an empty" : "a blank"} value would give a ledger in memory, which forgets who was ` +
      `sent; ${fileAdvice}` +
      (setting === "COMMENT_DM_DB" ? ", or unset COMMENT_DM_DB to use ./comment-dm.sqlite" : "")
  }
  if (value !== value.trim()) return "whitespace at the start or end; write the path or URL without it"
  if (isPostgres(value)) return undefined
  if (/:memory:|mode=memory/i.test(value)) {
    return `an in-memory SQLite database forgets who was sent when the process ends; ${fileAdvice}`
  }
  if (/^file:/i.test(value)) {
    return "SQLite URI filenames (file:...) are not accepted; write the plain path of the ledger file"
  }
  // A scheme of two letters or more (C:/ is a drive), or a misspelt PostgreSQL one without slashes.
  if (/^[a-z][a-z0-9+.-]+:\//i.test(value) || /^(pg|postgre)\w*:/i.test(value)) {
    return "expected a file path (SQLite) or a URL of the form postgres://user:password@host:port/database"
  }
  const info = statOf(value)
  if (info?.isDirectory() === true) return `a directory, not a file; ${fileAdvice}`
  if (info !== undefined && !info.isFile()) return `not a regular file (a device, pipe or socket); ${fileAdvice}`
  return undefined
}

/** The file's status, or undefined when it cannot be read (SQLite then says why it cannot open it). */
const statOf = (path: string): Fs.Stats | undefined => {
  try {
    return Fs.statSync(path, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
}

/**
 * The value with any password masked, the whitespace around it kept (the URL parser would drop it), and cut to a
 * length that fits a message.
 */
const shown = (value: string): string => {
  const trimmed = value.trim()
  const start = value.length - value.trimStart().length
  const text = `${value.slice(0, start)}${PgLedger.redact(trimmed)}${value.slice(start + trimmed.length)}`
  return text.length > 200 ? `${text.slice(0, 199)}…` : text
}

const check = (setting: Setting, value: string): Effect.Effect<string, DatabaseUrlError> => {
  const why = problem(setting, value)
  return why === undefined
    ? Effect.succeed(value)
    : Effect.fail(new DatabaseUrlError({ setting, shown: shown(value), why }))
}

/** A location as someone gave it, and where: the flag, or the environment when there is no flag. */
export interface Given {
  readonly setting: Setting
  readonly value: string
}

/** `COMMENT_DM_DB`, the fallback of `--db`. */
export const fromEnvironment: Config.Config<Given> = Config.map(
  Config.string("COMMENT_DM_DB"),
  (value) => ({ setting: "COMMENT_DM_DB", value })
)

/** The ledger location in force, checked: the one given, else the default. */
export const resolve = (given: Option.Option<Given>): Effect.Effect<string, DatabaseUrlError> =>
  Option.match(given, {
    onNone: () => Effect.succeed(defaultPath),
    onSome: ({ setting, value }) => check(setting, value)
  })

export interface LayerOptions {
  /** Open an existing SQLite ledger only; when there is none, use an empty one in memory (dry runs write nothing). */
  readonly readOnlyIntent?: boolean
}

/**
 * The ledger at a location {@link resolve} accepted, and the SQL client under it (the shared pacer keeps the
 * profile's budget in the same database).
 */
export const layer = (
  location: string,
  options: LayerOptions = {}
): Layer.Layer<Ledger.Ledger | SqlClient.SqlClient, Ledger.LedgerError> => {
  if (isPostgres(location)) {
    return Layer.provideMerge(SqlLedger.layer, PgLedger.layerClient({ url: Redacted.make(location) }))
  }
  // Not a setting anyone typed: a read-only command on a ledger that does not exist yet has nothing to read.
  const client = options.readOnlyIntent === true && !Fs.existsSync(location)
    ? SqliteLedger.layerClientMemory()
    : SqliteLedger.layerClient({ filename: location })
  return Layer.provideMerge(SqlLedger.layer, client)
}

/**
 * The profile's pace and daily limit, kept in the ledger's database so that every runner sending from the profile
 * shares them: two runners at 200 an hour send 200 an hour together, not 400. Every DM the platform accepts is
 * counted for the profile and the UTC day (a library caller may set `SharedPacer`'s `dailyLimit` on that count).
 */
export const sharedPace = (spec: CampaignSpec.CampaignSpec) =>
  SharedPacer.layer({ profile: spec.user, platform: spec.platform, count: spec.pace.perHour })
