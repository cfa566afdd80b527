/**
 * Where the ledger lives: `--db`, else `COMMENT_DM_DB`, else `comment-dm.sqlite` in the working directory. A file
 * path is a SQLite ledger; a `postgres://` URL is a PostgreSQL ledger that several runners, on one machine or many,
 * can share.
 */
import { PgLedger, SharedPacer, SqliteLedger, SqlLedger } from "@comment-dm/core"
import type { Campaign, CampaignSpec, Ledger } from "@comment-dm/core"
import type { SqlClient } from "@effect/sql"
import { Config, Data, Effect, Layer, Option, Redacted } from "effect"
import * as Fs from "node:fs"

export const defaultPath = "comment-dm.sqlite"

export class DatabaseUrlError
  extends Data.TaggedError("DatabaseUrlError")<{ readonly url: string; readonly why: string }>
{
  override get message() {
    return `--db / COMMENT_DM_DB "${this.url}": ${this.why}`
  }
}

/** The ledger location in force: the flag wins over the environment, which wins over the default. */
export const resolve = (flag: Option.Option<string>): Effect.Effect<string> =>
  Option.match(flag, {
    onSome: Effect.succeed,
    onNone: () =>
      Config.string("COMMENT_DM_DB").pipe(Config.withDefault(defaultPath), Effect.orElseSucceed(() => defaultPath))
  })

export interface LayerOptions {
  /** Open an existing SQLite ledger only; when there is none, use an empty one in memory (dry runs write nothing). */
  readonly readOnlyIntent?: boolean
}

const isPostgres = (location: string) => /^postgres(ql)?:\/\//i.test(location)

/** The ledger, and the SQL client under it (the shared pacer keeps the profile's budget in the same database). */
export const layer = (
  location: string,
  options: LayerOptions = {}
): Layer.Layer<Ledger.Ledger | SqlClient.SqlClient, Ledger.LedgerError | DatabaseUrlError> => {
  if (isPostgres(location)) {
    return Layer.provideMerge(SqlLedger.layer, PgLedger.layerClient({ url: Redacted.make(location) }))
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    return Layer.fail(
      new DatabaseUrlError({ url: location, why: "expected a file path (SQLite) or a postgres:// URL" })
    )
  }
  const filename = options.readOnlyIntent === true && !Fs.existsSync(location) ? ":memory:" : location
  return Layer.provideMerge(SqlLedger.layer, SqliteLedger.layerClient({ filename }))
}

/**
 * The profile's pace and daily limit, kept in the ledger's database so that every runner sending from the profile
 * shares them: two runners at 200 an hour send 200 an hour together, not 400. Every DM the platform accepts is
 * counted for the profile and the UTC day (a library caller may set `SharedPacer`'s `dailyLimit` on that count).
 */
export const sharedBudget = (spec: CampaignSpec.CampaignSpec) =>
  Effect.map(
    SharedPacer.make({ profile: spec.user, platform: spec.platform, count: spec.pace.perHour }),
    (pacer): { readonly pacer: SharedPacer.SharedPacer; readonly budget: Campaign.Budget } => ({
      pacer,
      budget: pacer.budget
    })
  )
