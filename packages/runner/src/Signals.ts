/**
 * SIGINT and SIGTERM, and a closed output. During a campaign run (`stoppable`) the first signal stops new sends and lets
 * the sends in flight settle; a second one ends the process at once (claims then left open become `in_doubt` at the
 * next start, never resent blindly). Outside a run, the runtime (`NodeRuntime.runMain`) interrupts the command on a
 * signal: its resources are released and it exits with 130 (saying so, except for the sandbox, which has no ledger).
 *
 * A reader that goes away (`comment-dm run c.yaml | head -3`) also stops new sends and lets the sends in flight settle,
 * but it is no interruption: the run's outcome then says what is left (exit 5 while anyone is pending, 0 only when
 * everyone is settled). Outside a run (`comment-dm export | head`) it ends the process quietly.
 */
import { StopSignal } from "@comment-dm/core"
import { Deferred, Effect, Fiber, Ref } from "effect"
import { ExitCode } from "./ExitCode.js"

interface Run {
  readonly interrupt: Deferred.Deferred<void>
  readonly outputClosed: Deferred.Deferred<string>
}

/** Where the command is: before a run, in one, or after it (reporting its outcome, which decides the exit code). */
type Phase = "before" | Run | "after"

const outputs = [["stdout", process.stdout], ["stderr", process.stderr]] as const

const write = (text: string) => process.stderr.write(text)

export class Signals extends Effect.Service<Signals>()("@comment-dm/runner/Signals", {
  effect: Effect.gen(function*() {
    const phase = yield* Ref.make<Phase>("before")
    const phaseNow = () => Effect.runSync(Ref.get(phase))

    const outputClosed = (name: "stdout" | "stderr") => (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error
      const now = phaseNow()
      if (now === "before") return process.exit(process.exitCode ?? 0)
      // After a run the command ends with the code of its outcome, whoever still reads.
      if (now === "after") return
      // A closed pipe fails every later write too: say it once.
      if (Effect.runSync(Deferred.isDone(now.outputClosed))) return
      if (name === "stdout") {
        write("comment-dm: the reader of stdout went away: no new sends; settling the sends in flight\n")
      }
      Effect.runSync(Deferred.succeed(now.outputClosed, `the reader of ${name} went away`))
    }

    let received = 0
    let stoppedAtOnce = false
    // Whether the command may leave claims open when it stops at once (all but the sandbox).
    let holdsClaims = true
    const signalled = () => {
      received++
      const now = phaseNow()
      if (received === 1 && typeof now !== "string") {
        write("\nstop requested: no new sends; settling the sends in flight (press Ctrl-C again to quit now)\n")
        Effect.runSync(Deferred.succeed(now.interrupt, undefined))
        return
      }
      if (!stoppedAtOnce && holdsClaims) {
        write("\nstopped at once; claims left open are reconciled at the next start\n")
      }
      stoppedAtOnce = true
      // Outside a run the runtime interrupts the command on the first signal, and it ends once it has let go of what
      // it holds (a ledger connection); a second signal does not wait for that.
      if (received > 1) process.exit(ExitCode.Interrupted)
    }

    // For the life of the process, not of a scope: the last output, written as the process ends, can fail too, and
    // a signal then still ends it with 130.
    yield* Effect.sync(() => {
      outputs.forEach(([name, stream]) => stream.on("error", outputClosed(name)))
      process.on("SIGINT", signalled)
      process.on("SIGTERM", signalled)
    })

    /**
     * Runs `effect` (a campaign run and its report) with a stop signal fed by SIGINT, SIGTERM and a closed output,
     * for as long as it runs. The runtime interrupts the program on the first signal too, and an interrupted fiber
     * passes the interruption on to its children at once; a run must instead settle its sends in flight and report,
     * so it goes on in a fiber of its own (a daemon, no child), which the program awaits without being
     * interruptible.
     */
    const stoppable = <A, E, R>(
      effect: Effect.Effect<A, E, R>
    ): Effect.Effect<A, E, Exclude<R, StopSignal.StopSignal>> =>
      Effect.gen(function*() {
        const run: Run = { interrupt: yield* Deferred.make<void>(), outputClosed: yield* Deferred.make<string>() }
        const signal = StopSignal.layer({
          interrupt: Deferred.await(run.interrupt),
          wrapUp: Deferred.await(run.outputClosed)
        })
        return yield* Effect.acquireUseRelease(
          Ref.set(phase, run),
          () =>
            Effect.uninterruptibleMask((restore) =>
              Effect.flatMap(Effect.forkDaemon(restore(Effect.provide(effect, signal))), Fiber.join)
            ),
          () => Ref.set(phase, "after")
        )
      })

    /** Runs `effect`, a command that holds no ledger (the sandbox): a signal then ends it without a word. */
    const withoutClaims = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.zipRight(Effect.sync(() => (holdsClaims = false)), effect)

    return { stoppable, withoutClaims } as const
  })
}) {}
