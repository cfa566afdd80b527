/**
 * What one `watch` process knows of its own health, from the events of its watcher: when it last polled, the wait
 * before the next poll (stretched by rate limits), the daily-limit pause, its last error, and whether the platform
 * refused the key. It writes this to the ledger as its heartbeat every {@link beatEvery} (for `comment-dm dashboard`)
 * and answers `watch --http`'s `/healthz` and `/metrics` with it (watch/Http.ts).
 */
import { Claimant, Heartbeat, type Ledger, type Run } from "@comment-dm/core"
import type { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect, Schedule } from "effect"

export const beatEvery = Duration.seconds(2)

export interface Tracker {
  readonly campaign: string
  readonly platform: string
  readonly profile: string
  readonly everyMillis: number
  readonly startedAt: number
  /** Since when the campaign is active (the start, or the end of its pause): no poll is due while it is paused. */
  activeSince: number
  /** The campaign file says `active: false`: the watcher waits, reading and sending nothing. */
  campaignPaused: boolean
  lastPollAt: number | undefined
  nextPollMillis: number | undefined
  pausedUntil: number | undefined
  lastError: string | undefined
  lastErrorAt: number | undefined
  keyRefused: boolean
  polls: number
  pollFailures: number
  /** Polls after which the wait was stretched beyond the interval: the API rate-limited the reads. */
  slowedPolls: number
}

export const make = (
  campaign: { readonly name: string; readonly platform: string; readonly user: string },
  every: Duration.Duration
) =>
  Effect.map(Clock.currentTimeMillis, (now): Tracker => ({
    campaign: campaign.name,
    platform: campaign.platform,
    profile: campaign.user,
    everyMillis: Duration.toMillis(every),
    startedAt: now,
    activeSince: now,
    campaignPaused: false,
    lastPollAt: undefined,
    nextPollMillis: undefined,
    pausedUntil: undefined,
    lastError: undefined,
    lastErrorAt: undefined,
    keyRefused: false,
    polls: 0,
    pollFailures: 0,
    slowedPolls: 0
  }))

const noteWait = (tracker: Tracker, nextInMillis: number) => {
  tracker.nextPollMillis = nextInMillis
  if (nextInMillis > tracker.everyMillis) tracker.slowedPolls++
}

/** Takes in one event of the watcher. */
export const observe = (tracker: Tracker) => (event: Run.Event): Effect.Effect<void> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    switch (event._tag) {
      case "Polled":
        tracker.polls++
        tracker.lastPollAt = now
        noteWait(tracker, event.nextInMillis)
        return
      case "PollFailed":
        tracker.polls++
        tracker.pollFailures++
        tracker.lastPollAt = now
        tracker.lastError = event.reason
        tracker.lastErrorAt = now
        noteWait(tracker, event.nextInMillis)
        return
      case "DailyLimit":
        tracker.pausedUntil = event.resumesAt?.getTime()
        return
      case "DailyLimitLifted":
        tracker.pausedUntil = undefined
        return
      case "Problem":
        tracker.lastError = event.detail
        tracker.lastErrorAt = now
        return
    }
  })

/** The campaign is paused (`active: false`), or active again: the time to its first poll counts from then. */
export const pause = (tracker: Tracker, paused: boolean) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    tracker.campaignPaused = paused
    tracker.activeSince = now
  })

/** The watcher stopped on a refused key or account: `/healthz` says so until the process ends. */
export const refuseKey = (tracker: Tracker, detail: string) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    tracker.keyRefused = true
    tracker.lastError = detail
    tracker.lastErrorAt = now
  })

const dateOf = (millis: number | undefined) => millis === undefined ? undefined : new Date(millis)

export const heartbeat = (tracker: Tracker, now: number): Heartbeat.Heartbeat => ({
  campaign: tracker.campaign,
  runner: Claimant.currentId,
  platform: tracker.platform,
  profile: tracker.profile,
  kind: "watch",
  beatAt: new Date(now),
  everyMillis: tracker.everyMillis,
  lastPollAt: dateOf(tracker.lastPollAt),
  nextPollMillis: tracker.nextPollMillis,
  pausedUntil: dateOf(tracker.pausedUntil),
  lastError: tracker.lastError,
  lastErrorAt: dateOf(tracker.lastErrorAt)
})

/**
 * Writes the heartbeat now and every {@link beatEvery} until interrupted; a write that fails is tried again at the
 * next beat (the watcher's own ledger writes report a ledger that is gone).
 */
export const beat = (tracker: Tracker): Effect.Effect<never, never, SqlClient.SqlClient> =>
  Clock.currentTimeMillis.pipe(
    Effect.flatMap((now) => Heartbeat.write(heartbeat(tracker, now))),
    Effect.catchAll((_: Ledger.LedgerError) => Effect.void),
    Effect.repeat(Schedule.spaced(beatEvery)),
    Effect.zipRight(Effect.never)
  )

/** How long since the last poll (or since the campaign is active, before the first), in milliseconds. */
export const pollLag = (tracker: Tracker, now: number): number => now - (tracker.lastPollAt ?? tracker.activeSince)

/**
 * Why the watcher is unhealthy, if it is: its last poll is older than three intervals (the wait it decided counts,
 * so a watcher slowed by rate limits is not called stuck; a paused campaign is not either), or the key was refused.
 */
export const problems = (tracker: Tracker, now: number): ReadonlyArray<string> => {
  const out: Array<string> = []
  const allowed = Heartbeat.staleAfterIntervals * Math.max(tracker.everyMillis, tracker.nextPollMillis ?? 0)
  // A paused campaign polls nothing by design.
  if (!tracker.campaignPaused && pollLag(tracker, now) > allowed) {
    out.push("the last poll is older than three intervals")
  }
  if (tracker.keyRefused) out.push("the platform refused the key or account")
  return out
}
