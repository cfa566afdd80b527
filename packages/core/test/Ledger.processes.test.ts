import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Url from "node:url"

const source = (module: string) => Url.fileURLToPath(new URL(`../src/${module}`, import.meta.url))

/**
 * A separate process on the ledger file: opens it (racing the other process to create the tables), records the same
 * people, says "ready", waits for "go" on stdin, then claims everyone in the given order and prints whom it won.
 */
const claimer = `
import { Effect } from "effect"
const [sqliteLedgerPath, ledgerPath, filename, runner, count, order] = process.argv.slice(1)
const SqliteLedger = await import(sqliteLedgerPath)
const { Ledger } = await import(ledgerPath)
const people = Array.from({ length: Number(count) }, (_, i) => ({
  campaign: "processes", platform: "instagram", userId: "user-" + i, step: "first_message", username: undefined, postId: "post",
  commentId: "comment-" + i, commentText: "guide", commentTime: undefined, keyword: "guide"
}))
if (order === "reverse") people.reverse()
const go = new Promise((resolve) => process.stdin.once("data", resolve))
const program = Effect.gen(function*() {
  const ledger = yield* Ledger
  yield* ledger.discover(people)
  console.log("ready")
  yield* Effect.promise(() => go)
  const won = []
  for (const person of people) {
    if (yield* ledger.claim(person, { message: "Hi", runner, lease: "1 minute" })) won.push(person.userId)
  }
  console.log(JSON.stringify(won))
})
await Effect.runPromise(program.pipe(Effect.provide(SqliteLedger.layer({ filename }))))
process.exit(0)
`

interface Claimer {
  readonly ready: Promise<void>
  readonly go: () => void
  readonly won: Promise<Array<string>>
}

/** Starts a claimer process, killed when the test's scope closes if it is still running. */
const startClaimer = (filename: string, runner: string, count: number, order: "forward" | "reverse") =>
  Effect.acquireRelease(
    Effect.sync(() => spawnClaimer(filename, runner, count, order)),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.kill())
  )

const spawnClaimer = (
  filename: string,
  runner: string,
  count: number,
  order: "forward" | "reverse"
): Claimer & { readonly child: ChildProcess.ChildProcess } => {
  const child = ChildProcess.spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      claimer,
      source("SqliteLedger.ts"),
      source("Ledger.ts"),
      filename,
      runner,
      String(count),
      order
    ],
    { cwd: Path.dirname(source("Ledger.ts")), stdio: ["pipe", "pipe", "pipe"] }
  )
  let stdout = ""
  let stderr = ""
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  child.stdout.on("data", (data: Buffer) => {
    stdout += data.toString()
    if (stdout.startsWith("ready\n")) onReady()
  })
  child.stderr.on("data", (data: Buffer) => (stderr += data.toString()))
  const won = new Promise<Array<string>>((resolve, reject) =>
    child.on("exit", (code) => {
      const last = stdout.trim().split("\n").at(-1)
      if (code === 0 && last !== undefined) resolve(JSON.parse(last))
      else reject(new Error(`claimer ${runner} exited with ${code}: ${stderr}`))
    })
  )
  return { child, ready: Promise.race([ready, won.then(() => {})]), go: () => child.stdin.end("go\n"), won }
}

describe("SqliteLedger across processes", () => {
  it.scoped("two processes opening a fresh file claim each person exactly once", () =>
    Effect.gen(function*() {
      const directory = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-ledger-"))),
        (path) => Effect.sync(() => Fs.rmSync(path, { recursive: true, force: true }))
      )
      const filename = Path.join(directory, "ledger.sqlite")
      const count = 200
      const first = yield* startClaimer(filename, "runner-a", count, "forward")
      const second = yield* startClaimer(filename, "runner-b", count, "reverse")
      yield* Effect.promise(() => Promise.all([first.ready, second.ready]))
      first.go()
      second.go()
      const [wonByFirst, wonBySecond] = yield* Effect.promise(() => Promise.all([first.won, second.won]))

      assert.strictEqual(wonByFirst.length + wonBySecond.length, count)
      assert.strictEqual(new Set([...wonByFirst, ...wonBySecond]).size, count)
      assert.strictEqual(Fs.statSync(filename).mode & 0o777, 0o600)
    }), 20_000)
})
