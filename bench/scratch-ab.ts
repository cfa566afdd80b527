import { Campaign, CampaignSpec, Pacer, SqliteLedger, SqlLedger, UploadPost } from "@comment-dm/core"
import * as Reactivity from "@effect/experimental/Reactivity"
import { NodeHttpClient } from "@effect/platform-node"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Context, Duration, Effect, Layer, Redacted } from "effect"
import * as LibraryRun from "./LibraryRun.js"
import * as SandboxProcess from "./SandboxProcess.js"
import * as Stats from "./Stats.js"

const [what = "throughput", arg = "memory"] = process.argv.slice(2)
const normalLedger = (filename: string) =>
  SqlLedger.layer.pipe(
    Layer.provide(Layer.scopedContext(Effect.gen(function*() {
      const client = yield* SqliteClient.make({ filename, disableWAL: true })
      yield* client.unsafe("PRAGMA journal_mode = WAL")
      yield* client.unsafe("PRAGMA synchronous = NORMAL")
      yield* SqlLedger.migrate.pipe(Effect.provideService(SqlClient.SqlClient, client))
      return Context.make(SqliteClient.SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client))
    }))),
    Layer.provide(Reactivity.layer),
    Layer.orDie
  )
const https = {
  node: NodeHttpClient.layer,
  keepalive: NodeHttpClient.layerWithoutAgent.pipe(Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true }))),
  undici: NodeHttpClient.layerUndici
}
const serialized = (count: number, per: number) =>
  Effect.gen(function*() {
    const spacing = per / count
    const lock = yield* Effect.makeSemaphore(1)
    let next = Number.NEGATIVE_INFINITY
    const take = lock.withPermits(1)(Effect.gen(function*() {
      let now = yield* Clock.currentTimeMillis
      if (next > now) {
        yield* Effect.sleep(Duration.millis(next - now))
        now = yield* Clock.currentTimeMillis
      }
      next = now + spacing
    }))
    return { take } satisfies Pacer.Pacer
  })

const program = Effect.gen(function*() {
  if (what === "throughput") {
    const sandbox = yield* SandboxProcess.start({
      comments: 2000,
      people: 1000,
      matchRatio: 0.4,
      latencyMs: 100,
      dailyLimit: 100000000
    })
    for (let round = 0; round < 2; round++) {
      for (const [h, http] of Object.entries(https)) {
        for (const ledgerKind of ["full", "normal", "memory"]) {
          const name = `${h}-${ledgerKind}-${round}`
          const spec = yield* CampaignSpec.make({
            ...LibraryRun.guideCampaign(sandbox, { per_hour: 1000, concurrency: 8 }),
            name
          })
          const api = UploadPost.UploadPost.Default.pipe(
            Layer.provide(
              UploadPost.UploadPostConfig.layer({ baseUrl: sandbox.baseUrl, apiKey: Redacted.make(sandbox.apiKey) })
            ),
            Layer.provide(http)
          )
          const file = `/tmp/bx/${name}.sqlite`
          const ledger = ledgerKind === "memory"
            ? SqliteLedger.layer({ filename: ":memory:" })
            : ledgerKind === "full"
            ? SqliteLedger.layer({ filename: file })
            : normalLedger(file)
          const t0 = performance.now()
          const summary = yield* Campaign.run(spec, { pacer: Pacer.unlimited }).pipe(
            Effect.provide(Layer.merge(api, ledger))
          )
          const wall = performance.now() - t0
          console.log(
            round,
            h.padEnd(9),
            ledgerKind.padEnd(6),
            `${(summary.counts.sent * 100 / 8 / wall * 100).toFixed(1)}% of bound`,
            wall.toFixed(0),
            "ms",
            summary.counts.sent
          )
        }
      }
    }
  } else {
    const sandbox = yield* SandboxProcess.start({
      comments: 4000,
      people: 2000,
      matchRatio: 0.4,
      latencyMs: 100,
      dailyLimit: 100000000
    })
    for (let round = 0; round < 2; round++) {
      for (const kind of ["current", "serialized"]) {
        const before = (yield* sandbox.control.deliveries).length
        const pacer = kind === "current" ? yield* Pacer.make(72000) : yield* serialized(20, 1000)
        const result = yield* LibraryRun.run(sandbox, {
          campaign: {
            ...LibraryRun.guideCampaign(sandbox, { per_hour: 72000, concurrency: 8 }),
            name: `${kind}-${round}`
          },
          ledger: "durable",
          pacer,
          maxSends: Number(arg)
        })
        const times = (yield* sandbox.control.deliveries).slice(before).map((d) => new Date(d.at).getTime())
        console.log(
          kind.padEnd(11),
          "sandbox 1s max",
          Stats.maxInWindow(times, 1000),
          "client 1s max",
          Stats.maxInWindow(result.sendStarts, 1000),
          "rate",
          Stats.ratePerSecond(times).toFixed(2)
        )
      }
    }
  }
})
Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(NodeHttpClient.layer))).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
