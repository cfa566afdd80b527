/**
 * One read allowance per API key, shared by the watchers of a process: the key's comment reads a minute divided among
 * the watchers that use it in proportion to their posts' demand (the sum of their posts' weights: their comment
 * rates to `PollPlan.rateExponent`), each between one read per `cap` and one per `every` of each of its posts.
 * Every watcher tells its demand at each poll and gets its share back, so that a watcher whose posts are busy reads
 * more than one whose posts are quiet, and together they stay within the key's reads. Without this service in the
 * context, a watcher keeps an allowance of its own (`readsPerMinute`).
 */
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as PollPlan from "./campaign/PollPlan.js"
import type * as RequestBudget from "./RequestBudget.js"

/** The comment reads a minute out of what a key sustains: four fifths, a fifth kept for sends (one at the least). */
export const readsOf = (sustainedPerMinute: number): number => Math.max(1, Math.floor(sustainedPerMinute * 0.8))

/** The reads a minute a key's budget leaves for polling, as of now (the budget may learn its plan as it goes). */
export const readsOfBudget = (budget: RequestBudget.Service): Effect.Effect<number> =>
  Effect.map(budget.sustainablePerMinute, readsOf)

/** A watcher's place in the shared allowance, for as long as its scope lasts. */
export interface Seat {
  /** Tells the watcher's demand now; succeeds with its share, in reads a minute. */
  readonly share: (demand: PollPlan.Demand) => Effect.Effect<number>
}

export interface Service {
  /** The reads a minute shared, as of now (a key's budget may learn its plan as it goes). */
  readonly perMinute: Effect.Effect<number>
  /** A seat, left when the scope closes (its share goes back to the others). */
  readonly join: Effect.Effect<Seat, never, Scope.Scope>
}

export class ReadAllowance extends Context.Tag("@comment-dm/core/ReadAllowance")<ReadAllowance, Service>() {}

/** An allowance of `perMinute` reads a minute (an effect: read again at every share). */
export const make = (perMinute: Effect.Effect<number>): Effect.Effect<Service> =>
  Effect.sync(() => {
    const demands = new Map<number, PollPlan.Demand>()
    let next = 0
    return {
      perMinute,
      join: Effect.map(
        Effect.acquireRelease(Effect.sync(() => next++), (seat) => Effect.sync(() => demands.delete(seat))),
        (seat): Seat => ({
          share: (demand) =>
            Effect.map(perMinute, (total) => {
              demands.set(seat, demand)
              const seats = [...demands.keys()]
              const shares = PollPlan.fill(seats.map((each) => demands.get(each) ?? demand), Math.max(0, total))
              return shares[seats.indexOf(seat)] ?? 0
            })
        })
      )
    }
  })

/** The allowance as a layer, for the watchers of one key. */
export const layer = (perMinute: number): Layer.Layer<ReadAllowance> =>
  Layer.effect(ReadAllowance, make(Effect.succeed(perMinute)))
