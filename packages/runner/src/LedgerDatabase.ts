/**
 * Where the ledger lives: `--db`, else `COMMENT_DM_DB`, else `comment-dm.sqlite` in the working directory.
 */
import type { Ledger } from "@comment-dm/core"
import { SqliteLedger } from "@comment-dm/core"
import { Config, Data, Effect, Layer, Option } from "effect"
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
  /** Open an existing ledger only; when there is none, use an empty one in memory (dry runs write nothing). */
  readonly readOnlyIntent?: boolean
}

export const layer = (
  location: string,
  options: LayerOptions = {}
): Layer.Layer<Ledger.Ledger, Ledger.LedgerError | DatabaseUrlError> => {
  if (/^postgres(ql)?:\/\//i.test(location)) {
    return Layer.fail(
      new DatabaseUrlError({ url: "postgres://…", why: "PostgreSQL ledgers are not supported by this build" })
    )
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    return Layer.fail(
      new DatabaseUrlError({ url: location, why: "expected a file path (SQLite) or a postgres:// URL" })
    )
  }
  if (options.readOnlyIntent === true && !Fs.existsSync(location)) {
    return SqliteLedger.layer({ filename: ":memory:" })
  }
  return SqliteLedger.layer({ filename: location })
}
