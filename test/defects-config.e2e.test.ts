/**
 * Issue 13, the configuration defects: ledger settings that forget or leak, a key the HTTP layer cannot send, and the
 * smaller points of item 15. Each test runs the real command against the sandbox, so it survives an engine rebuild.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type CliOptions, type CliResult, finished, repositoryRoot, writeCampaign } from "./support/cli.js"
import { command } from "./support/crash-kill.js"
import * as Stage from "./support/crash-stage.js"
import * as World from "./support/crash-world.js"

/** Command starts are CPU-bound: two at a time keep both cores busy without slowing each other down. */
const parallel = 2

const exitOf = (result: CliResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

/** Every request the sandbox has received, of any endpoint. */
const requestsAt = (stage: Stage.Stage) =>
  Effect.map(stage.sandbox.stats, (stats) => Object.values(stats.requests).reduce((sum, count) => sum + count, 0))

/** The stage's environment plus `env` (a value of undefined removes the variable). */
const withEnv = (stage: Stage.Stage, env: Readonly<Record<string, string | undefined>>): CliOptions => ({
  ...stage.options,
  env: { ...stage.options.env, ...env }
})

/** Runs one statement on a SQLite file with a plain client: what another program (or version) could do to it. */
const execute = (filename: string, statement: string, parameters: ReadonlyArray<unknown> = []) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement, parameters)).pipe(
    Effect.provide(SqliteClient.layer({ filename })),
    Effect.orDie
  )

const modeOf = (path: string) => Fs.statSync(path).mode & 0o777

const all = <A, B>(items: ReadonlyArray<A>, f: (item: A) => Effect.Effect<B>) =>
  Effect.forEach(items, f, { concurrency: parallel })

describe("13.1 an empty or in-memory ledger setting", () => {
  it.scopedLive(
    "13.1 an empty, blank or in-memory --db or COMMENT_DM_DB stops every command with exit 2 naming the setting, " +
      "before any request and without creating a file",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1301, posts: 1, commentsPerPost: 20 }) })
        const directory = Path.dirname(stage.campaignFile)
        const inDirectory = (options: CliOptions): CliOptions => ({ ...options, cwd: directory })
        const spellings = [
          "",
          "   ",
          "\t",
          ":memory:",
          ":MEMORY:",
          "file::memory:",
          "file::memory:?cache=shared",
          "file:ledger.sqlite?mode=memory",
          "ledger.sqlite?mode=memory&cache=shared",
          "file:ledger.sqlite",
          "FILE:///tmp/ledger.sqlite"
        ]
        const cases = [
          ...spellings.map((spelling) => ({
            label: `--db ${JSON.stringify(spelling)}`,
            args: ["run", stage.campaignFile, "--db", spelling, "--json"],
            options: inDirectory(stage.options),
            setting: "--db"
          })),
          ...spellings.map((spelling) => ({
            label: `COMMENT_DM_DB=${JSON.stringify(spelling)}`,
            args: ["run", stage.campaignFile, "--json"],
            options: inDirectory(withEnv(stage, { COMMENT_DM_DB: spelling })),
            setting: "COMMENT_DM_DB"
          })),
          // The read-only commands fall back to an empty ledger only for a file that does not exist yet.
          ...[["status"], ["export"], ["run", "--dry-run"], ["reconcile"], ["watch", "--once"]].flatMap((
            [subcommand, ...rest]
          ) => [
            {
              label: `${subcommand} COMMENT_DM_DB=""`,
              args: [subcommand!, stage.campaignFile, ...rest],
              options: inDirectory(withEnv(stage, { COMMENT_DM_DB: "" })),
              setting: "COMMENT_DM_DB"
            },
            {
              label: `${subcommand} --db :memory:`,
              args: [subcommand!, stage.campaignFile, "--db", ":memory:", ...rest],
              options: inDirectory(stage.options),
              setting: "--db"
            }
          ])
        ]
        const results = yield* all(cases, (testCase) => command(testCase.args, testCase.options))
        cases.forEach((testCase, index) => {
          const result = results[index]!
          stage.keep(testCase.label, result)
          assert.strictEqual(result.code, 2, `${testCase.label}: ${exitOf(result)}`)
          assert.include(result.stderr, testCase.setting, testCase.label)
          assert.match(result.stderr, /ledger/, testCase.label)
        })
        assert.strictEqual(yield* requestsAt(stage), 0, "no request reached the sandbox")
        assert.deepStrictEqual(Fs.readdirSync(directory), ["campaign.json"], "no ledger file was created")
        stage.assertNothingLeaked()
      }),
    { timeout: 240_000 }
  )
})

describe("13.4 --db and the permissions of existing files", () => {
  it.scopedLive(
    "13.4 status and run leave the mode of an existing file as it was; only a ledger the command creates is 0600; " +
      "a directory is refused untouched",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1304, posts: 1, commentsPerPost: 20 }) })
        const directory = Path.dirname(stage.campaignFile)

        const created = yield* stage.cli("run")
        assert.strictEqual(created.code, 0, exitOf(created))
        assert.strictEqual(modeOf(stage.db), 0o600, "the ledger the command created is private")

        // The owner widens the ledger on purpose (a group that audits it): the command must not undo that.
        Fs.chmodSync(stage.db, 0o640)
        const again = yield* stage.cli("run")
        assert.strictEqual(again.code, 0, exitOf(again))
        assert.strictEqual(modeOf(stage.db), 0o640, "an existing ledger keeps its mode")

        const notALedger = Path.join(directory, "notaledger.txt")
        Fs.writeFileSync(notALedger, "shopping list\n")
        Fs.chmodSync(notALedger, 0o644)
        const notes = Path.join(directory, "notes")
        Fs.mkdirSync(notes, { mode: 0o755 })
        Fs.chmodSync(notes, 0o755)
        const results = yield* all(
          [["status", notALedger], ["run", notALedger], ["status", notes], ["run", notes]] as const,
          ([subcommand, db]) => command([subcommand, stage.campaignFile, "--db", db], stage.options)
        )
        for (const result of results) {
          stage.keep("existing file", result)
          assert.notStrictEqual(result.code, 0, exitOf(result))
        }
        assert.strictEqual(modeOf(notALedger), 0o644, "a file that is not a ledger keeps its mode")
        assert.strictEqual(Fs.readFileSync(notALedger, "utf8"), "shopping list\n", "and its content")
        assert.strictEqual(modeOf(notes), 0o755, "a directory keeps its mode")
        assert.strictEqual(results[2]!.code, 2, exitOf(results[2]!))
        assert.match(results[2]!.stderr, /--db .*not a (regular )?file/, exitOf(results[2]!))
        assert.strictEqual(results[3]!.code, 2, exitOf(results[3]!))
      }),
    { timeout: 120_000 }
  )
})

describe("13.7 a mistyped PostgreSQL URL", () => {
  it.scopedLive(
    "13.7 a mistyped or malformed ledger URL never prints its password, from --db or COMMENT_DM_DB",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1307, posts: 1, commentsPerPost: 20 }) })
        const password = "S3cretPW"
        const typos = [
          `postgress://comment_dm:${password}@127.0.0.1:15432/x`,
          `postgre://comment_dm:${password}@127.0.0.1:15432/x`,
          `pg://comment_dm:${password}@127.0.0.1:15432/x`,
          `postgres:/comment_dm:${password}@127.0.0.1:15432/x`,
          ` postgres://comment_dm:${password}@127.0.0.1:15432/x`,
          `postgres://comment_dm:${password}@127.0.0.1:15432/x `,
          `pg://comment_dm:${password}/with/slashes@127.0.0.1:15432/x`,
          `postgresql:comment_dm:${password}@127.0.0.1:15432/x`,
          `comment_dm:${password}@127.0.0.1/x`
        ]
        const cases = typos.flatMap((typo) => [
          { label: `run --db ${typo}`, args: ["run", stage.campaignFile, "--db", typo], options: stage.options },
          {
            label: `status COMMENT_DM_DB=${typo}`,
            args: ["status", stage.campaignFile],
            options: withEnv(stage, { COMMENT_DM_DB: typo })
          }
        ])
        const results = yield* all(cases, (testCase) => command(testCase.args, testCase.options))
        cases.forEach((testCase, index) => {
          const result = results[index]!
          stage.keep(testCase.label, result)
          assert.notInclude(result.stdout + result.stderr, password, `${testCase.label}: ${exitOf(result)}`)
        })
        // The plain path is a path: `run` cannot create it (no such directory), `status` reads it as empty.
        assert.strictEqual(results.at(-2)!.code, 1, exitOf(results.at(-2)!))
        assert.match(results.at(-2)!.stderr, /could not open the ledger at comment_dm:\*\*\*@127\.0\.0\.1\/x/)
        // Every form that is neither a plain path nor a postgres:// URL is a configuration error.
        results.slice(0, -2).forEach((result, index) => {
          assert.strictEqual(result.code, 2, `${cases[index]!.label}: ${exitOf(result)}`)
          assert.match(result.stderr, /^comment-dm: (--db|COMMENT_DM_DB) "/, cases[index]!.label)
        })
        assert.strictEqual(yield* stage.sendRequests, 0)
      }),
    { timeout: 240_000 }
  )
})

describe("13.11 an API key with whitespace, control characters or emoji", () => {
  it.scopedLive(
    "13.11 surrounding whitespace is trimmed with a notice; a control character or non-ASCII is refused with exit " +
      "2 naming UPLOAD_POST_API_KEY, before any request and without echoing the key",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1311, posts: 1, commentsPerPost: 20 }) })
        const trimmed = yield* command(
          stage.args("run", "--json"),
          withEnv(stage, { UPLOAD_POST_API_KEY: `${stage.key}\n` })
        )
        stage.keep("trailing newline", trimmed)
        assert.strictEqual(trimmed.code, 0, exitOf(trimmed))
        assert.match(trimmed.stderr, /UPLOAD_POST_API_KEY.*whitespace/, exitOf(trimmed))
        assert.isAbove((yield* stage.sandbox.deliveries).length, 0, "the trimmed key was accepted")

        const padded = yield* command(
          stage.args("run", "--json"),
          withEnv(stage, { UPLOAD_POST_API_KEY: ` ${stage.key}\r\n` })
        )
        stage.keep("padded", padded)
        assert.strictEqual(padded.code, 0, exitOf(padded))

        const requestsBefore = yield* requestsAt(stage)
        const bad = [
          { label: "ESC at the end", key: `${stage.key}\u001b` },
          { label: "ESC sequence inside", key: `${stage.key.slice(0, 8)}\u001b[2J${stage.key.slice(8)}` },
          { label: "emoji", key: `${stage.key}🔑` },
          { label: "newline inside", key: `${stage.key.slice(0, 8)}\n${stage.key.slice(8)}` },
          { label: "NBSP inside", key: `${stage.key.slice(0, 8)}\u00a0${stage.key.slice(8)}` },
          { label: "accented letter", key: `${stage.key}é` },
          { label: "DEL", key: `${stage.key}\u007f` },
          { label: "space inside", key: `${stage.key.slice(0, 8)} ${stage.key.slice(8)}` }
        ]
        const results = yield* all(
          bad,
          ({ key }) => command(stage.args("run", "--json"), withEnv(stage, { UPLOAD_POST_API_KEY: key }))
        )
        bad.forEach(({ key, label }, index) => {
          const result = results[index]!
          stage.keep(label, result)
          assert.strictEqual(result.code, 2, `${label}: ${exitOf(result)}`)
          assert.include(result.stderr, "UPLOAD_POST_API_KEY", label)
          assert.notInclude(result.stderr, "ERR_INVALID_CHAR", label)
          assert.notInclude(result.stderr + result.stdout, key.trim(), label)
          assert.notInclude(result.stderr + result.stdout, stage.key.slice(8), `${label}: no part of the key`)
        })
        assert.strictEqual(yield* requestsAt(stage), requestsBefore, "no request was made with a bad key")
        stage.assertNothingLeaked()
      }),
    { timeout: 240_000 }
  )
})

/** Whether this machine lets an unprivileged user namespace bind-mount a directory read-only. */
const canMountReadOnly = (() => {
  const probe = Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-probe-ro-"))
  try {
    const result = spawnSync("unshare", [
      "-rm",
      "sh",
      "-c",
      "mount --bind -o ro \"$0\" \"$0\" && ! touch \"$0/x\" 2>/dev/null",
      probe
    ])
    return result.status === 0
  } catch {
    return false
  } finally {
    Fs.rmSync(probe, { recursive: true, force: true })
  }
})()

/** The command in a mount namespace where `directory` is mounted read-only, like a ledger on a read-only volume. */
const commandOnReadOnly = (directory: string, args: ReadonlyArray<string>, options: CliOptions) =>
  Effect.promise(() => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env }
    delete env.COMMENT_DM_DB
    const child = spawn(
      "unshare",
      [
        "-rm",
        "sh",
        "-c",
        "mount --bind -o ro \"$0\" \"$0\" && exec \"$@\"",
        directory,
        process.execPath,
        Path.join(repositoryRoot, "build", "bin", "comment-dm.mjs"),
        ...args
      ],
      { env, stdio: ["ignore", "pipe", "pipe"] }
    )
    return finished(child, options.timeoutMs)
  })

describe("13.15 smaller points", () => {
  it.scopedLive(
    "13.15 a ledger with a newer schema version is refused with exit 2, naming both versions, and left as it was",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1315, posts: 1, commentsPerPost: 20 }) })
        const first = yield* stage.cli("run", "--max-sends", "2")
        assert.strictEqual(first.code, 5, exitOf(first))
        const deliveries = (yield* stage.sandbox.deliveries).length
        // What a newer comment-dm on another host leaves behind: a migration this version does not know.
        yield* execute(
          stage.db,
          "INSERT INTO comment_dm_migrations (migration_id, name) VALUES (9999, 'from_the_future')"
        )
        const results = yield* all(["run", "status", "export", "reconcile"], (subcommand) => stage.cli(subcommand))
        for (const result of results) {
          assert.strictEqual(result.code, 2, exitOf(result))
          assert.include(result.stderr, "9999", exitOf(result))
          assert.match(result.stderr, /version \d+/, exitOf(result))
          assert.match(result.stderr, /upgrade comment-dm/i, exitOf(result))
        }
        assert.strictEqual((yield* stage.sandbox.deliveries).length, deliveries, "nothing was sent")
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "13.15 --max-sends -1 is refused like max_sends: -5; --max-sends 0 sends nothing and keeps everyone pending",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1316, posts: 1, commentsPerPost: 30 }) })
        const directory = Path.dirname(stage.campaignFile)
        const inFile = writeCampaign(directory, "negative.json", { ...World.campaign(stage.world), max_sends: -5 })
        const [flag, file] = yield* all([
          command(stage.args("run", "--max-sends", "-1", "--json"), stage.options),
          command(["run", inFile, "--db", stage.db, "--json"], stage.options)
        ], (effect) => effect)
        stage.keep("--max-sends -1", flag!)
        stage.keep("max_sends: -5", file!)
        assert.strictEqual(file!.code, 2, exitOf(file!))
        assert.strictEqual(flag!.code, 2, exitOf(flag!))
        assert.include(flag!.stdout + flag!.stderr, "--max-sends", exitOf(flag!))
        assert.strictEqual(yield* requestsAt(stage), 0)

        const zero = yield* stage.cli("run", "--max-sends", "0", "--json")
        assert.strictEqual(zero.code, 5, exitOf(zero))
        assert.deepStrictEqual(yield* stage.sandbox.deliveries, [])
        const entries = yield* stage.entries
        assert.strictEqual(entries.length, stage.world.matching.size)
        assert.isTrue(entries.every((entry) => entry.state === "pending"), "everyone is recorded as pending")
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "13.15 status says in one sentence what run will do with people claimed by another runner",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1317, posts: 1, commentsPerPost: 30 }) })
        const recorded = yield* stage.cli("run", "--max-sends", "0")
        assert.strictEqual(recorded.code, 5, exitOf(recorded))
        // Another runner holds three of them right now: claimed, with a lease that has not run out.
        yield* execute(
          stage.db,
          `UPDATE comment_dm_recipients SET state = 'claimed', claimed_by = 'other-runner', claimed_at = ?, lease_until = ?
           WHERE rowid IN (SELECT rowid FROM comment_dm_recipients LIMIT 3)`,
          [Date.now(), Date.now() + 3_600_000]
        )
        const status = yield* stage.cli("status")
        assert.strictEqual(status.code, 0, exitOf(status))
        const next = status.stdout.split("\n").find((line) => line.startsWith("next: "))
        assert.isDefined(next, status.stdout)
        assert.notMatch(next!, /will \d/, next)
        assert.match(next!, /^next: `run` will \D.*3 people claimed by another runner/, next)
        assert.match(next!, /send to \d+ pending people/, next)
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "13.15 a deeply nested or one-line campaign file is refused with a short excerpt, not the whole line",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1318, posts: 1, commentsPerPost: 5 }) })
        const directory = Path.dirname(stage.campaignFile)
        const depth = 100_000
        const files = [
          writeCampaign(directory, "deep.json", "[".repeat(depth) + "]".repeat(depth)),
          writeCampaign(directory, "deep-name.json", `{"name":${"[".repeat(depth)}${"]".repeat(depth)}}`),
          writeCampaign(directory, "deep.yaml", "[".repeat(depth) + "]".repeat(depth)),
          writeCampaign(directory, "unclosed.json", "[".repeat(depth) + "]".repeat(depth - 1)),
          // A syntax error at the end of a 250,000-character line.
          writeCampaign(directory, "long-line.yaml", `name: x\nposts: [${"\"1\", ".repeat(50_000)}}]\n`),
          // A valid file whose campaign has a 300,000-character unknown key.
          writeCampaign(directory, "long-key.json", { ...World.campaign(stage.world), ["k".repeat(300_000)]: 1 })
        ]
        const results = yield* all(files, (file) => command(["run", file, "--db", stage.db], stage.options))
        files.forEach((file, index) => {
          const result = results[index]!
          assert.strictEqual(result.code, 2, `${file}: exit ${result.code}, ${result.stderr.slice(0, 500)}`)
          assert.include(result.stderr, Path.basename(file))
          assert.isBelow(result.stderr.length + result.stdout.length, 1_500, `${file}: ${result.stderr.slice(0, 500)}`)
        })
        assert.match(results[0]!.stderr, /nest/, results[0]!.stderr)
        assert.strictEqual(yield* requestsAt(stage), 0)
      }),
    { timeout: 120_000 }
  )
})

describe.skipIf(!canMountReadOnly)("13.15 a ledger on a read-only mount", () => {
  it.scopedLive(
    "13.15 status and run on a read-only mount say that the file system is read-only, not that the directory is " +
      "missing",
    () =>
      Effect.gen(function*() {
        const stage = yield* Stage.make({ world: World.make({ seed: 1319, posts: 1, commentsPerPost: 20 }) })
        const volume = Path.join(Path.dirname(stage.campaignFile), "volume")
        Fs.mkdirSync(volume)
        const db = Path.join(volume, "ledger.sqlite")
        const created = yield* command(["run", stage.campaignFile, "--db", db, "--max-sends", "1"], stage.options)
        assert.strictEqual(created.code, 5, exitOf(created))
        const cases = [
          ["status", stage.campaignFile, "--db", db],
          ["run", stage.campaignFile, "--db", db],
          ["run", stage.campaignFile, "--db", Path.join(volume, "fresh.sqlite")]
        ]
        const results = yield* all(cases, (args) => commandOnReadOnly(volume, args, stage.options))
        cases.forEach((args, index) => {
          const result = results[index]!
          stage.keep(args.join(" "), result)
          assert.strictEqual(result.code, 1, `${args.join(" ")}: ${exitOf(result)}`)
          assert.match(result.stderr, /read-only file system/i, exitOf(result))
          assert.notInclude(result.stderr, "existing directory", exitOf(result))
          assert.notInclude(result.stderr, "not writable by this user", exitOf(result))
        })
        stage.assertNothingLeaked()
      }),
    { timeout: 120_000 }
  )
})
