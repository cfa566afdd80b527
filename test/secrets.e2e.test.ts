/**
 * The API key never leaves the process: not in log lines, summaries, `status`, `reconcile`, exports or error
 * messages, and not in the ledger, which is private to its owner (mode 0600, journals included) whatever the umask.
 * Every suite of this directory checks its own outputs too; this one covers the text formats and the failures.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { closedPort } from "../packages/core/test/support/e2e-rawServer.js"
import { assertNoSecret, ledgerFiles, ledgerOutputs } from "./support/crash-checks.js"
import { command } from "./support/crash-kill.js"
import * as Stage from "./support/crash-stage.js"
import * as World from "./support/crash-world.js"

/** Runs `effect` with the umask that lets files be created world-readable unless their creator says otherwise. */
const withOpenUmask = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => process.umask(0o000)),
    () => effect,
    (previous) => Effect.sync(() => process.umask(previous))
  )

describe("the API key never leaks", () => {
  it.scopedLive(
    "log lines, reconcile, status and a CSV export name people and messages but never the key; the ledger is 0600",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({
          world: World.make({ seed: 401, posts: 1, commentsPerPost: 80, people: 50 }),
          faults: { resetAfterDeliveryRate: 0.3, latency: { minMs: 0, maxMs: 20 } }
        })
        const run = yield* withOpenUmask(stage.cli("run"))
        assert.strictEqual(run.code, 5, `some people are in doubt: ${run.stderr}`)
        assert.match(run.stdout, /^sent to @person_\d+ \(\d+\): message /m, "plain log lines")
        assert.match(run.stdout, /^in doubt @person_\d+/m)

        const [reconcile, status, csv] = yield* Effect.all([
          stage.cli("reconcile"),
          stage.cli("status"),
          stage.cli("export")
        ], { concurrency: 2 })
        assert.include([0, 5], reconcile.code, reconcile.stderr)
        assert.match(reconcile.stdout, /found sent/)
        assert.strictEqual(status.code, 0, status.stderr)
        assert.match(status.stdout, /matching commenters, 0 unaccounted/)
        assert.strictEqual(csv.code, 0, csv.stderr)
        assert.match(csv.stdout, /^campaign,platform,user_id/)

        assert.isAbove(ledgerFiles(stage.db).length, 0)
        stage.assertNothingLeaked()
      }),
    { timeout: 240_000 }
  )

  it.scopedLive(
    "a wrong key is refused with exit 4 and a message that names the setting, not the key",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 402, posts: 1, commentsPerPost: 20 }) })
        const wrongKey = World.secretKey()
        const result = yield* command(stage.args("run", "--json"), {
          ...stage.options,
          env: { UPLOAD_POST_BASE_URL: stage.sandbox.baseUrl, UPLOAD_POST_API_KEY: wrongKey }
        })
        stage.keep("wrong key", result)
        assert.strictEqual(result.code, 4, result.stderr)
        assert.include(result.stderr, "UPLOAD_POST_API_KEY")
        assert.deepStrictEqual(yield* stage.sandbox.deliveries, [])
        assertNoSecret(wrongKey, {
          stdout: result.stdout,
          stderr: result.stderr,
          ...ledgerOutputs(stage.db)
        })
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "a connection that is refused ends with exit 1 and a message without the key",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 403, posts: 1, commentsPerPost: 20 }) })
        const port = yield* Effect.promise(closedPort)
        const result = yield* command(stage.args("run", "--json"), {
          ...stage.options,
          env: { UPLOAD_POST_BASE_URL: `http://127.0.0.1:${port}/api`, UPLOAD_POST_API_KEY: stage.key }
        })
        stage.keep("refused connection", result)
        assert.strictEqual(result.code, 1, result.stderr)
        assert.match(result.stderr, /connection failed \(ECONNREFUSED\)/)
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )
})
