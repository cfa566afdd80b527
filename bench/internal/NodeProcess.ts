/**
 * Node child processes for the benchmarks: started with tsx from the repository root, stopped when their scope
 * closes, and measured (wall time, and with `measure` the peak memory and CPU time the child reports on exit).
 */
import { Data, Duration, Effect } from "effect"
import type { Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export const repositoryRoot = Path.resolve(import.meta.dirname, "..", "..")

/** Writes the child's own resource usage to a file when it exits (see `internal/resourceUsage.ts`). */
const resourceUsagePreload = Path.join(import.meta.dirname, "resourceUsage.ts")

export class ProcessError extends Data.TaggedError("ProcessError")<{
  readonly command: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.command}: ${this.reason}`
  }
}

/** What a child reports about itself on exit: `process.resourceUsage()`. */
export interface Usage {
  readonly maxRssBytes: number
  readonly userCpuMillis: number
  readonly systemCpuMillis: number
}

export interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly wallMillis: number
  /** Present when the child was started with `measure`. */
  readonly usage: Usage | undefined
}

export interface Options {
  /** Variables added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** Report the child's peak memory and CPU time (needs the tsx loader: not with `plain`). */
  readonly measure?: boolean
  /** Node flags placed before the script, e.g. `--cpu-prof`. */
  readonly nodeFlags?: ReadonlyArray<string>
  /** Without tsx: for the bare-Node start-up baseline. */
  readonly plain?: boolean
  /** Kills the child and fails after this long (default 10 minutes). */
  readonly timeoutMillis?: number
}

/** Runs a script to its end and collects its output. Killed when the surrounding fiber is interrupted. */
export const run = (
  script: string,
  args: ReadonlyArray<string>,
  options: Options = {}
): Effect.Effect<Finished, ProcessError> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const usageFile = options.measure === true
        ? Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-bench-usage-")), "usage.json")
        : undefined
      const started = performance.now()
      const child = start(script, args, options, usageFile)
      return { child, started, usageFile }
    }),
    ({ child, started, usageFile }) =>
      Effect.async<Finished, ProcessError>((resume) => {
        let stdout = ""
        let stderr = ""
        child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
        child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
        child.on("error", (error) => resume(Effect.fail(new ProcessError({ command: script, reason: error.message }))))
        child.on("close", (code) => {
          const wallMillis = performance.now() - started
          resume(Effect.succeed({ code, stdout, stderr, wallMillis, usage: readUsage(usageFile) }))
        })
      }).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(options.timeoutMillis ?? 600_000),
          onTimeout: () =>
            new ProcessError({
              command: script,
              reason: `did not finish within ${Math.round((options.timeoutMillis ?? 600_000) / 1000)} s`
            })
        })
      ),
    ({ child, usageFile }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        if (usageFile !== undefined) Fs.rmSync(Path.dirname(usageFile), { recursive: true, force: true })
      })
  )

export interface Running {
  readonly child: ChildProcess
  /** Lines the child wrote to stdout so far. */
  readonly lines: () => ReadonlyArray<string>
}

/**
 * Starts a long-running script (a server) for the lifetime of the scope: SIGINT at the end, SIGKILL if it is still
 * there a few seconds later.
 */
export const serve = (
  script: string,
  args: ReadonlyArray<string>,
  options: Options = {}
): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = start(script, args, options, undefined)
      let stdout = ""
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
      child.stderr?.resume()
      return { child, lines: () => stdout.split("\n").filter((line) => line.length > 0) }
    }),
    ({ child }) => stop(child)
  )

const stop = (child: ChildProcess): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
    child.once("close", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    child.kill("SIGINT")
  })

const start = (
  script: string,
  args: ReadonlyArray<string>,
  options: Options,
  usageFile: string | undefined
): ChildProcess => {
  const loader = options.plain === true ? [] : ["--import", "tsx"]
  const preload = usageFile === undefined ? [] : ["--import", resourceUsagePreload]
  return spawn(process.execPath, [...(options.nodeFlags ?? []), ...loader, ...preload, script, ...args], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      ...options.env,
      ...(usageFile === undefined ? {} : { COMMENT_DM_BENCH_USAGE_FILE: usageFile })
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
}

const readUsage = (usageFile: string | undefined): Usage | undefined => {
  if (usageFile === undefined || !Fs.existsSync(usageFile)) return undefined
  const usage: NodeJS.ResourceUsage = JSON.parse(Fs.readFileSync(usageFile, "utf8"))
  return {
    maxRssBytes: usage.maxRSS * 1024,
    userCpuMillis: usage.userCPUTime / 1000,
    systemCpuMillis: usage.systemCPUTime / 1000
  }
}
