/**
 * The daily DM limit of a profile as every runner that sends from it sees it: a port the engine asks before sends and
 * tells of each accepted DM and each daily-limit answer. Without it a runner knows only what its own sends were told;
 * `SharedPacer.layer` provides one kept in the ledger's database.
 */
import { Context, type Effect, Layer } from "effect"
import type { LedgerError } from "./Ledger.js"

export interface BudgetStatus {
  /** The profile's own daily count (kept by every runner) reached its cap today: no sends until the next UTC day. */
  readonly capReached: boolean
  /** When a runner was told "Daily DM limit exceeded." and no message was accepted since, if so. */
  readonly limitReachedAt: Date | undefined
}

export interface Service {
  /** What the runners of the profile know of its daily limit now. */
  readonly status: Effect.Effect<BudgetStatus, LedgerError>
  /** Tells the other runners that the platform answered "Daily DM limit exceeded." now. */
  readonly markExhausted: Effect.Effect<void, LedgerError>
  /** Tells the other runners that the platform accepted a message after it said the limit: its day started over. */
  readonly markLifted: Effect.Effect<void, LedgerError>
  /**
   * Counts a DM the platform accepted for the profile today; succeeds with `true` when that brings the profile's own
   * daily count to its limit, so that sends pause as at the platform's daily limit.
   */
  readonly recordSent: Effect.Effect<boolean, LedgerError>
}

export class DailyBudget extends Context.Tag("@comment-dm/core/DailyBudget")<DailyBudget, Service>() {}

export const layer = (budget: Service): Layer.Layer<DailyBudget> => Layer.succeed(DailyBudget, budget)
