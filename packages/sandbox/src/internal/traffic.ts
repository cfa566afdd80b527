/**
 * Request accounting shared by every profile: the fixed rate windows (per key: the request-limit knob and the plan's
 * two windows; per profile: the per-profile limit) and the counts the control reports (per endpoint, status, key and
 * profile). Synchronous, so each call is atomic with respect to other requests.
 */
import type * as Faults from "../Faults.js"

/** One rate window as the `X-RateLimit-*` headers tell it. */
export interface RequestWindow {
  readonly limit: number
  readonly remaining: number
  /** Unix seconds when the window ends. */
  readonly reset: number
  readonly retryAfterSeconds: number
  readonly exceeded: boolean
}

export interface Limit {
  readonly requests: number
  readonly windowSeconds: number
}

/** Requests and rate-limit refusals of one key or profile. */
export interface Tally {
  requests: number
  rateLimited: number
}

interface KeyTally extends Tally {
  minute: { start: number; count: number }
  tenMinutes: { start: number; count: number }
  maxPerMinute: number
  maxPerTenMinutes: number
}

export interface KeyReport {
  readonly requests: number
  readonly rateLimited: number
  /** The most requests the key made in one minute (fixed windows aligned on the minute), whatever the limits. */
  readonly maxPerMinute: number
  /** The same over fixed ten-minute windows. */
  readonly maxPerTenMinutes: number
}

/** The plan's two windows, or none. */
export const planLimits = (plan: Faults.Plan | null | undefined): ReadonlyArray<Limit> =>
  plan === null || plan === undefined ? [] : [
    { requests: plan.perMinute, windowSeconds: 60 },
    { requests: plan.perTenMinutes, windowSeconds: 600 }
  ]

/**
 * The window the headers report: an exceeded one (the one that frees last), else the one with the fewest requests left
 * (on a tie, the one that resets last).
 */
export const binding = (windows: ReadonlyArray<RequestWindow>): RequestWindow | undefined =>
  windows.reduce<RequestWindow | undefined>((best, window) => {
    if (best === undefined) return window
    if (window.exceeded !== best.exceeded) return window.exceeded ? window : best
    if (window.exceeded) return window.retryAfterSeconds > best.retryAfterSeconds ? window : best
    return window.remaining < best.remaining || (window.remaining === best.remaining && window.reset > best.reset)
      ? window
      : best
  }, undefined)

const slide = (window: { start: number; count: number }, start: number) => {
  if (window.start !== start) {
    window.start = start
    window.count = 0
  }
  window.count += 1
  return window.count
}

/** The longest window a limit may have that is counted in full: a day (longer ones count the last day's requests). */
const keptMillis = 86_400_000

/** Request times of one scope over the last day, oldest first (the sandbox's clock only moves forward). */
class RequestLog {
  private times: Array<number> = []
  private first = 0

  add(now: number): void {
    this.times.push(now)
    while (this.first < this.times.length && (this.times[this.first] ?? now) <= now - keptMillis) this.first++
    // Drop the expired part now and then, not on every request.
    if (this.first > 4096 && this.first * 2 > this.times.length) {
      this.times = this.times.slice(this.first)
      this.first = 0
    }
  }

  /** How many requests came at or after `start`: a binary search over the times. */
  countSince(start: number): number {
    let low = this.first
    let high = this.times.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((this.times[middle] ?? 0) < start) low = middle + 1
      else high = middle
    }
    return this.times.length - low
  }
}

export class Traffic {
  private readonly logs = new Map<string, RequestLog>()
  private readonly endpoints = new Map<string, number>()
  private readonly statuses = new Map<string, number>()
  private readonly keys = new Map<string, KeyTally>()
  private readonly profiles = new Map<string, Tally>()

  /**
   * Counts a request in the scope and reports each limit's fixed window (aligned on the clock): the requests of the
   * scope since the window started, whenever the limit was set.
   */
  take(scope: string, limits: ReadonlyArray<Limit>, now: number): ReadonlyArray<RequestWindow> {
    const log = this.requestLog(scope, now)
    return limits.map(({ requests, windowSeconds }) => {
      const windowMillis = windowSeconds * 1000
      const start = Math.floor(now / windowMillis) * windowMillis
      const count = log.countSince(start)
      const end = start + windowMillis
      return {
        limit: requests,
        remaining: Math.max(0, requests - count),
        reset: Math.ceil(end / 1000),
        retryAfterSeconds: Math.max(1, Math.ceil((end - now) / 1000)),
        exceeded: count > requests
      }
    })
  }

  /** The scope's request times with this one added, so that a limit set later counts the requests before it too. */
  private requestLog(scope: string, now: number): RequestLog {
    const log = this.logs.get(scope) ?? new RequestLog()
    this.logs.set(scope, log)
    log.add(now)
    return log
  }

  countEndpoint(endpoint: string): void {
    this.endpoints.set(endpoint, (this.endpoints.get(endpoint) ?? 0) + 1)
  }

  countStatus(status: string): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1)
  }

  /** A request made with a configured key (revoked or not); `rateLimited` when it was answered 429 for the rate. */
  countKey(key: string, now: number, rateLimited: boolean): void {
    const tally = this.keys.get(key) ?? {
      requests: 0,
      rateLimited: 0,
      minute: { start: 0, count: 0 },
      tenMinutes: { start: 0, count: 0 },
      maxPerMinute: 0,
      maxPerTenMinutes: 0
    }
    tally.requests += 1
    if (rateLimited) tally.rateLimited += 1
    tally.maxPerMinute = Math.max(tally.maxPerMinute, slide(tally.minute, Math.floor(now / 60_000) * 60_000))
    tally.maxPerTenMinutes = Math.max(
      tally.maxPerTenMinutes,
      slide(tally.tenMinutes, Math.floor(now / 600_000) * 600_000)
    )
    this.keys.set(key, tally)
  }

  /** A request that named one of the key's profiles as `user`. */
  countProfile(profile: string, rateLimited: boolean): void {
    const tally = this.profiles.get(profile) ?? { requests: 0, rateLimited: 0 }
    tally.requests += 1
    if (rateLimited) tally.rateLimited += 1
    this.profiles.set(profile, tally)
  }

  requests(): Record<string, number> {
    return Object.fromEntries(this.endpoints)
  }

  responses(): Record<string, number> {
    return Object.fromEntries(this.statuses)
  }

  keyReport(key: string): KeyReport {
    const tally = this.keys.get(key)
    return {
      requests: tally?.requests ?? 0,
      rateLimited: tally?.rateLimited ?? 0,
      maxPerMinute: tally?.maxPerMinute ?? 0,
      maxPerTenMinutes: tally?.maxPerTenMinutes ?? 0
    }
  }

  profileTally(profile: string): Tally {
    const tally = this.profiles.get(profile)
    return { requests: tally?.requests ?? 0, rateLimited: tally?.rateLimited ?? 0 }
  }
}
