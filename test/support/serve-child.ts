/**
 * `comment-dm serve` as a child process with `--log-format json`: its log lines parsed, a wait on a condition that
 * fails early when the process exits, and its `/healthz` read at the address its `Listening` line gives.
 */
import type { ChildProcess } from "node:child_process"
import { type CliResult, startCli } from "./cli.js"

export interface ServeLogLine {
  readonly time: string
  readonly level: string
  readonly message: string
  readonly campaign?: string
  readonly profile?: string
  readonly file?: string
  readonly person?: string
  readonly event?: string
}

export interface Healthz {
  readonly status: string
  readonly ledger: string
  readonly parked_profiles: ReadonlyArray<string>
  readonly campaigns: ReadonlyArray<{
    readonly name: string
    readonly file: string
    readonly profile: string
    readonly state: string
    readonly reason: string | null
    readonly retry_at: string | null
    readonly file_problem: string | null
    readonly sent: number
  }>
  readonly files: ReadonlyArray<{ readonly path: string; readonly problem: string }>
}

export interface ServeChild {
  readonly child: ChildProcess
  readonly lines: () => ReadonlyArray<ServeLogLine>
  readonly output: () => string
  readonly until: (what: string, done: () => boolean | Promise<boolean>, timeoutMs?: number) => Promise<void>
  /** The `--http` address its `Listening` line gives, e.g. `http://127.0.0.1:41234`. */
  readonly address: () => string
  readonly healthz: () => Promise<{ readonly status: number; readonly body: Healthz; readonly text: string }>
  readonly exited: Promise<CliResult>
}

export const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/** Starts `comment-dm serve` with `args` (give `--log-format json` and `--http`) in exactly the environment `env`. */
export const startServe = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>): ServeChild => {
  const child = startCli(["serve", ...args], { env })
  let stdout = ""
  let stderr = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const exited = new Promise<CliResult>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  )
  const output = () => `stdout:\n${stdout}\nstderr:\n${stderr}`
  const lines = () =>
    stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as ServeLogLine)
  const until = async (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs
    while (!(await done())) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`serve exited (${child.exitCode ?? child.signalCode}) before ${what}\n${output()}`)
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output()}`)
      await sleep(50)
    }
  }
  const address = () => {
    const listening = lines().find((line) => line.event === "Listening")
    const found = listening === undefined ? null : /(http:\/\/[^/\s]+)\/healthz/.exec(listening.message)
    if (found?.[1] === undefined) throw new Error(`no --http address in the log\n${output()}`)
    return found[1]
  }
  const healthz = async () => {
    const answer = await fetch(`${address()}/healthz`)
    const text = await answer.text()
    return { status: answer.status, body: JSON.parse(text) as Healthz, text }
  }
  return { child, lines, output, until, address, healthz, exited }
}
