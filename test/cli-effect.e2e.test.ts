/**
 * Issue 16, the command the Effect way: `--every` checked as a usage error, `--db` falling back to `COMMENT_DM_DB`
 * (and saying so in `--help`), and SIGINT/SIGTERM outside a run. Each test runs the real command against the sandbox.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { type CliOptions, type CliResult, finished, jsonSummary, startCli } from "./support/cli.js"
import { command } from "./support/crash-kill.js"
import * as Stage from "./support/crash-stage.js"
import * as World from "./support/crash-world.js"

const exitOf = (result: CliResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

const requestsAt = (stage: Stage.Stage) =>
  Effect.map(stage.sandbox.stats, (stats) => Object.values(stats.requests).reduce((sum, count) => sum + count, 0))

const withEnv = (options: CliOptions, env: Readonly<Record<string, string | undefined>>): CliOptions => ({
  ...options,
  env: { ...options.env, ...env }
})

describe("watch --every", () => {
  it.scopedLive(
    "an interval under a second or that is no duration is a usage error (exit 2) naming --every and the value, " +
      "before the campaign file is read, any request or any ledger",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1601, posts: 1, commentsPerPost: 10 }) })
        const directory = Path.dirname(stage.campaignFile)
        const missing = Path.join(directory, "missing.yaml")
        const values = ["0.5s", "999ms", "abc", "", "1e3", "-5s", "\u001b[2J"]
        for (const value of values) {
          const result = yield* command(
            ["watch", missing, "--every", value, "--once"],
            { ...stage.options, cwd: directory }
          )
          stage.keep(`--every ${JSON.stringify(value)}`, result)
          assert.strictEqual(result.code, 2, exitOf(result))
          const shown = value.replace("\u001b", "\\u001b")
          assert.include(
            result.stderr,
            `--every "${shown}": expected a duration from 1 second to 24 hours, such as 60s, 10s, 2m or 1h`,
            exitOf(result)
          )
          assert.notInclude(result.stderr, "\u001b", "the value's escape sequence is shown, not acted on")
          assert.notInclude(result.stderr, "no such file", "the campaign file was not read")
          assert.strictEqual(result.stdout, "")
        }
        assert.strictEqual(yield* requestsAt(stage), 0, "no request reached the sandbox")
        assert.deepStrictEqual(Fs.readdirSync(directory), ["campaign.json"], "no ledger file was created")
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "an interval of a second or more polls: --every 1.5s --once reads the post and exits 0",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1602, posts: 1, commentsPerPost: 10 }) })
        const result = yield* stage.cli("watch", "--every", "1.5s", "--once", "--json")
        assert.strictEqual(result.code, 0, exitOf(result))
        assert.match(result.stdout, /"outcome":"completed"/)
      }),
    { timeout: 60_000 }
  )
})

describe("--db and COMMENT_DM_DB", () => {
  it.scopedLive(
    "--db wins over COMMENT_DM_DB (an unusable value is then not checked), COMMENT_DM_DB over ./comment-dm.sqlite, " +
      "and every subcommand's --help says that --db can be set from the environment",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1603, posts: 1, commentsPerPost: 10 }) })
        const directory = Path.dirname(stage.campaignFile)
        const inDirectory = { ...stage.options, cwd: directory }

        const flagged = yield* command(
          ["run", stage.campaignFile, "--db", "flag.sqlite", "--json"],
          withEnv(inDirectory, { COMMENT_DM_DB: directory })
        )
        stage.keep("--db over COMMENT_DM_DB", flagged)
        assert.strictEqual(flagged.code, 0, exitOf(flagged))
        assert.isTrue(Fs.existsSync(Path.join(directory, "flag.sqlite")), "the ledger is where --db says")

        const fromEnvironment = yield* command(
          ["status", stage.campaignFile, "--json"],
          withEnv(inDirectory, { COMMENT_DM_DB: Path.join(directory, "flag.sqlite") })
        )
        stage.keep("COMMENT_DM_DB", fromEnvironment)
        assert.strictEqual(fromEnvironment.code, 0, exitOf(fromEnvironment))
        assert.strictEqual(
          JSON.parse(fromEnvironment.stdout).counts.sent,
          jsonSummary(flagged).counts.sent,
          "status read the ledger COMMENT_DM_DB names"
        )
        assert.isAbove(jsonSummary(flagged).counts.sent ?? 0, 0)
        assert.isFalse(Fs.existsSync(Path.join(directory, "comment-dm.sqlite")), "the default was not used")

        for (const subcommand of ["run", "watch", "status", "reconcile", "export"]) {
          const help = yield* command([subcommand, "--help"], inDirectory)
          assert.strictEqual(help.code, 0, exitOf(help))
          // Help wraps an option's text in its column.
          const db = help.stdout.slice(help.stdout.indexOf("--db text")).replace(/\s+/g, " ")
          assert.include(
            db,
            "(default: $COMMENT_DM_DB, else one ledger per user: $XDG_DATA_HOME/comment-dm/ledger.sqlite",
            subcommand
          )
          // @effect/cli's "This option can be set from environment variables." is filler next to that (issue 17).
          assert.notInclude(db, "environment variables", subcommand)
        }
      }),
    { timeout: 120_000 }
  )
})

/**
 * A TCP server that accepts connections and never answers: a PostgreSQL URL at it keeps a ledger opening.
 * `connected` resolves at the next connection.
 */
const silentServer = Effect.acquireRelease(
  Effect.async<{
    readonly server: Net.Server
    readonly connected: () => Promise<void>
    readonly sockets: Set<Net.Socket>
  }>((resume) => {
    const sockets = new Set<Net.Socket>()
    let waiting: Array<() => void> = []
    const server = Net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      waiting.forEach((resolve) => resolve())
      waiting = []
    })
    const connected = () => new Promise<void>((resolve) => waiting.push(resolve))
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, connected, sockets })))
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
      sockets.forEach((socket) => socket.destroy())
    })
)

describe("signals outside a run", () => {
  it.scopedLive(
    "SIGINT or SIGTERM while a ledger opens ends the command with 130 and says so; a second signal does not wait",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1604, posts: 1, commentsPerPost: 10 }) })
        const { connected, server } = yield* silentServer
        const { port } = server.address() as Net.AddressInfo
        const url = `postgres://comment_dm:pw@127.0.0.1:${port}/ledger`
        for (const [signals, subcommand] of [[["SIGINT"], "status"], [["SIGTERM", "SIGTERM"], "run"]] as const) {
          const connecting = connected()
          const child = startCli([subcommand, stage.campaignFile, "--db", url], stage.options)
          const ended = finished(child, 60_000)
          // Signalled while the command waits for the ledger's database to answer.
          yield* Effect.promise(() => connecting)
          const signalledAt = Date.now()
          for (const signal of signals) {
            child.kill(signal)
            // Two signals of a kind sent at once reach the process as one.
            yield* Effect.sleep("300 millis")
          }
          const result = yield* Effect.promise(() => ended)
          stage.keep(`${signals.join("+")} ${subcommand}`, result)
          assert.strictEqual(result.code, 130, exitOf(result))
          assert.isNull(result.signal)
          assert.include(result.stderr, "stopped at once", exitOf(result))
          if (signals.length === 2) assert.isBelow(Date.now() - signalledAt, 2_000, "the second signal ends it now")
        }
        assert.strictEqual(yield* requestsAt(stage), 0)
      }),
    { timeout: 120_000 }
  )
})
