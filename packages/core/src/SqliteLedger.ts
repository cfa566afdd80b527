/**
 * The embedded ledger: a SQLite file next to the campaign, shared safely by several processes.
 *
 * A ledger file it creates is private to its owner (0600): it names the people who commented and what they were
 * sent. An existing file keeps the mode its owner gave it.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as internalMigrations from "./internal/ledgerMigrations.js"
import { redactUrl, scrubbedFailure, urlSecrets } from "./internal/pgUrl.js"
import type { Ledger } from "./Ledger.js"
import { LedgerError } from "./Ledger.js"
import * as SqlLedger from "./SqlLedger.js"

export interface Options extends SqlLedger.Options {
  /** The ledger file, created when absent. An in-memory name (":memory:") is refused: see {@link layerMemory}. */
  readonly filename: string
  /** How long a statement waits for another process's write to finish before failing. Default 5 seconds. */
  readonly busyTimeout?: Duration.DurationInput | undefined
}

/** SQLite's names for a database that lives in memory (and an empty name, a temporary one). */
const isInMemory = (filename: string): boolean => filename.trim() === "" || /:memory:|mode=memory/i.test(filename)

/**
 * An in-memory ledger forgets who was sent when its layer is released: provided per run, every run starts empty and
 * sends everyone again. So a ledger *file* that names memory is refused; forgetting must be asked for by name.
 */
const memoryRefused = (filename: string) =>
  new LedgerError({
    operation: `open the ledger at ${JSON.stringify(filename)}`,
    cause: new Error(
      "that names no file but a database in memory (or a temporary one), which forgets who was sent when it is " +
        "closed, so a campaign run again would message everyone again; give the path of a ledger file, or use " +
        "SqliteLedger.layerMemory where forgetting is wanted (tests, rehearsals)"
    )
  })

/**
 * Creates the file with mode 0600 when absent, whatever the umask; SQLite gives the -wal and -shm files it creates
 * the main file's mode. An existing file is left as it is: it may be the owner's choice, or not a ledger at all.
 */
const createPrivately = (filename: string): void => {
  try {
    Fs.closeSync(Fs.openSync(filename, Fs.constants.O_CREAT | Fs.constants.O_EXCL | Fs.constants.O_RDWR, 0o600))
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error
  }
}

/**
 * What the file system says about a ledger that could not be opened, where SQLite only says "unable to open database
 * file": SQLite writes beside the ledger (its -wal and -shm files) even to read it.
 */
const fileSystemReason = (filename: string): string | undefined => {
  const directory = Path.dirname(Path.resolve(filename))
  const checks: ReadonlyArray<readonly [string, number]> = [
    [directory, Fs.constants.W_OK],
    [filename, Fs.constants.R_OK | Fs.constants.W_OK]
  ]
  for (const [path, mode] of checks) {
    try {
      Fs.accessSync(path, mode)
    } catch (error) {
      const code = error instanceof Error && "code" in error ? error.code : undefined
      if (code === "EROFS") return `${directory} is on a read-only file system`
      if (code === "EACCES" || code === "EPERM") return `${path} is not writable by this user`
      if (code === "ENOENT" && path === directory) return `the directory ${directory} does not exist`
    }
  }
  return undefined
}

/**
 * Syncs the WAL file to disk on Node's thread pool, so that the event loop goes on (sends, reads) while the disk
 * works; better-sqlite3 would block it for the whole sync. The WAL file stays the same file while this process has
 * the database open (SQLite removes it only when the last connection closes), so one handle serves every sync. The
 * first sync also syncs the directory, so that a WAL file created by this process is found after a power loss.
 */
const walSync = (filename: string): Effect.Effect<Effect.Effect<void, SqlError>, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync((): { handle: Fs.promises.FileHandle | undefined } => ({ handle: undefined })),
      (opened) => Effect.promise(async () => opened.handle?.close())
    ),
    (opened) =>
      Effect.tryPromise({
        try: async () => {
          if (opened.handle === undefined) {
            opened.handle = await Fs.promises.open(`${filename}-wal`, "r")
            const directory = await Fs.promises.open(Path.dirname(Path.resolve(filename)), "r")
            await directory.sync().finally(() => directory.close())
          }
          await opened.handle.datasync()
        },
        catch: (cause) => new SqlError({ cause, message: `Failed to sync ${filename}-wal to disk` })
      })
  )

/**
 * A SQLite client on the ledger file, ready for the ledger: WAL journal so readers never block the writer, a busy
 * timeout so that several processes can share the file, and the ledger tables migrated.
 *
 * Durability: SQLite commits with `synchronous = NORMAL` (a commit survives the process being killed, not yet a power
 * loss), and the layer provides `SqlLedger.CommitSync`, with which the ledger syncs the WAL file after each group of
 * claims and settlements before any caller goes on: a claim is on disk before its DM request goes out, as with
 * `synchronous = FULL`, without blocking the event loop. Other writes on this client reach the disk with the next
 * such sync or checkpoint.
 */
export const layerClient = (
  options: Options
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient | SqlLedger.CommitSync, LedgerError> =>
  isInMemory(options.filename) ? Layer.fail(memoryRefused(options.filename)) : open(options)

/**
 * A ledger client in memory, for tests and rehearsals: it starts empty and forgets everything when the layer is
 * released, so build it once for every run that must share it (`Layer.memoize`, or one `ManagedRuntime`).
 */
export const layerClientMemory = (
  options: Omit<Options, "filename"> = {}
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient | SqlLedger.CommitSync, LedgerError> =>
  open({ ...options, filename: ":memory:" })

const open = (
  options: Options
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient | SqlLedger.CommitSync, LedgerError> => {
  const inMemory = isInMemory(options.filename)
  // A path may look like a mistyped URL with a password in it: messages show it masked.
  const operation = inMemory ? "open an in-memory ledger" : `open the ledger at ${redactUrl(options.filename)}`
  const secrets = urlSecrets(options.filename)
  const failure = (cause: unknown) => {
    const description = scrubbedFailure(cause, []).message
    // SQLite's own words name no reason ("unable to open database file"); the system's (EROFS, ENOENT) do.
    const reason = inMemory || /\bE[A-Z]{3,}\b/.test(description) ? undefined : fileSystemReason(options.filename)
    const described = reason === undefined ? cause : new Error(`${description} (${reason})`)
    return new LedgerError({ operation, cause: secrets.length === 0 ? described : scrubbedFailure(described, secrets) })
  }
  const busyTimeout = Math.round(Duration.toMillis(options.busyTimeout ?? Duration.seconds(5)))
  return Layer.scopedContext(
    Effect.gen(function*() {
      if (!inMemory) yield* Effect.try({ try: () => createPrivately(options.filename), catch: failure })
      // The driver opens the file while the client is made and throws when it cannot.
      const client = yield* SqliteClient.make({ filename: options.filename, disableWAL: true }).pipe(
        Effect.catchAllDefect(failure)
      )
      yield* Effect.gen(function*() {
        // The busy timeout first: switching to WAL needs a lock that another process may hold.
        yield* client.unsafe(`PRAGMA busy_timeout = ${busyTimeout}`)
        yield* client.unsafe("PRAGMA journal_mode = WAL")
        yield* client.unsafe("PRAGMA synchronous = NORMAL")
        yield* internalMigrations.migrate.pipe(Effect.provideService(SqlClient.SqlClient, client))
      }).pipe(
        Effect.mapError((cause) =>
          cause._tag === "LedgerSchemaTooNew" ? new LedgerError({ operation, cause }) : failure(cause)
        )
      )
      // Nothing of an in-memory database survives the process: there is nothing to sync.
      const commitSync = inMemory ? Effect.void : yield* walSync(options.filename)
      return Context.make(SqliteClient.SqliteClient, client).pipe(
        Context.add(SqlClient.SqlClient, client),
        Context.add(SqlLedger.CommitSync, commitSync)
      )
    })
  ).pipe(Layer.provide(Reactivity.layer))
}

/** The ledger in a SQLite file (see {@link layerClient}). */
export const layer = (options: Options): Layer.Layer<Ledger, LedgerError> =>
  SqlLedger.layerWith(options).pipe(Layer.provide(layerClient(options)))

/**
 * The ledger with its options read through `Config` (as `@effect/sql-sqlite-node`'s `layerConfig`), e.g.
 * `{ filename: Config.string("LEDGER_FILE") }`.
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<Ledger, LedgerError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

/** The ledger in memory (see {@link layerClientMemory}): for tests and rehearsals, never for a campaign's record. */
export const layerMemory = (options: Omit<Options, "filename"> = {}): Layer.Layer<Ledger, LedgerError> =>
  SqlLedger.layerWith(options).pipe(Layer.provide(layerClientMemory(options)))
