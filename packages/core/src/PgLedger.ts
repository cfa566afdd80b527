/**
 * The ledger in a PostgreSQL database, for runners on several machines that share one ledger.
 *
 * The statements are {@link SqlLedger}'s: a claim is one guarded UPDATE, which PostgreSQL's row locks make atomic
 * at READ COMMITTED, so of several processes claiming one person exactly one wins. The URL's password never appears
 * in an error: failures name the server as `postgres://user:***@host/db`.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as internalMigrations from "./internal/ledgerMigrations.js"
import { connectionFailure, redactUrl, urlSecrets } from "./internal/pgUrl.js"
import type { Ledger } from "./Ledger.js"
import { LedgerError } from "./Ledger.js"
import * as SqlLedger from "./SqlLedger.js"

export interface Options extends SqlLedger.Options {
  /** `postgres://user:password@host:port/database`. */
  readonly url: Redacted.Redacted<string> | string
  /** How long to wait for the server to accept a connection. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/** The URL with its password masked, as errors show it. */
export const redact = (url: Redacted.Redacted<string> | string): string =>
  redactUrl(Redacted.isRedacted(url) ? Redacted.value(url) : url)

/**
 * Applies the ledger's migrations while holding a server-wide advisory lock, so that processes opening a fresh
 * database at once create the tables one after the other instead of failing on each other's CREATE TABLE. The lock is
 * taken on a connection of its own: the migrations run in transactions on other connections of the pool.
 */
const migrateExclusively = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const lockConnection = yield* sql.reserve
  const lock = (fn: string) =>
    lockConnection.executeRaw(`SELECT ${fn}(hashtext($1))`, [internalMigrations.migrationsTable])
  yield* Effect.acquireRelease(lock("pg_advisory_lock"), () => Effect.ignore(lock("pg_advisory_unlock")))
  yield* internalMigrations.migrate
}).pipe(Effect.scoped)

/**
 * A PostgreSQL client on the ledger database with the ledger tables migrated, for the ledger and for
 * `SharedPacer`. Fails with a {@link LedgerError} when the server cannot be reached or refuses the connection.
 */
export const layerClient = (options: Options): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, LedgerError> => {
  const url = Redacted.isRedacted(options.url) ? options.url : Redacted.make(options.url)
  const where = redact(url)
  const secrets = urlSecrets(Redacted.value(url))
  return Layer.scopedContext(
    Effect.gen(function*() {
      const client = yield* PgClient.make({
        url,
        connectTimeout: options.connectTimeout ?? Duration.seconds(5)
      }).pipe(
        // The driver throws rather than fails on some malformed URLs.
        Effect.catchAllDefect(Effect.fail),
        Effect.mapError((cause) =>
          new LedgerError({
            operation: `connect to the ledger database at ${where}`,
            cause: connectionFailure(cause, secrets)
          })
        )
      )
      yield* migrateExclusively.pipe(
        Effect.provideService(SqlClient.SqlClient, client),
        Effect.mapError((cause) =>
          new LedgerError({ operation: `create or upgrade the ledger tables at ${where}`, cause })
        )
      )
      return Context.make(PgClient.PgClient, client).pipe(Context.add(SqlClient.SqlClient, client))
    })
  ).pipe(Layer.provide(Reactivity.layer))
}

/** The ledger in a PostgreSQL database (see {@link layerClient}). */
export const layer = (options: Options): Layer.Layer<Ledger, LedgerError> =>
  SqlLedger.layerWith(options).pipe(Layer.provide(layerClient(options)))

/**
 * The ledger with its options read through `Config` (as `@effect/sql-pg`'s `layerConfig`), e.g.
 * `{ url: Config.redacted("DATABASE_URL") }`.
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<Ledger, LedgerError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
