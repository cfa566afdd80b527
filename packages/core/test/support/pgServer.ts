/** A throwaway PostgreSQL server for a test file (started once per file), and the ledger over it. */
import { Context, Effect, Layer } from "effect"
import * as PgLedger from "../../src/PgLedger.js"
import * as SqlLedger from "../../src/SqlLedger.js"
import { startPostgres } from "./postgres.js"

/** The URL of the file's server. */
export class ServerUrl extends Context.Tag("ServerUrl")<ServerUrl, string>() {}

export const server = Layer.scoped(
  ServerUrl,
  Effect.acquireRelease(Effect.promise(startPostgres), (started) => Effect.promise(started.stop)).pipe(
    Effect.map((started) => started.url)
  )
)

/** The ledger (and its SQL client) on the server's database. */
export const suiteLedger = Layer.unwrapEffect(
  Effect.map(ServerUrl, (url) => SqlLedger.layer.pipe(Layer.provideMerge(PgLedger.layerClient({ url }))))
)
