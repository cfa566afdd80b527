/**
 * Where the ledger lives: `--db`, else `COMMENT_DM_DB`, else one ledger per user in the user's data directory (so that
 * campaigns started from different folders share the profile's suppression list and private-reply keys); a
 * `comment-dm.sqlite` already in the working directory (the default of earlier versions) is still used, with a notice.
 * A file path is a SQLite ledger; a `postgres://` URL is a PostgreSQL ledger that several runners, on one machine or
 * many, can share.
 */
import { SharedPacer, SqlLedger } from "@comment-dm/core"
import type { CampaignSpec, Ledger } from "@comment-dm/core"
import * as PgLedger from "@comment-dm/core/pg"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import { Options } from "@effect/cli"
import type { SqlClient } from "@effect/sql"
import { Config, Data, Effect, Layer, Option, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** The ledger file earlier versions kept in the working directory, still used where it exists. */
export const legacyPath = "comment-dm.sqlite"

/** The ledger's file name in the user's data directory. */
export const userFileName = "ledger.sqlite"

/** Where the default ledger lives, as the help and README say it. */
export const defaultDescription = "$XDG_DATA_HOME/comment-dm/ledger.sqlite, else ~/.local/share/comment-dm/ on " +
  "Linux, ~/Library/Application Support/comment-dm/ on macOS, %LOCALAPPDATA%\\comment-dm\\ on Windows; a " +
  `./${legacyPath} already in the working directory is still used`

/** What the user's data directory comes from: the environment, the platform and the home directory. */
export interface Home {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly platform: NodeJS.Platform
  readonly homedir: string
}

/** The environment's value of a directory variable, when it is an absolute path (XDG says to ignore relative ones). */
const absolute = (value: string | undefined, path: Path.PlatformPath): string | undefined =>
  value !== undefined && value.trim() !== "" && path.isAbsolute(value) ? value : undefined

/**
 * The per-user ledger file: `$XDG_DATA_HOME/comment-dm/ledger.sqlite` when set, else the platform's place for an
 * application's data. Undefined when there is no home directory to put it in.
 */
export const userLedgerPath = ({ env, homedir, platform }: Home): string | undefined => {
  const path = platform === "win32" ? Path.win32 : Path.posix
  const xdg = absolute(env.XDG_DATA_HOME, path)
  if (xdg !== undefined) return path.join(xdg, "comment-dm", userFileName)
  if (platform === "win32") {
    const local = absolute(env.LOCALAPPDATA, path)
    if (local !== undefined) return path.join(local, "comment-dm", userFileName)
  }
  if (homedir.trim() === "" || !path.isAbsolute(homedir)) return undefined
  if (platform === "darwin") return path.join(homedir, "Library", "Application Support", "comment-dm", userFileName)
  if (platform === "win32") return path.join(homedir, "AppData", "Local", "comment-dm", userFileName)
  return path.join(homedir, ".local", "share", "comment-dm", userFileName)
}

/** This process's {@link Home}. */
const currentHome = (): Home => {
  let homedir = ""
  try {
    homedir = Os.homedir()
  } catch {
    // No home directory (a system user without one): the default cannot be used, and the error says what to do.
  }
  return { env: process.env, platform: process.platform, homedir }
}

/** No ledger was named and the user's data directory cannot hold one. */
export class LedgerLocationError extends Data.TaggedError("LedgerLocationError")<{ readonly why: string }> {
  override get message() {
    return `the default ledger cannot be used: ${this.why}; name one with --db or COMMENT_DM_DB`
  }
}

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

export const isPostgres = (location: string) => /^postgres(ql)?:\/\//i.test(location)

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
      (setting === "COMMENT_DM_DB" ? ", or unset COMMENT_DM_DB to use the default ledger" : "")
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

/** `--db`, with `COMMENT_DM_DB` as its fallback: the one option every command that opens a ledger takes. */
export const option = Options.text("db").pipe(
  Options.withDescription(
    `the ledger: a SQLite file path or a postgres:// URL shared by several runners ` +
      `(default: $COMMENT_DM_DB, else one ledger per user: ${defaultDescription})`
  ),
  Options.map((value): Given => ({ setting: "--db", value })),
  Options.withFallbackConfig(fromEnvironment),
  Options.optional
)

export interface LayerOptions {
  /** Open an existing SQLite ledger only; when there is none, use an empty one in memory (dry runs write nothing). */
  readonly readOnlyIntent?: boolean
}

export interface ResolveOptions extends LayerOptions {
  /** Where notices go (the working directory's ledger in use); stderr by default, so that `--json` keeps stdout. */
  readonly notice?: (text: string) => Effect.Effect<void>
  /** The user's data directory's inputs; this process's by default. */
  readonly home?: Home
  /** The directory a relative legacy ledger is looked for in; the working directory by default. */
  readonly cwd?: string
}

const stderrNotice = (text: string) => Effect.sync(() => process.stderr.write(`comment-dm: ${text}\n`))

/**
 * The default ledger: `./comment-dm.sqlite` where one exists (with a notice saying where the ledger now lives and how
 * to move it there), else the user's ledger, its directory created (private to the user) unless the command only
 * reads.
 */
const defaultLocation = (options: ResolveOptions): Effect.Effect<string, LedgerLocationError> =>
  Effect.gen(function*() {
    const user = userLedgerPath(options.home ?? currentHome())
    const legacy = Path.join(options.cwd ?? process.cwd(), legacyPath)
    if (statOf(legacy)?.isFile() === true) {
      const notice = options.notice ?? stderrNotice
      yield* notice(
        `using the ledger ./${legacyPath} in the working directory (the default of earlier versions); ` +
          (user === undefined
            ? "name it with --db to keep using it"
            : `the default is now one ledger per user, ${user}, shared by campaigns started from any folder: move ` +
              `it there (mkdir -p ${JSON.stringify(Path.dirname(user))} && mv ${legacyPath} ${JSON.stringify(user)}` +
              `, with its -wal and -shm files if any, while no runner uses it) or keep it with --db ${legacyPath}`)
      )
      return legacy
    }
    if (user === undefined) return yield* new LedgerLocationError({ why: "there is no home directory" })
    if (options.readOnlyIntent === true) return user
    return yield* Effect.try({
      try: () => {
        Fs.mkdirSync(Path.dirname(user), { recursive: true, mode: 0o700 })
        return user
      },
      catch: (error) =>
        new LedgerLocationError({
          why: `could not create ${Path.dirname(user)} (${error instanceof Error ? error.message : String(error)})`
        })
    })
  })

/** The ledger location in force, checked: the one given, else the default. */
export const resolve = (
  given: Option.Option<Given>,
  options: ResolveOptions = {}
): Effect.Effect<string, DatabaseUrlError | LedgerLocationError> =>
  Option.match(given, {
    onNone: () => defaultLocation(options),
    onSome: ({ setting, value }) => check(setting, value)
  })

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
