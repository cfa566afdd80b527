/**
 * The examples docs/library.md quotes, run: examples/library-embedding.ts against the sandbox in this process (its
 * configuration from a ConfigProvider.fromMap, as an application's own Config would give it), and
 * examples/library-matcher-template.ts on its own.
 */
import { Campaign } from "@comment-dm/core"
import { Sandbox } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Deferred, Effect, Either, Layer, Logger, LogLevel, ManagedRuntime, Option } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Embedding from "../examples/library-embedding.js"
import * as Alone from "../examples/library-matcher-template.js"
import * as OwnClient from "../examples/library-sqlclient.js"
import { repositoryRoot } from "./support/cli.js"

const tempLedger = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-library-docs-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => Path.join(dir, "ledger.sqlite")))

/**
 * The example's layers built once, configured as the given variables say, against a sandbox whose windows are open
 * (so every matching commenter the demo data does not refuse can be reached).
 */
const application = (sandbox: Sandbox.SandboxHandle, env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const ledger = yield* tempLedger
    const config = ConfigProvider.fromMap(
      new Map(Object.entries({ API_URL: sandbox.baseUrl, API_KEY: sandbox.apiKey, LEDGER_FILE: ledger, ...env }))
    )
    const runtime = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ManagedRuntime.make(
          Embedding.AppLive.pipe(
            Layer.provide(Layer.setConfigProvider(config)),
            Layer.merge(Logger.minimumLogLevel(LogLevel.None))
          )
        )
      ),
      (runtime) => Effect.promise(() => runtime.dispose())
    )
    // Quick sends: the example's pace of 200 an hour would make the test wait.
    const campaign = yield* Embedding.spec(360_000)
    return { runtime, campaign }
  })

describe("examples/library-embedding.ts", () => {
  it.scopedLive(
    "one runtime serves every run: the first sends each matching commenter once, the second nobody",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* Sandbox.make({ seed: 3, windows: "open" })
        const { campaign, runtime } = yield* application(sandbox)
        const first = yield* Effect.promise(() => runtime.runPromise(Embedding.runCollecting(campaign)))
        const deliveries = yield* sandbox.deliveries
        assert.isAbove(deliveries.length, 0)
        assert.strictEqual(first.sent.length, deliveries.length, "a Sent event for each delivery")
        assert.strictEqual(first.summary.counts.sent, deliveries.length)
        assert.strictEqual(first.summary.outcome, "completed")
        assert.strictEqual(
          yield* Effect.promise(() => runtime.runPromise(Embedding.report(campaign))),
          "completed: 0 sent"
        )
        assert.strictEqual((yield* sandbox.deliveries).length, deliveries.length, "nobody twice")
      }),
    60_000
  )

  it.scopedLive(
    "a StopSignal ends the run as interrupted; the next run sends the rest, nobody twice",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* Sandbox.make({ seed: 3, windows: "open" })
        const { campaign, runtime } = yield* application(sandbox)
        const stop = yield* Deferred.make<void>()
        yield* Deferred.succeed(stop, undefined)
        const stopped = yield* Effect.promise(() => runtime.runPromise(Embedding.runUntil(campaign, stop)))
        assert.strictEqual(stopped.outcome, "interrupted")
        assert.strictEqual(stopped.counts.sent, (yield* sandbox.deliveries).length)
        const rest = yield* Effect.promise(() => runtime.runPromise(Embedding.runCollecting(campaign)))
        assert.strictEqual(rest.summary.outcome, "completed")
        const recipients = (yield* sandbox.deliveries).map((delivery) => delivery.recipientId)
        assert.isAbove(rest.sent.length, 0, "the stopped run left people for the next")
        assert.strictEqual(new Set(recipients).size, recipients.length, "nobody twice")
      }),
    60_000
  )

  it.scopedLive(
    "a refused key is caught by its tag and names the setting; the daily limit is an outcome",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* Sandbox.make({ seed: 3, windows: "open", faults: { dailyDmLimit: 2 } })
        const wrong = yield* application(sandbox, { API_KEY: "sk-wrong" })
        const refused = yield* Effect.promise(() => wrong.runtime.runPromise(Embedding.report(wrong.campaign)))
        assert.match(refused, /^the API key was refused: .*Check API_KEY;/)
        assert.notInclude(refused, "sk-wrong")
        const right = yield* application(sandbox)
        const limited = yield* Effect.promise(() => right.runtime.runPromise(Embedding.report(right.campaign)))
        assert.match(limited, /^daily limit reached: 2 sent, [1-9]\d* pending until the reset$/)
        assert.strictEqual((yield* sandbox.deliveries).length, 2)
      }),
    60_000
  )
})

describe("examples/library-sqlclient.ts", () => {
  it.scopedLive(
    "the ledger on the application's own SqlClient: created, then remembered by the next run",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* Sandbox.make({ seed: 3, windows: "open" })
        const filename = yield* tempLedger
        const campaign = yield* Embedding.spec(360_000)
        const config = ConfigProvider.fromMap(new Map([["API_URL", sandbox.baseUrl], ["API_KEY", sandbox.apiKey]]))
        const run = Campaign.run(campaign).pipe(
          Effect.provide(Layer.merge(Embedding.ApiLive, OwnClient.LedgerOnFile(filename))),
          Effect.withConfigProvider(config)
        )
        const first = yield* run
        assert.isAbove(first.counts.sent, 0)
        assert.strictEqual(first.counts.sent, (yield* sandbox.deliveries).length)
        const second = yield* run
        assert.strictEqual(second.counts.sent, 0)
        assert.strictEqual(second.counts.already_sent, first.counts.sent)
        assert.strictEqual((yield* sandbox.deliveries).length, first.counts.sent, "nobody twice")
      }),
    60_000
  )
})

describe("examples/library-matcher-template.ts", () => {
  it("matches and writes the message without the API or a ledger; broken specs and templates are errors", () => {
    assert.deepStrictEqual(Alone.keywordOf("Could I get the GUIDE please?"), Option.some("guide"))
    assert.deepStrictEqual(Alone.keywordOf("guide? no, stop"), Option.none())
    assert.deepStrictEqual(Alone.keywordOf("guidebook"), Option.none(), "word mode: whole words only")
    assert.deepStrictEqual(
      Alone.messageFor({ text: "link please", username: "ana" }),
      Option.some("Hi @ana! Here is your link: https://example.com/guide")
    )
    assert.deepStrictEqual(Alone.messageFor({ text: "nice photo", username: "ana" }), Option.none())
    assert.isTrue(Either.isLeft(Alone.broken))
    if (Either.isLeft(Alone.broken)) assert.strictEqual(Alone.broken.left._tag, "InvalidMatchSpec")
    assert.isTrue(Either.isLeft(Alone.misspelt))
    if (Either.isLeft(Alone.misspelt)) {
      assert.strictEqual(Alone.misspelt.left._tag, "TemplateError")
      assert.include(Alone.misspelt.left.message, "usernme")
    }
  })
})

describe("docs/library.md", () => {
  it("quotes each snippet from the example file it names, word for word", () => {
    const doc = Fs.readFileSync(Path.join(repositoryRoot, "docs/library.md"), "utf8")
    const quoted = [...doc.matchAll(/From \[(examples\/[\w.-]+)\]\([^)]*\):\n\n```ts\n([\s\S]*?)\n```/g)]
    assert.isAtLeast(quoted.length, 7)
    assert.strictEqual(quoted.length, doc.split("```ts").length - 1, "every snippet names its file")
    for (const [, file, snippet] of quoted) {
      assert.include(Fs.readFileSync(Path.join(repositoryRoot, file!), "utf8"), snippet!, file)
    }
  })
})
