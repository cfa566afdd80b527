/**
 * `status` for the steps after the first message (`follow_up`, `public_reply`): per step, its people by state, which
 * sum to the step's base. A step is shown when the ledger has rows of it.
 */
import { Ledger } from "@comment-dm/core"
import { Effect } from "effect"

/** The steps shown under `steps`, in the order a person goes through them. */
export const laterSteps = ["follow_up", "public_reply"] as const
export type LaterStep = typeof laterSteps[number]

export interface StepReport {
  /**
   * Who the step is for: `follow_up`, the people whose first message was a sent private reply; `public_reply`, the
   * people whose first message was sent.
   */
  readonly base: number
  /** People per state of the step, the states someone is in. */
  readonly counts: Readonly<Partial<Record<Ledger.DeliveryState, number>>>
  /** base - the people in any state of the step: zero when everyone of the base is accounted for. */
  readonly unaccounted: number
  /** Why people were skipped in the step, with how many each. */
  readonly skipped_reasons: ReadonlyArray<{ readonly reason: string; readonly count: number }>
}

export type StepReports = Readonly<Partial<Record<LaterStep, StepReport>>>

/** The people the first message gives each later step: see {@link StepReport.base}. */
export interface Bases {
  readonly sent: number
  readonly sentByPrivateReply: number
}

const stepReport = (rows: ReadonlyArray<Ledger.TallyRow>, base: number): StepReport => {
  const counts: Partial<Record<Ledger.DeliveryState, number>> = {}
  const skipped = new Map<string, number>()
  for (const row of rows) {
    counts[row.state] = (counts[row.state] ?? 0) + row.count
    if (row.state === "skipped") {
      const reason = row.reason ?? "(no reason recorded)"
      skipped.set(reason, (skipped.get(reason) ?? 0) + row.count)
    }
  }
  // In the order of the states, as the first message's counts are.
  const ordered = Object.fromEntries(
    Ledger.DeliveryState.literals.flatMap((state) => counts[state] === undefined ? [] : [[state, counts[state]]])
  )
  const accounted = rows.reduce((sum, row) => sum + row.count, 0)
  return {
    base,
    counts: ordered,
    unaccounted: base - accounted,
    skipped_reasons: [...skipped].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count)
  }
}

/** The later steps of a campaign that has rows of them. */
export const reports = (
  campaign: string,
  bases: Bases
): Effect.Effect<StepReports, Ledger.LedgerError, Ledger.Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const steps: Partial<Record<LaterStep, StepReport>> = {}
    for (const step of laterSteps) {
      const rows = yield* ledger.tally(campaign, step)
      if (rows.length === 0) continue
      steps[step] = stepReport(rows, step === "follow_up" ? bases.sentByPrivateReply : bases.sent)
    }
    return steps
  })

const titles: Record<LaterStep, string> = {
  follow_up: "follow-up: people whose first message was a sent private reply",
  public_reply: "public reply: people whose first message was sent"
}

/** The text lines of the later steps, after the first message's. */
export const render = (steps: StepReports): Array<string> =>
  laterSteps.flatMap((step) => {
    const report = steps[step]
    if (report === undefined) return []
    return [
      "",
      `${titles[step]}: ${report.base}, ${report.unaccounted} unaccounted`,
      ...Object.entries(report.counts).flatMap(([state, count]) => [
        `  ${state.replace("_", " ").padEnd(14)} ${count}`,
        ...(state === "skipped" ? report.skipped_reasons.map((r) => `    ${r.count} × ${r.reason}`) : [])
      ])
    ]
  })
