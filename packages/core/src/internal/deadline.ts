/**
 * `Effect.timeoutFail` for one request at a time, at a fraction of its cost. The general timeout races two fibers (the
 * effect and a sleep) and merges the winner's fiber state back; per request that cost as much CPU as the request
 * itself (bench/Overhead.ts). On the system's clock this runs the effect in one child fiber against a plain timer;
 * on any other clock (a `TestClock`) it is the general timeout, so that tests move time as usual.
 */
import type { Clock } from "effect"
import { Duration, Effect, Exit, Fiber } from "effect"

const systemClock = Effect.runSync(Effect.clock)

/**
 * Fails with `onTimeout()` when `self` has not ended `duration` after it started; `self` is then interrupted. The
 * changes `self` makes to fiber-local state (log annotations, FiberRefs) are not kept.
 */
export const within =
  <E2>(duration: Duration.Duration, onTimeout: () => E2) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R> =>
    Effect.clockWith((clock: Clock.Clock) =>
      clock !== systemClock
        ? Effect.timeoutFail(self, { duration, onTimeout })
        // The child ends with its outcome as a value, so that a failure is not reported as the child's own.
        : Effect.flatMap(Effect.fork(Effect.exit(self)), (fiber) =>
          Effect.withFiberRuntime<A, E | E2>((parent) =>
            Effect.async((resume) => {
              let done = false
              const timer = setTimeout(() => {
                if (done) {
                  return
                }
                done = true
                fiber.unsafeInterruptAsFork(parent.id())
                resume(Effect.fail(onTimeout()))
              }, Duration.toMillis(duration))
              fiber.addObserver((exit) => {
                if (done) {
                  return
                }
                done = true
                clearTimeout(timer)
                resume(Exit.flatten(exit))
              })
              return Effect.suspend(() => {
                done = true
                clearTimeout(timer)
                return Fiber.interrupt(fiber)
              })
            })
          ))
    )
