/**
 * The command as Effect values for the end-to-end suites: runs to the end, and runs killed with SIGKILL at a chosen
 * point (so many milliseconds into the reading of pages, or once the sandbox has delivered so many more DMs).
 */
import { Data, Duration, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import type { ChildProcess } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type CliOptions, type CliResult, finished, runCli, startCli } from "./cli.js"

/** Runs the command to its end. */
export const command = (args: ReadonlyArray<string>, options: CliOptions = {}): Effect.Effect<CliResult> =>
  Effect.promise(() => runCli(args, options))

/** A fresh directory, removed with everything in it when the scope closes. */
export const temporaryDirectory: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-crash-"))),
  (path) => Effect.sync(() => Fs.rmSync(path, { recursive: true, force: true }))
)

/** Where to kill a run. */
export type KillPoint = Data.TaggedEnum<{
  /** `afterMs` after the run starts reading pages (its "campaign …: reading" line). */
  Reading: { readonly afterMs: number }
  /** `afterMs` after the sandbox has delivered `deliveries` more DMs than when the run started. */
  Sending: { readonly deliveries: number; readonly afterMs: number }
}>
export const KillPoint = Data.taggedEnum<KillPoint>()

export const describeKillPoint = (point: KillPoint): string =>
  point._tag === "Reading"
    ? `${point.afterMs} ms into reading`
    : `${point.afterMs} ms after ${point.deliveries} more deliveries`

export interface KilledRun {
  readonly result: CliResult
  /** False when the run ended on its own before the kill point. */
  readonly killed: boolean
}

const startedLine = /^campaign \S+: reading/m

/** Resolves once the child has written a line matching `pattern` to stdout or stderr. */
const printed = (child: ChildProcess, pattern: RegExp): Promise<void> =>
  new Promise((resolve) => {
    let seen = ""
    const look = (chunk: string | Buffer) => {
      seen += chunk.toString()
      if (pattern.test(seen)) resolve()
    }
    child.stdout?.on("data", look)
    child.stderr?.on("data", look)
  })

/** A started command, killed when the scope closes if it still runs (a failed test leaves no process behind). */
const started = (args: ReadonlyArray<string>, options: CliOptions) =>
  Effect.acquireRelease(
    Effect.sync(() => startCli(args, options)),
    (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

/**
 * Starts the command and kills it with SIGKILL at `point`; `delivered` counts the sandbox's deliveries. The output is
 * collected either way.
 */
export const runAndKill = (
  args: ReadonlyArray<string>,
  options: CliOptions,
  point: KillPoint,
  delivered: Effect.Effect<number>
): Effect.Effect<KilledRun> =>
  Effect.scoped(Effect.gen(function*() {
    const before = yield* delivered
    const child = yield* started(args, options)
    // Attach the collectors before anything else reads the streams.
    const done = finished(child, options.timeoutMs)
    const reading = printed(child, startedLine)
    const exited = Effect.promise(() => done)
    const reached = KillPoint.$match(point, {
      Reading: () => Effect.void,
      Sending: ({ deliveries }) =>
        Effect.repeat(delivered, {
          until: (count) => count >= before + deliveries,
          schedule: Schedule.spaced("2 millis")
        })
    })
    const killPoint = Effect.promise(() => reading).pipe(
      Effect.zipRight(reached),
      Effect.zipRight(Effect.sleep(Duration.millis(point.afterMs)))
    )
    const first = yield* Effect.raceFirst(Effect.as(killPoint, "kill" as const), Effect.as(exited, "exit" as const))
    if (first === "kill") child.kill("SIGKILL")
    const result = yield* exited
    return { result, killed: result.signal === "SIGKILL" }
  }))

/**
 * Runs the command to its end behind a reader that starts reading only after `delay`, like `comment-dm export |
 * slow-consumer`: the output must still arrive whole.
 */
export const commandReadSlowly = (
  args: ReadonlyArray<string>,
  options: CliOptions,
  delay: Duration.DurationInput
): Effect.Effect<CliResult> =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* started(args, options)
    const done = finished(child, options.timeoutMs)
    child.stdout?.pause()
    yield* Effect.sleep(delay)
    child.stdout?.resume()
    return yield* Effect.promise(() => done)
  }))
