/** The real Upload-Post client over a scripted transport, with a SQLite ledger in memory: stage tests without HTTP. */
import { Layer, Redacted } from "effect"
import type * as HttpTransport from "../../src/HttpTransport.js"
import * as SqliteLedger from "../../src/SqliteLedger.js"
import * as UploadPost from "../../src/UploadPost.js"

export const services = (transport: Layer.Layer<HttpTransport.HttpTransport>) =>
  Layer.merge(
    UploadPost.UploadPost.DefaultWithoutDependencies.pipe(
      Layer.provide(UploadPost.UploadPostConfig.layer({
        baseUrl: "http://127.0.0.1:9",
        apiKey: Redacted.make("test-key")
      })),
      Layer.provide(transport)
    ),
    SqliteLedger.layerMemory()
  )
