/**
 * SIGINT and SIGTERM. During a campaign run the first signal stops new sends and lets the sends in flight settle;
 * a second one ends the process at once (claims then left open become `in_doubt` at the next start, never resent
 * blindly). Outside a run, a signal ends the process with 130.
 */
import { Deferred, Effect } from "effect"

let pending: Deferred.Deferred<void> | undefined
let received = 0

/** An effect that completes when a stop is requested. Registers the current run as the one to stop. */
export const stopRequest: Effect.Effect<Effect.Effect<void>> = Effect.map(Deferred.make<void>(), (deferred) => {
  pending = deferred
  return Deferred.await(deferred)
})

export const install = (onForcedExit: () => void): void => {
  const handle = () => {
    received++
    if (pending !== undefined && received === 1) {
      process.stderr.write(
        "\nstop requested: no new sends; settling the sends in flight (press Ctrl-C again to quit now)\n"
      )
      Effect.runSync(Deferred.succeed(pending, undefined))
      return
    }
    onForcedExit()
  }
  process.on("SIGINT", handle)
  process.on("SIGTERM", handle)
}
