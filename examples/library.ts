/**
 * A campaign run from your own Effect program: the campaign built in code, your own layers, progress as events.
 * `UPLOAD_POST_API_KEY=... npx tsx examples/library.ts` runs it against UPLOAD_POST_BASE_URL (e.g. the sandbox).
 */
import { Campaign, CampaignSpec, UploadPost } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, type Redacted } from "effect"
import { pathToFileURL } from "node:url"

export interface Options {
  /** The SQLite ledger: the same file resumes the campaign, and nobody is ever sent twice. */
  readonly ledger: string
  /** Default: UPLOAD_POST_API_KEY and UPLOAD_POST_BASE_URL from the environment. */
  readonly api?: { readonly baseUrl: string; readonly apiKey: Redacted.Redacted<string> }
  readonly perHour?: number
}

/** The campaign, in code: camelCase keys, checked as a campaign file is (a `CampaignSpecError` otherwise). */
export const spec = (perHour = 200) =>
  CampaignSpec.fromCode({
    name: "spring-guide",
    platform: "instagram",
    user: "demo",
    posts: ["17900000000000001", "17900000000000002"],
    match: { keywords: ["guide"], exclude: ["stop"] },
    message: "Hi @{{username}}! Here is the guide you asked for: https://example.com/guide",
    pace: { perHour }
  })

export const program = (options: Options) =>
  Effect.gen(function*() {
    const campaign = yield* spec(options.perHour)
    const summary = yield* Campaign.run(campaign, {
      onEvent: (event) => event._tag === "Sent" ? Effect.log(`sent to ${event.username ?? event.userId}`) : Effect.void
    })
    yield* Effect.log(
      `${summary.outcome}: ${summary.counts.sent} sent, ${summary.counts.skipped} skipped, ` +
        `${summary.counts.pending} pending`
    )
    return summary
  }).pipe(Effect.provide(Layer.merge(
    // The client goes through the program's HttpClient (tracing and middleware apply): `NodeHttpClient.layer` here;
    // `KeepAliveHttpClient.layer()` is the one the command uses, at less CPU per request.
    UploadPost.UploadPost.Default.pipe(
      Layer.provide(options.api ? UploadPost.UploadPostConfig.layer(options.api) : UploadPost.UploadPostConfig.fromEnv),
      Layer.provide(NodeHttpClient.layer)
    ),
    SqliteLedger.layer({ filename: options.ledger })
  )))

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  NodeRuntime.runMain(program({ ledger: "spring-guide.sqlite" }))
}
