/**
 * When a run must stop sending: a port the engine listens to for as long as its scope lives. Sends in flight always
 * settle first. Without one a run stops only when it is done.
 */
import { Context, Effect, Layer } from "effect"

export interface Service {
  /** Completes when new sends must stop on request (e.g. SIGINT). The outcome: `interrupted`. */
  readonly interrupt: Effect.Effect<void>
  /**
   * Succeeds, with the reason, when new sends must stop although nobody interrupted the run (e.g. nobody reads its
   * output any more): the outcome says what is left (`incomplete` while anyone is pending, in doubt or not read yet;
   * `completed` only when everyone is settled).
   */
  readonly wrapUp: Effect.Effect<string>
}

export class StopSignal extends Context.Tag("@comment-dm/core/StopSignal")<StopSignal, Service>() {}

/** Nothing stops the run before it is done. */
export const never: Service = { interrupt: Effect.never, wrapUp: Effect.never }

export const layer = (signal: Partial<Service>): Layer.Layer<StopSignal> =>
  Layer.succeed(StopSignal, { ...never, ...signal })
