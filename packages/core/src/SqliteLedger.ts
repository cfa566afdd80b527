/**
 * The embedded ledger: a SQLite file next to the campaign, shared safely by several processes.
 *
 * The file is private to its owner (0600): it names the people who commented and what they were sent.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as internalMigrations from "./internal/ledgerMigrations.js"
import type { Ledger } from "./Ledger.js"
import { LedgerError } from "./Ledger.js"
import * as SqlLedger from "./SqlLedger.js"

export interface Options extends SqlLedger.Options {
  /** The ledger file, created when absent; ":memory:" keeps the ledger in memory (nothing survives the process). */
  readonly filename: string
  /** How long a statement waits for another process's write to finish before failing. Default 5 seconds. */
  readonly busyTimeout?: Duration.DurationInput | undefined
}

const isInMemory = (filename: string): boolean => filename === ":memory:" || filename === ""

/**
 * Creates the file with mode 0600 when absent, and narrows the mode of an existing file and of WAL files left by an
 * earlier process. SQLite creates new WAL files with the main file's mode.
 */
const restrictFile = (filename: string): void => {
  try {
    Fs.closeSync(Fs.openSync(filename, Fs.constants.O_CREAT | Fs.constants.O_EXCL | Fs.constants.O_RDWR, 0o600))
  } catch (error) {
    if (!(error instanceof Error && "code" in error && error.code === "EEXIST")) throw error
  }
  for (const path of [filename, `${filename}-wal`, `${filename}-shm`]) {
    const mode = Fs.statSync(path, { throwIfNoEntry: false })?.mode
    if (mode !== undefined && (mode & 0o077) !== 0) Fs.chmodSync(path, mode & 0o700)
  }
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
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient | SqlLedger.CommitSync, LedgerError> => {
  const operation = isInMemory(options.filename) ? "open an in-memory ledger" : `open the ledger at ${options.filename}`
  const busyTimeout = Math.round(Duration.toMillis(options.busyTimeout ?? Duration.seconds(5)))
  return Layer.scopedContext(
    Effect.gen(function*() {
      if (!isInMemory(options.filename)) {
        yield* Effect.try({
          try: () => restrictFile(options.filename),
          catch: (cause) => new LedgerError({ operation, cause })
        })
      }
      // The driver opens the file while the client is made and throws when it cannot.
      const client = yield* SqliteClient.make({ filename: options.filename, disableWAL: true }).pipe(
        Effect.catchAllDefect((cause) => new LedgerError({ operation, cause }))
      )
      yield* Effect.gen(function*() {
        // The busy timeout first: switching to WAL needs a lock that another process may hold.
        yield* client.unsafe(`PRAGMA busy_timeout = ${busyTimeout}`)
        yield* client.unsafe("PRAGMA journal_mode = WAL")
        yield* client.unsafe("PRAGMA synchronous = NORMAL")
        yield* internalMigrations.migrate.pipe(Effect.provideService(SqlClient.SqlClient, client))
      }).pipe(Effect.mapError((cause) => new LedgerError({ operation, cause })))
      // Nothing of an in-memory database survives the process: there is nothing to sync.
      const commitSync = isInMemory(options.filename) ? Effect.void : yield* walSync(options.filename)
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
