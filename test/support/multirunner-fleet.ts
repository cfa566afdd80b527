/**
 * Several `comment-dm` commands at once, each a child process of its own, as several runners of one campaign would
 * be. A runner can be paused (SIGSTOP: alive, holding its claims, doing nothing, as a stalled process), resumed, or
 * killed (SIGKILL) along the way. Runners still running when the scope closes are killed, so a failed test leaves no
 * process behind.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import type { ChildProcess } from "node:child_process"
import * as Os from "node:os"
import { type CliOptions, type CliResult, finished, jsonSummary, startCli } from "./cli.js"

export interface Runner {
  readonly label: string
  /** Completes once the run has printed its "campaign …: reading" line; dies if the run ends before that. */
  readonly reading: Effect.Effect<void>
  /** Waits for the run to end. */
  readonly result: Effect.Effect<CliResult>
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Whether a ledger row's `claimed_by` names this process (runner ids are `host/pid/start`). */
  readonly holds: (claimedBy: string | undefined) => boolean
}

const readingLine = /^campaign \S+: reading/m

const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null

/** Starts `comment-dm` with `args`. */
export const start = (
  label: string,
  args: ReadonlyArray<string>,
  options: CliOptions
): Effect.Effect<Runner, never, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => startCli(args, options)),
      (child) =>
        Effect.sync(() => {
          if (!isRunning(child)) return
          child.kill("SIGCONT")
          child.kill("SIGKILL")
        })
    )
    const pid = child.pid
    if (pid === undefined) return yield* Effect.dieMessage(`${label} could not be started`)
    // Collectors first, before any output can be missed.
    const done = finished(child, options.timeoutMs)
    let output = ""
    const started = new Promise<void>((resolve) => {
      const look = (chunk: string | Buffer) => {
        output += chunk.toString()
        if (readingLine.test(output)) resolve()
      }
      child.stdout?.on("data", look)
      child.stderr?.on("data", look)
    })
    const prefix = `${Os.hostname()}/${pid}/`
    return {
      label,
      reading: Effect.raceFirst(
        Effect.promise(() => started),
        Effect.flatMap(Effect.promise(() => done), (result) =>
          Effect.dieMessage(
            `${label} ended (${result.code ?? result.signal}) before it started reading: ${result.stderr}`
          ))
      ),
      result: Effect.promise(() => done),
      signal: (signal) =>
        Effect.sync(() => {
          if (isRunning(child)) child.kill(signal)
        }),
      holds: (claimedBy) => claimedBy?.startsWith(prefix) === true
    }
  })

/**
 * Holds each runner at its start line (paused as soon as it prints "reading"), runs `whileHeld`, then lets them all
 * go at once: the runs then compete from their first page on, instead of the first one sending alone while the others
 * still load.
 */
export const releaseTogether = (
  runners: ReadonlyArray<Runner>,
  whileHeld: Effect.Effect<void>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* Effect.forEach(runners, (runner) => Effect.zipRight(runner.reading, runner.signal("SIGSTOP")), {
      concurrency: "unbounded",
      discard: true
    })
    yield* whileHeld
    yield* Effect.forEach(runners, (runner) => runner.signal("SIGCONT"), { discard: true })
  })

/** A finished run's `--json` counts, or a failure that shows what the run printed instead. */
export const countsOf = (label: string, result: CliResult): Readonly<Record<string, number>> => {
  try {
    return jsonSummary(result).counts
  } catch {
    throw new Error(`${label} ended with ${result.code ?? result.signal} and no JSON summary: ${result.stderr}`)
  }
}
