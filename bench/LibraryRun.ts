/**
 * comment-dm as a library in this process: `Campaign.run` over the Node HTTP client and a SQLite ledger, against a
 * sandbox in another process.
 */
import { Campaign, CampaignSpec, type Pacer, SqliteLedger, UploadPost } from "@comment-dm/core"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted } from "effect"
import * as Path from "node:path"
import * as TempDir from "./internal/TempDir.js"
import type { RunningSandbox } from "./SandboxProcess.js"

/** `durable`: a SQLite file, every claim and settlement committed with `synchronous = FULL`; `memory`: ":memory:". */
export type LedgerKind = "durable" | "memory"

export interface Settings {
  readonly campaign: CampaignSpec.Input
  readonly ledger: LedgerKind
  /** Overrides the campaign's pace, e.g. `Pacer.unlimited`. */
  readonly pacer?: Pacer.Pacer
  readonly maxSends?: number
}

export interface Result {
  readonly summary: Campaign.Summary
  /** Wall time of the whole run, layers (ledger file, migrations) included. */
  readonly wallMillis: number
  /** When each DM request left this process (epoch ms, the clock the sandbox stamps deliveries with). */
  readonly sendStarts: ReadonlyArray<number>
}

/** The campaign every benchmark runs: whoever writes "guide" gets the guide. */
export const guideCampaign = (
  sandbox: RunningSandbox,
  pace: { readonly per_hour: number; readonly concurrency: number }
): CampaignSpec.Input => ({
  name: "bench-guide",
  platform: "instagram",
  user: sandbox.profile,
  posts: [...sandbox.postIds],
  match: { keywords: ["guide"], mode: "word" },
  message: "Hi @{{username}}, here is your guide: https://example.com/guide",
  pace
})

export const run = (sandbox: RunningSandbox, settings: Settings) =>
  Effect.scoped(
    Effect.gen(function*() {
      const dir = yield* TempDir.make("ledger")
      const spec = yield* CampaignSpec.make(settings.campaign)
      const sendStarts: Array<number> = []
      // The transport the command uses, watched: every DM request is timed as it leaves.
      const http = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (client) =>
          HttpClient.tapRequest(client, (request) =>
            Effect.sync(() => {
              if (request.method === "POST" && request.url.endsWith("/uploadposts/dms/send")) {
                sendStarts.push(Date.now())
              }
            })))
      ).pipe(Layer.provide(NodeHttpClient.layer))
      const api = UploadPost.UploadPost.Default.pipe(
        Layer.provide(
          UploadPost.UploadPostConfig.layer({ baseUrl: sandbox.baseUrl, apiKey: Redacted.make(sandbox.apiKey) })
        ),
        Layer.provide(http)
      )
      const ledger = SqliteLedger.layer({
        filename: settings.ledger === "memory" ? ":memory:" : Path.join(dir, "ledger.sqlite")
      })
      const started = performance.now()
      const summary = yield* Campaign.run(spec, {
        ...(settings.pacer === undefined ? {} : { pacer: settings.pacer }),
        ...(settings.maxSends === undefined ? {} : { maxSends: settings.maxSends })
      }).pipe(Effect.provide(Layer.merge(api, ledger)))
      return { summary, wallMillis: performance.now() - started, sendStarts } satisfies Result
    })
  )
