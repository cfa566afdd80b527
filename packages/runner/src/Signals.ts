/**
 * SIGINT and SIGTERM, and a closed output. During a campaign run the first signal stops new sends and lets the sends in
 * flight settle; a second one ends the process at once (claims then left open become `in_doubt` at the next start,
 * never resent blindly). Outside a run, a signal ends the process with 130.
 *
 * A reader that goes away (`comment-dm run c.yaml | head -3`) also stops new sends and lets the sends in flight settle,
 * but it is no interruption: the run's outcome then says what is left (exit 5 while anyone is pending, 0 only when
 * everyone is settled). Outside a run (`comment-dm export | head`) it ends the process quietly.
 */
import { Deferred, Effect } from "effect"

interface Run {
  readonly interrupt: Deferred.Deferred<void>
  readonly outputClosed: Deferred.Deferred<string>
}

let current: Run | undefined
let received = 0

/** The stop requests of the current run: a signal, or the output's reader going away. Registers it as the one to stop. */
export const stopRequests: Effect.Effect<{
  readonly interrupt: Effect.Effect<void>
  readonly outputClosed: Effect.Effect<string>
}> = Effect.gen(function*() {
  const run: Run = { interrupt: yield* Deferred.make<void>(), outputClosed: yield* Deferred.make<string>() }
  current = run
  return { interrupt: Deferred.await(run.interrupt), outputClosed: Deferred.await(run.outputClosed) }
})

export const install = (onForcedExit: () => void): void => {
  const handle = () => {
    received++
    if (current !== undefined && received === 1) {
      process.stderr.write(
        "\nstop requested: no new sends; settling the sends in flight (press Ctrl-C again to quit now)\n"
      )
      Effect.runSync(Deferred.succeed(current.interrupt, undefined))
      return
    }
    onForcedExit()
  }
  process.on("SIGINT", handle)
  process.on("SIGTERM", handle)
}

/**
 * The reader of stdout or stderr went away. Returns whether a run takes it as a stop request (no new sends; the
 * process ends when the sends in flight are settled); otherwise the caller ends the process.
 */
export const outputClosed = (stream: "stdout" | "stderr"): boolean => {
  if (current === undefined) return false
  // A closed pipe fails every later write too: say it once.
  if (Effect.runSync(Deferred.isDone(current.outputClosed))) return true
  if (stream === "stdout") {
    process.stderr.write("comment-dm: the reader of stdout went away: no new sends; settling the sends in flight\n")
  }
  Effect.runSync(Deferred.succeed(current.outputClosed, `the reader of ${stream} went away`))
  return true
}
