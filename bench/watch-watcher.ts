/**
 * `comment-dm watch` in a child process, for the watch benchmarks: its heartbeat lines ("poll N: ...") as they come,
 * and its resident memory as the operating system reports it.
 */
import { Duration, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as CommandRun from "./CommandRun.js"
import * as NodeProcess from "./internal/NodeProcess.js"
import type { RunningSandbox } from "./SandboxProcess.js"

export interface Heartbeat {
  readonly poll: number
  /** Comment pages the poll read, over all posts. */
  readonly pages: number
}

export interface RunningWatcher {
  /** The command line, for the results file. */
  readonly commandLine: string
  readonly heartbeats: () => ReadonlyArray<Heartbeat>
  /** Waits until the heartbeat of poll `poll` (or a later one) is out. */
  readonly untilPoll: (poll: number, timeout: Duration.DurationInput) => Effect.Effect<void, NodeProcess.ProcessError>
  /** The watcher's resident set size now, in bytes; undefined where the system does not tell. */
  readonly rssBytes: Effect.Effect<number | undefined>
}

const heartbeatLine = /^poll (\d+): (\d+) pages?,/

/** Starts a watcher for the lifetime of the scope (SIGINT when it closes, as a user stops it). */
export const start = (options: {
  readonly sandbox: RunningSandbox
  readonly campaign: string
  readonly db: string
  readonly every: string
}): Effect.Effect<RunningWatcher, never, Scope.Scope> =>
  Effect.gen(function*() {
    const args = ["watch", options.campaign, "--every", options.every, "--db", options.db]
    const running = yield* NodeProcess.serve(CommandRun.bin, args, {
      plain: true,
      env: CommandRun.environment(options.sandbox)
    })
    const heartbeats = () =>
      running.lines().flatMap((line) => {
        const found = heartbeatLine.exec(line)
        return found === null ? [] : [{ poll: Number(found[1]), pages: Number(found[2]) }]
      })
    const untilPoll = (poll: number, timeout: Duration.DurationInput) => {
      const command = `comment-dm ${args.join(" ")}`
      const now = Effect.sync(() => ({
        reached: heartbeats().some((heartbeat) => heartbeat.poll >= poll),
        exited: running.child.exitCode !== null || running.child.signalCode !== null
      }))
      return now.pipe(
        Effect.repeat({ until: (state) => state.reached || state.exited, schedule: Schedule.spaced("50 millis") }),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new NodeProcess.ProcessError({
              command,
              reason: `no poll ${poll} within ${Duration.format(Duration.decode(timeout))}`
            })
        }),
        Effect.zipRight(now),
        Effect.flatMap((state) =>
          state.reached ? Effect.void : Effect.fail(
            new NodeProcess.ProcessError({
              command,
              reason: `exited with ${running.child.exitCode ?? running.child.signalCode}: ${running.lines().at(-1)}`
            })
          )
        )
      )
    }
    return {
      commandLine: `pnpm comment-dm ${args.join(" ")}`,
      heartbeats,
      untilPoll,
      rssBytes: Effect.sync(() => residentBytes(running.child.pid))
    }
  })

/** From /proc on Linux, else from `ps` (macOS and the BSDs). */
const residentBytes = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const kilobytes = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
    if (kilobytes !== undefined) return Number(kilobytes) * 1024
  } catch {
    // No /proc: ask ps.
  }
  try {
    const kilobytes = Number(ChildProcess.execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" }))
    return Number.isFinite(kilobytes) && kilobytes > 0 ? kilobytes * 1024 : undefined
  } catch {
    return undefined
  }
}
