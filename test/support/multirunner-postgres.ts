/**
 * PostgreSQL for the several-runners suite: one throwaway server for the file, a fresh database for each scenario,
 * and the test's own view of a scenario's database (the ledger, and the shared pace of a profile) through the same
 * layers the command uses.
 */
import { Ledger, SharedPacer, SqlLedger } from "@comment-dm/core"
import * as PgLedger from "@comment-dm/core/pg"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Chunk, Context, Effect, Layer, Redacted, Stream } from "effect"
import type { Scope } from "effect"
import * as Crypto from "node:crypto"
import { startPostgres } from "./postgres.js"

/** The URL of the server started for the file. */
export class ServerUrl extends Context.Tag("multirunner/ServerUrl")<ServerUrl, string>() {}

/** Starts the server when the first test needs it and stops it (deleting its data) after the last. */
export const server: Layer.Layer<ServerUrl> = Layer.scoped(
  ServerUrl,
  Effect.acquireRelease(Effect.promise(startPostgres), (started) => Effect.promise(started.stop)).pipe(
    Effect.map((started) => started.url)
  )
)

/** A new empty database on the server, so that each scenario starts with an empty ledger and an unused pace. */
export const freshDatabase: Effect.Effect<string, never, ServerUrl> = Effect.gen(function*() {
  const url = yield* ServerUrl
  const name = `multirunner_${Crypto.randomBytes(6).toString("hex")}`
  yield* Effect.flatMap(SqlClient.SqlClient, (admin) => admin.unsafe(`CREATE DATABASE ${name}`)).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(url) })),
    Effect.orDie
  )
  const fresh = new URL(url)
  fresh.pathname = `/${name}`
  return fresh.toString()
})

export interface Database {
  /** Every row of the campaign, in first-seen order. */
  readonly entries: (campaign: string) => Effect.Effect<ReadonlyArray<Ledger.LedgerEntry>>
  readonly counts: (campaign: string) => Effect.Effect<Ledger.Counts>
  /** Turns the claims whose lease has expired at `at` into `in_doubt`, as a runner starting then would. */
  readonly recoverClaims: (campaign: string, at: Date) => Effect.Effect<number>
  /** The shared pace of a profile, as one more sender of that profile would use it. */
  readonly pacer: (options: SharedPacer.Options) => Effect.Effect<SharedPacer.SharedPacer>
}

/** Opens the database for the scope, with the ledger tables in place (the command would create them too). */
export const open = (url: string): Effect.Effect<Database, never, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Layer.provideMerge(SqlLedger.layer, PgLedger.layerClient({ url }))).pipe(
      Effect.orDie
    )
    const ledger = Context.get(context, Ledger.Ledger)
    return {
      entries: (campaign) =>
        Stream.runCollect(ledger.entries(campaign)).pipe(Effect.map(Chunk.toReadonlyArray), Effect.orDie),
      counts: (campaign) => Effect.orDie(ledger.counts(campaign, "first_message")),
      recoverClaims: (campaign, at) => Effect.orDie(ledger.recoverClaims(campaign, { now: at })),
      pacer: (options) => Effect.provide(SharedPacer.make(options), context)
    }
  })
