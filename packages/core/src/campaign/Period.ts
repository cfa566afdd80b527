/**
 * When a campaign reaches people: comments from `since` on (older ones are dropped before matching), nobody new after
 * `until`, nobody at all while `active: false`. The engine asks here; the rules live nowhere else.
 */
import type * as CampaignSpec from "../CampaignSpec.js"

/** Why a campaign reaches nobody now. */
export type Halt =
  | { readonly _tag: "Paused" }
  | { readonly _tag: "Ended"; readonly at: Date }

/** Whether the campaign reaches nobody at `now`: paused (`active: false`), or past its `until`. */
export const haltAt = (spec: CampaignSpec.CampaignSpec, now: number): Halt | undefined => {
  if (spec.active === false) return { _tag: "Paused" }
  if (spec.until !== undefined && now >= spec.until.getTime()) return { _tag: "Ended", at: spec.until }
  return undefined
}

/** What the command says of a halt. */
export const haltNotice = (halt: Halt, mode: "run" | "watch"): string =>
  halt._tag === "Paused"
    ? `the campaign is paused (active: false): nothing is read or sent; set active: true (or remove it) to resume` +
      (mode === "watch" ? "; the watcher stops" : "")
    : `the campaign ended at ${halt.at.toISOString()} (until): it reaches nobody new` +
      (mode === "watch" ? "; the watcher stops" : "; people still pending end expired")

/** The reason a first message pending past the campaign's end is settled with. */
export const endedReason = (at: Date): string => `the campaign ended at ${at.toISOString()} (until)`

/**
 * The earliest comment time the campaign considers (epoch milliseconds), if `since` is set: its date, or for `start`
 * the campaign's first run (`startedAt`, as the ledger recorded it; a rehearsal of a campaign never run: `now`).
 */
export const cutoffOf = (
  spec: CampaignSpec.CampaignSpec,
  startedAt: Date | undefined,
  now: number
): number | undefined => {
  const since = spec.since
  if (since === undefined) return undefined
  return since._tag === "At" ? since.at.getTime() : startedAt?.getTime() ?? now
}

/** Why a comment was dropped for `since`: older than the cutoff, or of unknown age. */
export const droppedFor = (cutoff: number, commentTime: Date | undefined): string | undefined => {
  if (commentTime === undefined) return "no comment time, so `since` cannot tell its age"
  return commentTime.getTime() < cutoff ? `older than since (${new Date(cutoff).toISOString()})` : undefined
}
