/**
 * The ledger on a SqlClient of the application's own (docs/library.md): its tables created or upgraded by
 * `SqlLedger.migrate` before the ledger starts. Here @effect/sql-sqlite-node's client on a file; a PgClient serves
 * the same way. Commits are as durable as the client makes them (SQLite's default `synchronous = FULL` syncs each).
 */
import { SqlLedger } from "@comment-dm/core"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Layer } from "effect"

/** The ledger over whatever SqlClient the context holds, its tables migrated first. */
export const LedgerOnClient = SqlLedger.layer.pipe(Layer.provide(Layer.effectDiscard(SqlLedger.migrate)))

export const LedgerOnFile = (filename: string) => LedgerOnClient.pipe(Layer.provide(SqliteClient.layer({ filename })))
