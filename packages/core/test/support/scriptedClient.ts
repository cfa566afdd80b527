/** The real Upload-Post client over a scripted `HttpClient`, with a SQLite ledger in memory: stage tests without HTTP. */
import type { HttpClient } from "@effect/platform"
import { Layer, Redacted } from "effect"
import * as SqliteLedger from "../../src/SqliteLedger.js"
import * as UploadPost from "../../src/UploadPost.js"

export const services = (client: Layer.Layer<HttpClient.HttpClient>) =>
  Layer.merge(
    UploadPost.UploadPost.Default.pipe(
      Layer.provide(UploadPost.UploadPostConfig.layer({
        baseUrl: "http://127.0.0.1:9",
        apiKey: Redacted.make("test-key")
      })),
      Layer.provide(client)
    ),
    SqliteLedger.layerMemory()
  )
