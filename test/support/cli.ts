/**
 * Runs the real `comment-dm` command as a child process, the way a user does: the bundle build/bin/comment-dm.mjs
 * with plain Node (scripts/build.ts, Vitest's global set-up, builds it once per test run).
 * COMMENT_DM_TEST_FROM_SOURCE=1 runs packages/runner/src/bin.ts through tsx instead, for debugging.
 */
import { afterAll } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export const repositoryRoot = Path.resolve(import.meta.dirname, "..", "..")

const commandLine: ReadonlyArray<string> = process.env.COMMENT_DM_TEST_FROM_SOURCE === "1"
  ? ["--import", "tsx", Path.join(repositoryRoot, "packages", "runner", "src", "bin.ts")]
  : [Path.join(repositoryRoot, "build", "bin", "comment-dm.mjs")]

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface CliOptions {
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
  /** Kills the child after this long (default 60 s) so a hung run fails the test instead of the suite. */
  readonly timeoutMs?: number
}

/**
 * A home directory of this test file's own, so that a command without `--db` keeps its per-user ledger there and
 * never in the real home of whoever runs the tests; removed after the file's tests.
 */
export const isolatedHome: string = Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-home-"))
afterAll(() => Fs.rmSync(isolatedHome, { recursive: true, force: true }))

/**
 * The environment a run gets: this process's, without any Upload-Post or ledger settings, with a home of the tests'
 * own ({@link isolatedHome}), plus `env`.
 */
const childEnv = (env: CliOptions["env"]): NodeJS.ProcessEnv => {
  const base: NodeJS.ProcessEnv = { ...process.env }
  delete base.UPLOAD_POST_API_KEY
  delete base.UPLOAD_POST_BASE_URL
  delete base.COMMENT_DM_DB
  const home = isolatedHome
  base.HOME = home
  base.USERPROFILE = home
  base.LOCALAPPDATA = Path.join(home, "AppData", "Local")
  base.XDG_DATA_HOME = Path.join(home, ".local", "share")
  for (const [key, value] of Object.entries(env ?? {})) {
    if (value === undefined) delete base[key]
    else base[key] = value
  }
  return base
}

/** Starts the command; the caller decides when (and how) it ends. */
export const startCli = (args: ReadonlyArray<string>, options: CliOptions = {}): ChildProcess =>
  spawn(process.execPath, [...commandLine, ...args], {
    cwd: options.cwd ?? repositoryRoot,
    env: childEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"]
  })

/** Collects a started command's output until it exits. */
export const finished = (child: ChildProcess, timeoutMs = 60_000): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    let stdout = ""
    let stderr = ""
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })

/** Kills the children still running (SIGKILL) and waits until every one has closed. */
export const stopAll = (children: ReadonlyArray<ChildProcess>): Promise<unknown> => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  return Promise.all(
    children.map((child) =>
      new Promise((resolve) =>
        child.exitCode === null && child.signalCode === null ? child.once("close", resolve) : resolve(undefined)
      )
    )
  )
}

export const runCli = (args: ReadonlyArray<string>, options: CliOptions = {}): Promise<CliResult> =>
  finished(startCli(args, options), options.timeoutMs)

/** The `--json` summary: the last line of stdout. */
export const jsonSummary = (result: CliResult): {
  readonly campaign: string
  readonly outcome: string
  readonly counts: Readonly<Record<string, number>>
} => {
  const lines = result.stdout.trim().split("\n")
  const last = lines[lines.length - 1]
  if (last === undefined) throw new Error(`no output; stderr: ${result.stderr}`)
  return JSON.parse(last)
}

/** A fresh directory for a test's ledger and campaign files, removed by `cleanup`. */
export const tempDir = (prefix = "comment-dm-test-"): { readonly path: string; readonly cleanup: () => void } => {
  const path = Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))
  return { path, cleanup: () => Fs.rmSync(path, { recursive: true, force: true }) }
}

/** Writes a campaign file (YAML or JSON by extension) into `dir` and returns its path. */
export const writeCampaign = (dir: string, name: string, content: string | object): string => {
  const path = Path.join(dir, name)
  Fs.writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2))
  return path
}
