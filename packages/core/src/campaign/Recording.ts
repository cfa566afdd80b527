/**
 * Recording: what a run has done so far, folded from what its stages tell it (comments read, people found, each
 * settlement), the events that tell the caller as it happens, and the summary at the end. The figures are plain
 * fields of one object, written only here: they are bumped once per comment and per person, where a Ref would cost
 * more than the work.
 */
import { Clock, Effect } from "effect"
import * as Ledger from "../Ledger.js"
import { type Counts, Event, type Outcome, type Person, type Progress, type Summary } from "../Run.js"

/** A person's settlement in a step, with the post of their comment and the message they were claimed with. */
export interface Settled {
  readonly _tag: "Settled"
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

export class Recorder {
  comments = 0
  readonly dropped: Record<string, number> = {}
  matched = 0
  fresh = 0
  sent = 0
  alreadySent = 0
  refused = 0
  /** Settled without a request and not refused, by state (skipped, expired, suppressed). */
  passedOver = 0
  /** This run's skipped people by reason (a rehearsal's summary counts from these). */
  readonly skippedReasons: Record<string, number> = {}
  readonly sentPaths: Record<string, number> = {}
  pending = 0
  inDoubt = 0
  claimedElsewhere = 0
  wouldSend = 0
  heldByCap = 0
  reconciled = 0
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

  progress(): Progress {
    return {
      comments: this.comments,
      matched: this.matched,
      discovered: this.fresh,
      sent: this.sent,
      refused: this.refused,
      pending: this.pending,
      inDoubt: this.inDoubt,
      skipped: this.alreadySent + this.claimedElsewhere + this.passedOver
    }
  }

  drop(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1
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
    switch (result._tag) {
      case "ClaimedElsewhere":
        this.claimedElsewhere++
        return Effect.void
      case "HeldByCap":
        this.heldByCap++
        return Effect.void
      case "Held":
        return Effect.void
      case "Settled":
        return this.settled(result)
    }
  }

  private settled({ message, path, person, post, settlement }: Settled): Effect.Effect<void> {
    switch (settlement._tag) {
      case "Sent":
        if (path !== undefined) this.sentPaths[path] = (this.sentPaths[path] ?? 0) + 1
        if (this.rehearsal) {
          this.wouldSend++
          return this.emit(Event.WouldSend({ ...person, post, message, progress: this.progress() }))
        }
        this.sent++
        return this.emit(Event.Sent({ ...person, messageId: settlement.messageId, progress: this.progress() }))
      case "Refused":
        this.refused++
        return this.emit(Event.Refused({ ...person, reason: settlement.reason, progress: this.progress() }))
      case "Pending":
        this.pending++
        return this.emit(Event.Postponed({ ...person, reason: settlement.reason, progress: this.progress() }))
      case "InDoubt":
      case "Unconfirmed":
        this.inDoubt++
        return this.emit(Event.InDoubt({ ...person, reason: settlement.reason, progress: this.progress() }))
      case "Skipped":
        this.skippedReasons[settlement.reason] = (this.skippedReasons[settlement.reason] ?? 0) + 1
        return this.passOver(person, "skipped", settlement.reason)
      case "Expired":
        return this.passOver(person, "expired", settlement.reason)
      case "Suppressed":
        return this.passOver(person, "suppressed", settlement.reason)
    }
  }

  /** A person settled without a request and not refused. */
  private passOver(person: Person, state: "skipped" | "expired" | "suppressed", reason: string): Effect.Effect<void> {
    this.passedOver++
    return this.emit(Event.Skipped({ ...person, state, reason, progress: this.progress() }))
  }

  /**
   * The run's summary: the ledger's totals for the campaign (not asked in a rehearsal, which counts only what it
   * saw), and how the run ended.
   */
  summary<E>(
    ledgerTotals: Effect.Effect<LedgerTotals, E>,
    ending: Omit<Ending, "rehearsal">
  ): Effect.Effect<Summary, E> {
    const known: Effect.Effect<LedgerTotals | undefined, E> = this.rehearsal ? Effect.succeed(undefined) : ledgerTotals
    return Effect.zipWith(known, Clock.currentTimeMillis, (ledger, finished) => {
      const counts = this.counts(ledger)
      return {
        campaign: this.campaign,
        outcome: outcomeOf(counts, this.problems.size, { ...ending, rehearsal: this.rehearsal }),
        counts,
        dropped: { ...this.dropped },
        skipped: { ...(ledger?.skipped ?? this.skippedReasons) },
        paths: { ...(ledger?.paths ?? this.sentPaths) },
        problems: [...this.problems],
        notices: [...this.notices],
        elapsedMillis: finished - this.startedAt
      }
    })
  }

  private skippedCount(): number {
    return Object.values(this.skippedReasons).reduce((a, b) => a + b, 0)
  }

  private counts(ledger: LedgerTotals | undefined): Counts {
    const totals = ledger?.totals
    const unrecorded = ledger?.unrecorded ?? 0
    return {
      comments: this.comments,
      dropped: Object.values(this.dropped).reduce((a, b) => a + b, 0),
      matched: totals === undefined ? this.matched : Object.values(totals).reduce((a, b) => a + b, unrecorded),
      new: this.fresh,
      sent: this.sent,
      already_sent: totals === undefined ? this.alreadySent : totals.sent - this.sent,
      refused: totals?.refused ?? this.refused,
      skipped: totals?.skipped ?? this.skippedCount(),
      expired: totals?.expired ?? 0,
      suppressed: totals?.suppressed ?? 0,
      pending: totals?.pending ?? 0,
      in_doubt: totals?.in_doubt ?? 0,
      claimed_elsewhere: totals?.claimed ?? this.claimedElsewhere,
      would_send: this.wouldSend,
      held_by_cap: this.heldByCap,
      reconciled: this.reconciled,
      unrecorded
    }
  }
}
