/**
 * What the subcommands run on, provided to each with `Command.provide`: the campaign named on the command line, the
 * ledger, and the Upload-Post client for those that talk to the platform. The one place that says which layer gives
 * each.
 */
import { type CampaignSpec, KeepAliveHttpClient, RequestBudget, UploadPost } from "@comment-dm/core"
import type { SqlClient } from "@effect/sql"
import { type ConfigError, Effect, Layer, Option } from "effect"
import * as Fs from "node:fs"
import * as CampaignFile from "./CampaignFile.js"
import * as LedgerDatabase from "./LedgerDatabase.js"

/**
 * The Upload-Post client, straight over Node's http / https with connections kept alive and reused
 * (KeepAliveHttpClient), with the key the campaign's `api_key_env` names (default UPLOAD_POST_API_KEY). Notices about
 * the settings go to stderr, so that `--json` keeps stdout to the summary.
 */
export const uploadPost = (spec: CampaignSpec.CampaignSpec) =>
  UploadPost.UploadPost.Default.pipe(
    Layer.provide(UploadPost.UploadPostConfig.fromEnvWith({ notice, keyVariable: spec.apiKeyEnv })),
    Layer.provide(KeepAliveHttpClient.layer())
  )

/**
 * {@link uploadPost} with the key's request budget kept in the ledger's database (`RequestBudget.layerLedger`), so
 * that every process on the ledger that uses the key holds its plan (`api_plan`) together.
 */
export const budgetedUploadPost = (spec: CampaignSpec.CampaignSpec) => {
  const config = UploadPost.UploadPostConfig.fromEnvWith({ notice, keyVariable: spec.apiKeyEnv })
  const budget = Layer.unwrapEffect(
    Effect.map(UploadPost.UploadPostConfig, (settings) => RequestBudget.layerLedger(settings.apiKey, spec.apiPlan))
  )
  return withBudget(budget, config)
}

/**
 * {@link uploadPost} with the key's request budget in this process's memory, for a rehearsal (`--dry-run`), which
 * writes nothing to the ledger: what other processes spend on the key reaches it through the API's
 * `X-RateLimit-Remaining`.
 */
export const rehearsalUploadPost = (spec: CampaignSpec.CampaignSpec) =>
  withBudget(
    RequestBudget.layerMemory(spec.apiPlan),
    UploadPost.UploadPostConfig.fromEnvWith({ notice, keyVariable: spec.apiKeyEnv })
  )

const withBudget = <E, R>(
  budget: Layer.Layer<RequestBudget.RequestBudget, E, R>,
  config: Layer.Layer<UploadPost.UploadPostConfig, ConfigError.ConfigError>
) =>
  // The budget stays in the context too: a send takes its place in it where it waits for its pace.
  UploadPost.UploadPost.Default.pipe(
    Layer.provideMerge(budget),
    Layer.provide(config),
    Layer.provide(KeepAliveHttpClient.layer())
  )

/** A notice about the settings, on stderr. */
export const notice = (text: string) => Effect.sync(() => process.stderr.write(`comment-dm: ${text}\n`))

/** No platform: for the subcommands that read the ledger only. */
export const noPlatform = () => Layer.empty

/** The arguments a subcommand's workspace comes from. */
export interface Target {
  readonly campaignFile: string
  readonly db: Option.Option<LedgerDatabase.Given>
}

/**
 * A subcommand's campaign and ledger, and `platform` for the campaign: {@link budgetedUploadPost} for those that talk
 * to it, else {@link noPlatform}. Made in this order: a campaign that cannot run opens no ledger, and a ledger setting that cannot be
 * used makes no request.
 */
export const layer = <P, PE>(
  target: Target,
  platform: (spec: CampaignSpec.CampaignSpec) => Layer.Layer<P, PE, SqlClient.SqlClient>,
  options: LedgerDatabase.LayerOptions = {}
) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const spec = yield* CampaignFile.load(target.campaignFile)
    const location = yield* LedgerDatabase.resolve(target.db, options)
    return Layer.merge(
      Layer.succeed(CampaignFile.Campaign, spec),
      // The platform may keep the key's request budget in the ledger's database.
      Layer.provideMerge(platform(spec), LedgerDatabase.layer(location, options))
    )
  }))

/**
 * The ledger alone, for the subcommands that work on it without a campaign (`forget`, `prune`). A ledger file named
 * with --db or COMMENT_DM_DB must exist: a mistyped path would otherwise get a new, empty ledger, and `forget` would
 * report a person forgotten whose data stays in the real one.
 */
export const ledgerOnly = (db: Option.Option<LedgerDatabase.Given>) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const location = yield* LedgerDatabase.resolve(db)
    if (Option.isSome(db) && !LedgerDatabase.isPostgres(location) && !Fs.existsSync(location)) {
      return yield* new LedgerDatabase.DatabaseUrlError({
        setting: db.value.setting,
        shown: location,
        why: "no ledger there (nothing to work on); check the path"
      })
    }
    return LedgerDatabase.layer(location)
  }))
