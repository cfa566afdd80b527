/**
 * The `layerConfig` forms: the API client's settings and the ledgers' options read through `Config`, here from a
 * `ConfigProvider.fromMap`, then checked as the plain layers check them.
 */
import { Sandbox } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Config, type ConfigError, ConfigProvider, Context, Effect, Exit, Layer, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as KeepAliveHttpClient from "../src/KeepAliveHttpClient.js"
import { Ledger, LedgerError } from "../src/Ledger.js"
import * as PgLedger from "../src/PgLedger.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as UploadPost from "../src/UploadPost.js"
import { findPostgres, startPostgres } from "./support/postgres.js"

/** Builds `layer` with `env` as the configuration: its context, or the failure's text. */
const buildWith = <A, E>(layer: Layer.Layer<A, E>, env: Record<string, string>) =>
  Effect.scoped(Layer.build(layer)).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.exit,
    Effect.map(Exit.mapError((error) => Cause.pretty(Cause.fail(error))))
  )

const failureText = <A>(exit: Exit.Exit<A, string>): string =>
  Exit.match(exit, { onFailure: (cause) => Cause.pretty(cause), onSuccess: () => "" })

describe("UploadPostConfig.layerConfig", () => {
  const api = UploadPost.UploadPostConfig.layerConfig({
    baseUrl: Config.string("API_URL").pipe(Config.withDefault(UploadPost.defaultBaseUrl)),
    apiKey: Config.redacted("API_KEY")
  })

  it.effect("reads the URL and the key from the program's Config and checks them as given in code", () =>
    Effect.gen(function*() {
      const built = yield* buildWith(api, { API_URL: "http://127.0.0.1:8787/api/", API_KEY: " sk-1 " })
      assert.isTrue(Exit.isSuccess(built), failureText(built))
      if (Exit.isFailure(built)) return
      const settings = Context.get(built.value, UploadPost.UploadPostConfig)
      assert.strictEqual(settings.baseUrl, "http://127.0.0.1:8787/api")
      assert.strictEqual(Redacted.value(settings.apiKey), "sk-1")
      const defaulted = yield* buildWith(api, { API_KEY: "sk-1" })
      assert.isTrue(Exit.isSuccess(defaulted))
      if (Exit.isSuccess(defaulted)) {
        assert.strictEqual(Context.get(defaulted.value, UploadPost.UploadPostConfig).baseUrl, UploadPost.defaultBaseUrl)
      }
    }))

  it.effect("fails with a ConfigError: a missing key by its Config name, a bad value by the setting's", () =>
    Effect.gen(function*() {
      assert.include(failureText(yield* buildWith(api, {})), "API_KEY")
      const clear = failureText(yield* buildWith(api, { API_URL: "http://api.upload-post.com/api", API_KEY: "k" }))
      assert.include(clear, "baseUrl: plain http to api.upload-post.com")
      assert.notInclude(clear, "UPLOAD_POST_")
      assert.include(failureText(yield* buildWith(api, { API_KEY: "  " })), "apiKey is empty")
      assert.include(failureText(yield* buildWith(api, { API_KEY: "a\u0000b" })), "apiKey contains a control")
    }))

  it.scoped("a refused key names the Config it came from, or the name the program gives it", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make({ windows: "open" })
      const refusal = (layer: Layer.Layer<UploadPost.UploadPostConfig, ConfigError.ConfigError>) =>
        UploadPost.UploadPost.Default.pipe(
          Layer.provide(layer),
          Layer.provide(KeepAliveHttpClient.layer()),
          Layer.build,
          Effect.flatMap((context) => Effect.flip(Context.get(context, UploadPost.UploadPost).me)),
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["API_URL", sandbox.baseUrl], ["API_KEY", "sk-wrong"]]))
          )
        )
      const unnamed = yield* refusal(api)
      assert.include(unnamed.message, "Check the apiKey Config given to layerConfig;")
      const named = yield* refusal(UploadPost.UploadPostConfig.layerConfig({
        baseUrl: Config.string("API_URL"),
        apiKey: Config.redacted("API_KEY"),
        apiKeySetting: Config.succeed("API_KEY")
      }))
      assert.include(named.message, "Check API_KEY;")
    }))
})

describe("SqliteLedger.layerConfig", () => {
  const ledger = SqliteLedger.layerConfig({ filename: Config.string("LEDGER_FILE") })

  it.scoped("opens the ledger file the Config names, and refuses what the plain layer refuses", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-layerconfig-"))),
        (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
      )
      const filename = Path.join(dir, "ledger.sqlite")
      const built = yield* buildWith(ledger, { LEDGER_FILE: filename })
      assert.isTrue(Exit.isSuccess(built), failureText(built))
      if (Exit.isSuccess(built)) assert.isDefined(Context.get(built.value, Ledger).registerCampaign)
      assert.isTrue(Fs.existsSync(filename), "the file was created")
      assert.include(failureText(yield* buildWith(ledger, {})), "LEDGER_FILE")
      const memory = yield* Effect.flip(
        Effect.provide(Ledger, ledger).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["LEDGER_FILE", ":memory:"]])))
        )
      )
      assert.instanceOf(memory, LedgerError)
    }))
})

/** A loopback port that nothing listens on. */
const closedPort = Effect.async<number>((resume) => {
  const probe = Net.createServer().listen(0, "127.0.0.1", () => {
    const address = probe.address()
    probe.close(() => resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 1)))
  })
})

const { install, reason } = findPostgres()

describe.skipIf(install === undefined)(
  `PgLedger.layerConfig${reason === undefined ? "" : ` (skipped: ${reason})`}`,
  () => {
    const ledger = PgLedger.layerConfig({ url: Config.redacted("DATABASE_URL") })

    it.scoped(
      "connects to the URL the Config names; a missing or unreachable one fails, the password masked",
      () =>
        Effect.gen(function*() {
          const server = yield* Effect.acquireRelease(
            Effect.promise(startPostgres),
            (started) => Effect.promise(started.stop)
          )
          const built = yield* buildWith(ledger, { DATABASE_URL: server.url })
          assert.isTrue(Exit.isSuccess(built), failureText(built))
          assert.include(failureText(yield* buildWith(ledger, {})), "DATABASE_URL")
          const port = yield* closedPort
          const url = `postgres://comment_dm:s3cret-pass@127.0.0.1:${port}/ledger`
          const unreachable = failureText(yield* buildWith(ledger, { DATABASE_URL: url }))
          assert.include(unreachable, `postgres://comment_dm:***@127.0.0.1:${port}/ledger`)
          assert.notInclude(unreachable, "s3cret-pass")
        }),
      { timeout: 60_000 }
    )
  }
)
