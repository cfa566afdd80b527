/**
 * Embedding comment-dm in an Effect application, as docs/library.md walks through it: the layers built once from the
 * program's own `HttpClient` and `Config`, events consumed as they come, a run stopped on request, the errors a run
 * can fail with caught by tag, and the daily limit read from the outcome.
 * `API_KEY=... API_URL=... LEDGER_FILE=spring.sqlite npx tsx examples/library-embedding.ts` runs it.
 */
import { Campaign, type CampaignSpec, StopSignal, UploadPost } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import { FetchHttpClient } from "@effect/platform"
import { Config, Deferred, Effect, Layer, ManagedRuntime, Ref } from "effect"
import { pathToFileURL } from "node:url"
import { spec } from "./library.js"

// 1. The layers, built once. The API client takes its settings through Config (here the variables API_URL and
// API_KEY, under any ConfigProvider) and its requests go through the program's HttpClient (fetch here).
export const ApiLive = UploadPost.UploadPost.Default.pipe(
  Layer.provide(UploadPost.UploadPostConfig.layerConfig({
    baseUrl: Config.string("API_URL").pipe(Config.withDefault(UploadPost.defaultBaseUrl)),
    apiKey: Config.redacted("API_KEY"),
    // What a refused key's message tells the user to check.
    apiKeySetting: Config.succeed("API_KEY")
  })),
  Layer.provide(FetchHttpClient.layer)
)

// The ledger file is the campaign's memory: the same file on every run, so that nobody is sent twice.
export const LedgerLive = SqliteLedger.layerConfig({ filename: Config.string("LEDGER_FILE") })

export const AppLive = Layer.merge(ApiLive, LedgerLive)

// 2. The campaign, in code (examples/library.ts): `CampaignSpec.fromCode` with camelCase keys.
export { spec }

// 3. Events: `onEvent` hears each as it happens; here the people sent are collected and the daily limit logged.
export const runCollecting = (campaign: CampaignSpec.CampaignSpec) =>
  Effect.gen(function*() {
    const sent = yield* Ref.make<ReadonlyArray<string>>([])
    const summary = yield* Campaign.run(campaign, {
      onEvent: (event) => {
        switch (event._tag) {
          case "Sent":
            return Ref.update(sent, (people) => [...people, event.username ?? event.userId])
          case "DailyLimit":
            return Effect.logWarning(`daily limit: ${event.detail}`)
          default:
            return Effect.void
        }
      }
    })
    return { summary, sent: yield* Ref.get(sent) }
  })

// 4. Stopping: a StopSignal asks the run to stop starting sends; those in flight settle first and the outcome is
// `interrupted`. (Interrupting the fiber instead also leaves nobody sent twice, but ends the run without a summary.)
export const runUntil = (campaign: CampaignSpec.CampaignSpec, stop: Deferred.Deferred<void>) =>
  Campaign.run(campaign).pipe(Effect.provide(StopSignal.layer({ interrupt: Deferred.await(stop) })))

// 5. Errors: a run fails only with a Run.RunError, each a tagged error; the daily limit is not one of them but the
// outcome `daily_limit` (the people not reached stay pending for a run after the reset).
export const report = (campaign: CampaignSpec.CampaignSpec) =>
  Campaign.run(campaign).pipe(
    Effect.map((summary) =>
      summary.outcome === "daily_limit"
        ? `daily limit reached: ${summary.counts.sent} sent, ${summary.counts.pending} pending until the reset`
        : `${summary.outcome}: ${summary.counts.sent} sent`
    ),
    Effect.catchTags({
      Unauthorized: (error) => Effect.succeed(`the API key was refused: ${error.message}`),
      InvalidRequest: (error) => Effect.succeed(`the campaign does not fit the account: ${error.message}`),
      LedgerError: (error) => Effect.succeed(`the ledger failed: ${error.message}`),
      RateLimited: (error) => Effect.succeed(`rate-limited; run again later: ${error.message}`),
      Transient: (error) => Effect.succeed(`the API kept failing; run again later: ${error.message}`),
      MalformedResponse: (error) => Effect.succeed(`the API answered unexpectedly: ${error.message}`),
      UnrecognisedRefusals: (error) => Effect.succeed(`the platform refuses in a new way: ${error.message}`)
    })
  )

// 6. One runtime for the application: its layers (the ledger's database, the HTTP client) are built once and serve
// every run until it is disposed.
export const main = async () => {
  const runtime = ManagedRuntime.make(AppLive)
  try {
    const campaign = await runtime.runPromise(spec())
    const first = await runtime.runPromise(runCollecting(campaign))
    console.log(`${first.summary.outcome}: sent to ${first.sent.join(", ") || "nobody"}`)
    console.log(await runtime.runPromise(report(campaign)))
  } finally {
    await runtime.dispose()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await main()
}
