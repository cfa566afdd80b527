/**
 * Post leases for the commands that follow campaigns (`serve`, `watch`): on a PostgreSQL ledger, several processes
 * share each campaign's posts, each post read by one of them at a time (core `PostLeases`, docs/several-runners.md); a
 * SQLite ledger is one machine's, and its process reads every post.
 */
import { type Ledger, PostLeases } from "@comment-dm/core"
import { SqlClient } from "@effect/sql"
import type { Duration } from "effect"
import { Config, ConfigError, Effect, Option, Schema } from "effect"
import * as Interval from "./Interval.js"

/**
 * How long a post stays with a process that stopped renewing its lease: `COMMENT_DM_POST_LEASE` (e.g. 30s; default
 * 1 minute), mostly for tests that kill a process. Read at the start, so that a bad value stops the command (exit 2)
 * before anything starts, whatever the ledger.
 */
export const lease: Effect.Effect<Duration.Duration, ConfigError.ConfigError> = Config.option(
  Config.string("COMMENT_DM_POST_LEASE")
).pipe(
  Effect.orElseSucceed(() => Option.none<string>()),
  Effect.flatMap(Option.match({
    onNone: () => Effect.succeed(PostLeases.defaultLease),
    onSome: (text) =>
      Schema.decodeUnknown(Interval.forFlag("COMMENT_DM_POST_LEASE"))(text).pipe(
        Effect.mapError((error) => ConfigError.InvalidData(["COMMENT_DM_POST_LEASE"], error.message))
      )
  }))
)

/** `effect` with post leases of `lease` where the ledger is PostgreSQL; as it is on SQLite. */
export const sharing = (lease: Duration.Duration) =>
<A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | Ledger.LedgerError, R | SqlClient.SqlClient> =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql): Effect.Effect<A, E | Ledger.LedgerError, R | SqlClient.SqlClient> =>
      sql.onDialectOrElse({ pg: () => true, orElse: () => false })
        ? Effect.provide(effect, PostLeases.layer({ lease }))
        : effect
  )
