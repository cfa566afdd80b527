/**
 * Recording: what a run has done so far, folded from what its stages tell it (comments read, people found, each
 * settlement), the events that tell the caller as it happens, and the summary at the end. The figures are one `Tally`
 * value, replaced by pure folds (`addPage`, `addLookup`, `addResult`) as the stages tell the recorder what happened.
 */
import { Clock, Effect } from "effect"
import * as Ledger from "../Ledger.js"
import { type Counts, Event, type Outcome, type Person, type Progress, type Summary } from "../Run.js"

/** A person's settlement in a step, with the post of their comment and the message they were claimed with. */
export interface Settled {
  readonly _tag: "Settled"
  /** The step settled; the tally counts the first message's only (absent: the first message). */
  readonly step?: Ledger.StepKind | undefined
  readonly person: Person
  readonly post: string
  readonly message: string
  /** The path a first message took (undefined for the other steps, and for settlements without a request). */
  readonly path?: Ledger.MessagePath | undefined
  readonly settlement: Ledger.Settlement
}

/** What became of one person this run, as the delivery stage returns it. */
export type Result =
  | Settled
  | { readonly _tag: "ClaimedElsewhere" }
  | { readonly _tag: "HeldByCap" }
  /** Not attempted: the run stopped sending or paused at the daily limit before the person's turn. */
  | { readonly _tag: "Held" }

/** What the ledger holds for the campaign's first message, and how many people it could not record. */
export interface LedgerTotals {
  readonly totals: Ledger.Counts
  /** The skipped by reason, and the sent by path. */
  readonly skipped?: Readonly<Record<string, number>>
  readonly paths?: Readonly<Record<string, number>>
  readonly unrecorded: number
}

/** Totals from the ledger's tally of a step. */
export const totalsOf = (tally: ReadonlyArray<Ledger.TallyRow>, unrecorded: number): LedgerTotals => {
  const totals = Ledger.noCounts()
  const skipped: Record<string, number> = {}
  const paths: Record<string, number> = {}
  for (const row of tally) {
    totals[row.state] += row.count
    if (row.state === "skipped") {
      const reason = row.reason ?? "(no reason recorded)"
      skipped[reason] = (skipped[reason] ?? 0) + row.count
    }
    if (row.state === "sent" && row.path !== undefined) paths[row.path] = (paths[row.path] ?? 0) + row.count
  }
  return { totals, skipped, paths, unrecorded }
}

/** The people of the later steps the campaign has, by state. */
export type StepTotals = Summary["steps"]

/**
 * The first message's counts with the later steps' open rows added: a run is done only when every step of every
 * person is settled (`awaiting_reply` is: nothing is to be done until the person writes).
 */
const withLaterSteps = (counts: Counts, steps: StepTotals): Counts =>
  Object.values(steps).reduce<Counts>((all, step) => ({
    ...all,
    pending: all.pending + step.pending,
    in_doubt: all.in_doubt + step.in_doubt,
    claimed_elsewhere: all.claimed_elsewhere + step.claimed
  }), counts)

/** How the run ended, as far as the outcome depends on it. */
export interface Ending {
  /** Nothing went out: the sender only rehearsed. */
  readonly rehearsal: boolean
  readonly stoppedOnRequest: boolean
  readonly interrupted: boolean
  readonly dailyLimitHit: boolean
  /** A read was answered with the daily limit (and it has not lifted since). */
  readonly dailyLimitCutRead: boolean
  readonly passCut: boolean
}

/** The outcome of a run from its counts, its problems and how it ended. */
export const outcomeOf = (counts: Counts, problems: number, ending: Ending): Outcome =>
  problems > 0 && !ending.stoppedOnRequest
    ? "failed"
    : ending.rehearsal
    ? "dry_run"
    : ending.stoppedOnRequest && ending.interrupted
    ? "interrupted"
    : ending.dailyLimitHit && (counts.pending > 0 || ending.dailyLimitCutRead)
    ? "daily_limit"
    : counts.pending + counts.in_doubt + counts.claimed_elsewhere > 0 || ending.passCut
    ? "incomplete"
    : "completed"

/** What a run has counted so far: a value, folded from what the stages tell the recorder. */
export interface Tally {
  readonly comments: number
  readonly dropped: Readonly<Record<string, number>>
  readonly matched: number
  readonly fresh: number
  readonly sent: number
  readonly alreadySent: number
  readonly refused: number
  /** Settled without a request and not refused (skipped, expired, suppressed). */
  readonly passedOver: number
  /** This run's skipped people by reason (a rehearsal's summary counts from these). */
  readonly skippedReasons: Readonly<Record<string, number>>
  /** This run's people settled `suppressed` (a rehearsal's summary counts from these). */
  readonly suppressed: number
  /** This run's sends by path. */
  readonly sentPaths: Readonly<Record<string, number>>
  readonly pending: number
  readonly inDoubt: number
  readonly claimedElsewhere: number
  readonly wouldSend: number
  readonly heldByCap: number
  readonly reconciled: number
}

export const emptyTally: Tally = {
  comments: 0,
  dropped: {},
  matched: 0,
  fresh: 0,
  sent: 0,
  alreadySent: 0,
  refused: 0,
  passedOver: 0,
  skippedReasons: {},
  suppressed: 0,
  sentPaths: {},
  pending: 0,
  inDoubt: 0,
  claimedElsewhere: 0,
  wouldSend: 0,
  heldByCap: 0,
  reconciled: 0
}

/** The comments of one page as discovery read them: how many, and why some were dropped. */
export interface PageRead {
  readonly comments: number
  readonly dropped: ReadonlyArray<string>
}

/** What the ledger said of a page's matching people. */
export interface Lookup {
  readonly matched: number
  readonly fresh: number
  readonly alreadySent: number
  readonly claimedElsewhere: number
}

const plusOne = (counts: Readonly<Record<string, number>>, key: string): Readonly<Record<string, number>> => ({
  ...counts,
  [key]: (counts[key] ?? 0) + 1
})

export const addPage = (tally: Tally, page: PageRead): Tally => ({
  ...tally,
  comments: tally.comments + page.comments,
  dropped: page.dropped.reduce(plusOne, tally.dropped)
})

export const addLookup = (tally: Tally, lookup: Lookup): Tally => ({
  ...tally,
  matched: tally.matched + lookup.matched,
  fresh: tally.fresh + lookup.fresh,
  alreadySent: tally.alreadySent + lookup.alreadySent,
  claimedElsewhere: tally.claimedElsewhere + lookup.claimedElsewhere
})

type Count = "claimedElsewhere" | "heldByCap" | "wouldSend" | "sent" | "refused" | "pending" | "inDoubt" | "passedOver"

/** Which count a person's result adds one to (`undefined`: none). In a rehearsal a send is one the run would make. */
const countOf = (result: Result, rehearsal: boolean): Count | undefined => {
  switch (result._tag) {
    case "ClaimedElsewhere":
      return "claimedElsewhere"
    case "HeldByCap":
      return "heldByCap"
    case "Held":
      return undefined
    case "Settled":
      switch (result.settlement._tag) {
        case "Sent":
          return rehearsal ? "wouldSend" : "sent"
        case "Refused":
          return "refused"
        case "Pending":
          return "pending"
        case "InDoubt":
        case "Unconfirmed":
          return "inDoubt"
        case "Skipped":
        case "Expired":
        case "Suppressed":
          return "passedOver"
      }
  }
}

export const addResult = (tally: Tally, result: Result, rehearsal: boolean): Tally => {
  const count = countOf(result, rehearsal)
  if (count === undefined) return tally
  const counted = { ...tally, [count]: tally[count] + 1 }
  if (result._tag !== "Settled") return counted
  const { path, settlement } = result
  if (settlement._tag === "Sent" && path !== undefined) return { ...counted, sentPaths: plusOne(tally.sentPaths, path) }
  if (settlement._tag === "Skipped") {
    return { ...counted, skippedReasons: plusOne(tally.skippedReasons, settlement.reason) }
  }
  if (settlement._tag === "Suppressed") return { ...counted, suppressed: tally.suppressed + 1 }
  return counted
}

const sum = (counts: Readonly<Record<string, number>>): number => Object.values(counts).reduce((a, b) => a + b, 0)

/**
 * The run's recording: its tally (replaced by the folds above as the stages tell it things), the events, the problems
 * and notices told once, and the summary.
 */
export class Recorder {
  private current: Tally = emptyTally
  /** What went wrong without stopping the run, in the order it happened; each told once. */
  readonly problems = new Set<string>()
  /** What the caller should know, each told once. */
  readonly notices = new Set<string>()

  /**
   * `rehearsal`: nothing goes out (the sender says so), so a send is told as one the run would make, and the summary
   * counts what the run saw, not what the ledger holds.
   */
  constructor(
    readonly campaign: string,
    readonly emit: (event: Event) => Effect.Effect<void>,
    readonly startedAt: number,
    readonly rehearsal = false
  ) {}

  get tally(): Tally {
    return this.current
  }

  /** Folds in the comments of a page discovery read. */
  readPage(page: PageRead): void {
    this.current = addPage(this.current, page)
  }

  /** Folds in what the ledger said of a page's matching people. */
  lookedUp(lookup: Lookup): void {
    this.current = addLookup(this.current, lookup)
  }

  /** Folds in the people reconciliation settled. */
  reconciled(people: number): void {
    this.current = { ...this.current, reconciled: this.current.reconciled + people }
  }

  progress(): Progress {
    const tally = this.current
    return {
      comments: tally.comments,
      matched: tally.matched,
      discovered: tally.fresh,
      sent: tally.sent,
      refused: tally.refused,
      pending: tally.pending,
      inDoubt: tally.inDoubt,
      skipped: tally.alreadySent + tally.claimedElsewhere + tally.passedOver
    }
  }

  /** Tells of a problem once, as it happens; the summary lists them all. */
  report(detail: string): Effect.Effect<void> {
    if (this.problems.has(detail)) return Effect.void
    this.problems.add(detail)
    return this.emit(Event.Problem({ detail }))
  }

  /** Tells of something worth knowing once, as it happens; the summary lists them all. */
  notice(detail: string): Effect.Effect<void> {
    if (this.notices.has(detail)) return Effect.void
    this.notices.add(detail)
    return this.emit(Event.Notice({ detail }))
  }

  /** Folds in one person's result and tells the caller. */
  record(result: Result): Effect.Effect<void> {
    const later = result._tag === "Settled" && result.step !== undefined && result.step !== "first_message"
    if (!later) this.current = addResult(this.current, result, this.rehearsal)
    return result._tag === "Settled" ? this.tell(result) : Effect.void
  }

  private tell({ message, person: who, post, settlement, step }: Settled): Effect.Effect<void> {
    const person = step === undefined || step === "first_message" ? who : { ...who, step }
    const progress = this.progress()
    switch (settlement._tag) {
      case "Sent":
        return this.rehearsal
          ? this.emit(Event.WouldSend({ ...person, post, message, progress }))
          : this.emit(Event.Sent({ ...person, messageId: settlement.messageId, progress }))
      case "Refused":
        return this.emit(Event.Refused({ ...person, reason: settlement.reason, progress }))
      case "Pending":
        return this.emit(Event.Postponed({ ...person, reason: settlement.reason, progress }))
      case "InDoubt":
      case "Unconfirmed":
        return this.emit(Event.InDoubt({ ...person, reason: settlement.reason, progress }))
      case "Skipped":
        return this.emit(Event.Skipped({ ...person, state: "skipped", reason: settlement.reason, progress }))
      case "Expired":
        return this.emit(Event.Skipped({ ...person, state: "expired", reason: settlement.reason, progress }))
      case "Suppressed":
        return this.emit(Event.Skipped({ ...person, state: "suppressed", reason: settlement.reason, progress }))
    }
  }

  /**
   * The run's summary: the ledger's totals for the campaign (not asked in a rehearsal, which counts only what it
   * saw), and how the run ended.
   */
  summary<E>(
    ledgerTotals: Effect.Effect<LedgerTotals, E>,
    ending: Omit<Ending, "rehearsal">,
    stepTotals: Effect.Effect<StepTotals, E> = Effect.succeed({})
  ): Effect.Effect<Summary, E> {
    const known: Effect.Effect<LedgerTotals | undefined, E> = this.rehearsal ? Effect.succeed(undefined) : ledgerTotals
    const steps: Effect.Effect<StepTotals, E> = this.rehearsal ? Effect.succeed({}) : stepTotals
    return Effect.zipWith(Effect.zip(known, steps), Clock.currentTimeMillis, ([ledger, later], finished) => {
      const counts = this.counts(ledger)
      return {
        campaign: this.campaign,
        outcome: outcomeOf(withLaterSteps(counts, later), this.problems.size, { ...ending, rehearsal: this.rehearsal }),
        counts,
        steps: later,
        dropped: { ...this.current.dropped },
        skipped: { ...(ledger?.skipped ?? this.current.skippedReasons) },
        paths: { ...(ledger?.paths ?? this.current.sentPaths) },
        problems: [...this.problems],
        notices: [...this.notices],
        elapsedMillis: finished - this.startedAt
      }
    })
  }

  private counts(ledger: LedgerTotals | undefined): Counts {
    const tally = this.current
    const totals = ledger?.totals
    const unrecorded = ledger?.unrecorded ?? 0
    return {
      comments: tally.comments,
      dropped: sum(tally.dropped),
      matched: totals === undefined ? tally.matched : Object.values(totals).reduce((a, b) => a + b, unrecorded),
      new: tally.fresh,
      sent: tally.sent,
      already_sent: totals === undefined ? tally.alreadySent : totals.sent - tally.sent,
      refused: totals?.refused ?? tally.refused,
      skipped: totals?.skipped ?? sum(tally.skippedReasons),
      expired: totals?.expired ?? 0,
      suppressed: totals?.suppressed ?? tally.suppressed,
      pending: totals?.pending ?? 0,
      in_doubt: totals?.in_doubt ?? 0,
      claimed_elsewhere: totals?.claimed ?? tally.claimedElsewhere,
      would_send: tally.wouldSend,
      held_by_cap: tally.heldByCap,
      reconciled: tally.reconciled,
      unrecorded
    }
  }
}
