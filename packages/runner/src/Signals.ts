/**
 * SIGINT and SIGTERM, and a closed output. During a campaign run (`stoppable`) the first signal stops new sends and lets
 * the sends in flight settle; a second one ends the process at once (claims then left open become `in_doubt` at the
 * next start, never resent blindly). Outside a run, the runtime (`NodeRuntime.runMain`) interrupts the command on a
 * signal: its resources are released and it exits with 130.
 *
 * A reader that goes away (`comment-dm run c.yaml | head -3`) also stops new sends and lets the sends in flight settle,
 * but it is no interruption: the run's outcome then says what is left (exit 5 while anyone is pending, 0 only when
 * everyone is settled). Outside a run (`comment-dm export | head`) it ends the process quietly.
 */
import { StopSignal } from "@comment-dm/core"
import { Deferred, Effect, Fiber, Option, Ref } from "effect"
import { ExitCode } from "./ExitCode.js"

interface Run {
  readonly interrupt: Deferred.Deferred<void>
  readonly outputClosed: Deferred.Deferred<string>
}

const outputs = [["stdout", process.stdout], ["stderr", process.stderr]] as const

const write = (text: string) => process.stderr.write(text)

export class Signals extends Effect.Service<Signals>()("@comment-dm/runner/Signals", {
  scoped: Effect.gen(function*() {
    const current = yield* Ref.make(Option.none<Run>())

    const outputClosed = (name: "stdout" | "stderr") => (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error
      const run = Effect.runSync(Ref.get(current))
      if (Option.isNone(run)) return process.exit(process.exitCode ?? 0)
      // A closed pipe fails every later write too: say it once.
      if (Effect.runSync(Deferred.isDone(run.value.outputClosed))) return
      if (name === "stdout") {
        write("comment-dm: the reader of stdout went away: no new sends; settling the sends in flight\n")
      }
      Effect.runSync(Deferred.succeed(run.value.outputClosed, `the reader of ${name} went away`))
    }
    // Kept for the life of the process, not of this scope: the last output, written as the process ends, can fail too.
    yield* Effect.sync(() => outputs.forEach(([name, stream]) => stream.on("error", outputClosed(name))))

    /** While a run lasts, signals and a closed output are its stop requests. */
    const listen = (run: Run) =>
      Effect.sync(() => {
        let received = 0
        const handle = () => {
          received++
          if (received === 1) {
            write("\nstop requested: no new sends; settling the sends in flight (press Ctrl-C again to quit now)\n")
            Effect.runSync(Deferred.succeed(run.interrupt, undefined))
            return
          }
          write("\nstopped at once; claims left open are reconciled at the next start\n")
          process.exit(ExitCode.Interrupted)
        }
        process.on("SIGINT", handle)
        process.on("SIGTERM", handle)
        return handle
      }).pipe(Effect.tap(Ref.set(current, Option.some(run))))

    const unlisten = (handle: () => void) =>
      Effect.zipRight(
        Effect.sync(() => {
          process.off("SIGINT", handle)
          process.off("SIGTERM", handle)
        }),
        Ref.set(current, Option.none())
      )

    /**
     * Runs `effect` (a campaign run and its report) with a stop signal fed by SIGINT, SIGTERM and a closed output.
     * The runtime interrupts the program on the first signal too; a run must instead settle its sends in flight and
     * report, so it goes on in a fiber of its own, which the program awaits without being interruptible.
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
          listen(run),
          () =>
            Effect.uninterruptibleMask((restore) =>
              Effect.flatMap(Effect.fork(restore(Effect.provide(effect, signal))), Fiber.join)
            ),
          unlisten
        )
      })

    return { stoppable } as const
  })
}) {}
