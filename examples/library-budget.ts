/**
 * The key's request budget for a client of the application's own (docs/library.md): every request of the client waits
 * for its place under the plan before it goes out, and the budget stays in the context (`provideMerge`), so that a
 * send takes its place where it waits for its pace. In one process; `RequestBudget.layerLedger(apiKey, plan)` over
 * the ledger's SqlClient shares it with every process on the ledger.
 */
import { RequestBudget, UploadPost } from "@comment-dm/core"
import { FetchHttpClient } from "@effect/platform"
import { Layer, type Redacted } from "effect"

export const ApiWithBudget = (
  baseUrl: string,
  apiKey: Redacted.Redacted<string>,
  plan: RequestBudget.Plan = { perMinute: 250, perTenMinutes: 2500 }
) =>
  UploadPost.UploadPost.Default.pipe(
    Layer.provideMerge(RequestBudget.layerMemory(plan)),
    Layer.provide(UploadPost.UploadPostConfig.layer({ baseUrl, apiKey })),
    Layer.provide(FetchHttpClient.layer)
  )
