/**
 * A request's deadline handed to a client that applies it itself. `Effect.timeoutFail` around a request races two
 * fibers, which costs about as much CPU as a whole request over `KeepAliveHttpClient` (bench/Overhead.ts); that client
 * instead arms one timer per request from the deadline in {@link current}. A caller asks {@link isApplied} of the
 * client it holds: true only for such a client itself, not for one wrapped in middleware, which gets the general
 * timeout around it.
 */
import type { HttpClient } from "@effect/platform"
import { Cause, type Duration, FiberRef } from "effect"

/** The deadline of the request about to be made, if its caller has one. */
export const current: FiberRef.FiberRef<Duration.Duration | undefined> = FiberRef.unsafeMake<
  Duration.Duration | undefined
>(undefined)

const applying = new WeakSet<HttpClient.HttpClient>()

/** Marks `client` as applying {@link current} to each of its requests. */
export const appliedBy = (client: HttpClient.HttpClient): HttpClient.HttpClient => {
  applying.add(client)
  return client
}

/** Whether `client` applies {@link current} itself. */
export const isApplied = (client: HttpClient.HttpClient): boolean => applying.has(client)

/** What such a client fails with (as the cause of its `RequestError`) when the deadline passes. */
export const passed = (): Cause.TimeoutException => new Cause.TimeoutException("no answer before the deadline")
