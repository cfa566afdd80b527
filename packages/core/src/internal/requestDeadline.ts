/**
 * A request's deadline handed to a client that applies it itself. `Effect.timeoutFail` around a request races two
 * fibers, which costs about as much CPU as a whole request over `KeepAliveHttpClient` (bench/Overhead.ts); that client
 * instead arms one timer per request. A caller asks {@link isApplied} of the client it holds: true only for such a
 * client itself, not for one wrapped in middleware, which gets the general timeout around it.
 *
 * The deadline is kept by fiber rather than in a FiberRef: `Effect.locally` copies the fiber's whole FiberRef map
 * twice per request, which in a program with many services costs more than the request. A fiber makes one request at
 * a time, and the client runs the request on the caller's fiber (`HttpClient.make`), so it finds it there.
 */
import type { HttpClient } from "@effect/platform"
import { Cause, type Duration, Effect, type Fiber } from "effect"

const applying = new WeakSet<HttpClient.HttpClient>()

/** Marks `client` as applying the deadline given with {@link within} to each of its requests. */
export const appliedBy = (client: HttpClient.HttpClient): HttpClient.HttpClient => {
  applying.add(client)
  return client
}

/** Whether `client` applies the deadline itself. */
export const isApplied = (client: HttpClient.HttpClient): boolean => applying.has(client)

const deadlines = new WeakMap<Fiber.RuntimeFiber<unknown, unknown>, Duration.Duration>()

/** Runs `self`, a request through such a client, with `deadline` for it. */
export const within =
  (deadline: Duration.Duration) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime((fiber) => {
      deadlines.set(fiber, deadline)
      return self
    })

/** The deadline of the request `fiber` is making, taken once: a later request on the fiber has its own. */
export const take = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Duration.Duration | undefined => {
  const deadline = deadlines.get(fiber)
  deadlines.delete(fiber)
  return deadline
}

/** What such a client fails with (as the cause of its `RequestError`) when the deadline passes. */
export const passed = (): Cause.TimeoutException => new Cause.TimeoutException("no answer before the deadline")
