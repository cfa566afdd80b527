/**
 * The request budget of one Upload-Post API key: every read and send made with the key takes from it before it goes
 * out, so that the key's plan (requests a minute, requests per 10 minutes, and optionally requests a minute per
 * profile) is never exceeded by our own traffic.
 *
 * The windows are counted sliding: at most `perMinute` requests in any minute and `perTenMinutes` in any 10 minutes.
 * That also keeps within windows the API may count fixed (any fixed window is one of the sliding ones). Each window
 * is counted a second longer than it is ({@link windowMargin}), so that a request that takes a while to arrive is
 * still counted where the API counts it.
 *
 * Each answer's `X-RateLimit-*` headers are observed: when the API has counted more requests in its window than we
 * did (another program, another host with its own ledger), the difference is taken from the budget as well; a
 * request-rate 429 holds the key until its reset. Where the plan is not configured, its per-minute limit is learned
 * from `X-RateLimit-Limit` (the 10 minutes then allow 5 × a minute, the documented plans' ratio), starting from the
 * smallest documented plan (Free: 60 a minute, 300 per 10 minutes) until the first answer says, and never below it
 * (a smaller limit is a per-profile window's; what remains of it still holds the budget back).
 *
 * Two stores: {@link layerMemory} (one process) and {@link layerLedger} (the ledger's database, SQLite or PostgreSQL),
 * which several processes on one ledger share; the rows name the key by a digest, never the key.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import { Clock, Context, Duration, Effect, FiberRef, Layer, Option, Redacted, Ref, Schema, type Scope } from "effect"
import type * as ParseResult from "effect/ParseResult"
import * as Crypto from "node:crypto"
import * as ErrorTable from "./internal/errorTable.js"

/** A plan's request limits as a campaign file's `api_plan` gives them; each absent one is learned or defaulted. */
export interface Plan {
  readonly perMinute?: number | undefined
  readonly perTenMinutes?: number | undefined
  /** Requests a minute per profile (Upload-Post says 2; unconfirmed): none unless configured. */
  readonly perProfilePerMinute?: number | undefined
}

/** The limits in force. */
export interface Limits {
  readonly perMinute: number
  readonly perTenMinutes: number
  readonly perProfilePerMinute: number | undefined
}

/** The smallest documented plan (Free), assumed until an answer tells the key's limit. */
export const cautious: Limits = { perMinute: 60, perTenMinutes: 300, perProfilePerMinute: undefined }

/** The limits of a probe (see `make`): beyond any plan (`api_plan` and headers stop at 1,000,000). */
const probeLimit = 1_000_000_000

/** How soon a request waiting behind the probe looks again (milliseconds). */
const probeRetry = 100

/** The documented plans allow 5 times a minute's requests in 10 minutes (Free 60/300, Business 500/2,500). */
export const tenMinutesPerMinute = 5

/** Added to each window, so that a request's travel time cannot move it into a window of the API we did not count. */
export const windowMargin = Duration.seconds(1)

const minuteMillis = 60_000
const tenMinutesMillis = 600_000
const marginMillis = Duration.toMillis(windowMargin)

/** What a request is: sends go before reads that wait; `profile` is the request's `user`. */
export interface Ticket {
  readonly priority: "send" | "read"
  readonly profile?: string | undefined
}

/** An answer as the budget reads it: header names in lower case; `text` tells a daily DM limit from a rate limit. */
export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly text?: string
}

/** What the polling planner reads: how fast the key may go for good, and what is spent now. */
export interface Snapshot {
  /** Requests a minute the key can sustain: min(per minute, per 10 minutes / 10). */
  readonly sustainablePerMinute: number
  /** Requests taken (with what the API counted beyond ours) in the last minute and 10 minutes. */
  readonly spentLastMinute: number
  readonly spentLastTenMinutes: number
  readonly limits: Limits
}

/** Counters for `/metrics`. */
export interface Stats {
  readonly taken: number
  readonly sends: number
  readonly reads: number
  /** Time requests spent waiting for the budget, all together. */
  readonly waitedMillis: number
  /** Request-rate 429s observed. */
  readonly rateLimited: number
  /** Requests the API counted beyond ours, taken from the budget. */
  readonly heldBack: number
}

export interface Service {
  /**
   * Waits until one request may go out under every window (and, for a request naming a profile, the per-profile one
   * when configured), and counts it. Reads wait while a send waits for the key.
   */
  readonly take: (ticket: Ticket) => Effect.Effect<void>
  /** Learns from the answer of a request taken. */
  readonly observe: (ticket: Ticket, answer: Answer) => Effect.Effect<void>
  /** {@link take}, the request, {@link observe} of its answer. A request {@link prepay} paid for takes nothing more. */
  readonly metered: <A extends Answer, E, R>(ticket: Ticket, request: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** {@link Snapshot.sustainablePerMinute}. */
  readonly sustainablePerMinute: Effect.Effect<number>
  readonly snapshot: Effect.Effect<Snapshot>
  readonly stats: Effect.Effect<Stats>
  /** The limits the answers' `X-RateLimit-Limit` told so far, whatever the plan says (see {@link disagreement}). */
  readonly told: Effect.Effect<Learned>
}

export class RequestBudget extends Context.Tag("@comment-dm/core/RequestBudget")<RequestBudget, Service>() {}

/** Requests a minute that neither window runs out of in the long run. */
export const sustainable = (limits: Limits): number => Math.min(limits.perMinute, Math.floor(limits.perTenMinutes / 10))

/** The tightest of several plans, limit by limit (campaigns that share a key share its plan). */
export const tightest = (plans: ReadonlyArray<Plan | undefined>): Plan => {
  const least = (pick: (plan: Plan) => number | undefined) => {
    const values = plans.flatMap((plan) => plan === undefined ? [] : [pick(plan)]).filter((value) =>
      value !== undefined
    )
    return values.length === 0 ? undefined : Math.min(...values)
  }
  return {
    perMinute: least((plan) => plan.perMinute),
    perTenMinutes: least((plan) => plan.perTenMinutes),
    perProfilePerMinute: least((plan) => plan.perProfilePerMinute)
  }
}

/** The limits of a plan, with what the API told filling what it leaves out. */
export const limitsOf = (plan: Plan, learned: Learned): Limits => {
  const perMinute = plan.perMinute ?? learned.perMinute ?? cautious.perMinute
  return {
    perMinute,
    perTenMinutes: plan.perTenMinutes ?? learned.perTenMinutes ?? perMinute * tenMinutesPerMinute,
    perProfilePerMinute: plan.perProfilePerMinute
  }
}

/** Limits the answers told: the largest seen of each window (a per-profile window's header tells a smaller one). */
export interface Learned {
  readonly perMinute?: number | undefined
  readonly perTenMinutes?: number | undefined
}

/**
 * What a header's `limit` tells of the known limits: a window that resets within a minute is the minute's, unless
 * its limit is the 10 minutes' already known (that window, in its last minute, resets within a minute too).
 */
const learn = (known: Learned, minute: boolean, limit: number): Learned =>
  minute && (known.perTenMinutes === undefined || limit < known.perTenMinutes)
    ? { ...known, perMinute: Math.max(known.perMinute ?? 0, limit) }
    : minute
    ? known
    : { ...known, perTenMinutes: Math.max(known.perTenMinutes ?? 0, limit) }

/**
 * Where a stated plan (`api_plan`) and what the API's headers told differ, for a warning: e.g. "api_plan says
 * per_minute 300 but the API's X-RateLimit-Limit tells 100"; undefined where they agree or either is silent. The
 * budget holds the stated plan, so a limit stated above the API's ends in 429s and one below it spends less than the
 * key may.
 */
export const disagreement = (plan: Plan, told: Learned): string | undefined => {
  const differ = [
    plan.perMinute !== undefined && told.perMinute !== undefined && plan.perMinute !== told.perMinute
      ? [`per_minute ${plan.perMinute} but the API's X-RateLimit-Limit tells ${told.perMinute} a minute`]
      : [],
    plan.perTenMinutes !== undefined && told.perTenMinutes !== undefined && plan.perTenMinutes !== told.perTenMinutes
      ? [
        `per_10_minutes ${plan.perTenMinutes} but the API's X-RateLimit-Limit tells ${told.perTenMinutes} per 10 minutes`
      ]
      : []
  ].flat()
  return differ.length === 0 ? undefined : `api_plan says ${differ.join("; ")}: the key's budget holds the stated ` +
    "plan (a limit above the API's ends in 429s, one below it leaves requests unused); correct api_plan to the " +
    "key's plan, or leave it out to take the limits from the headers"
}

/**
 * The requests of one profile (`""`: what the API counted beyond ours) in one second, `bucket` (epoch seconds): the
 * stores count by the second, so that a window's count costs at most one entry a second and profile, however fast
 * the requests go. A bucket counts in a window as long as any part of its second does (the safe side).
 */
export interface Entry {
  readonly bucket: number
  readonly profile: string
  readonly weight: number
}

/** The first bucket a window of `window` milliseconds ending at `now` counts. */
export const firstBucket = (now: number, window: number): number => Math.floor((now - window) / 1000)

/** The bucket of `since`: what was spent since then, counted with the whole of its first second. */
const bucketsSince = (since: number): number => Math.floor(since / 1000)

export type Verdict =
  | { readonly _tag: "Taken" }
  | { readonly _tag: "Wait"; readonly until: number; readonly forKey: boolean }

/**
 * Whether one more request of `profile` fits at `now`, given the entries of the last 10 minutes (oldest first) and
 * a hold; else when it will.
 */
export const verdict = (
  entries: ReadonlyArray<Entry>,
  heldUntil: number,
  now: number,
  profile: string,
  limits: Limits
): Verdict => {
  /** When the window's count falls to `limit - 1`: the time the entry that makes it so leaves the window. */
  const freeAt = (window: number, limit: number, counts: (entry: Entry) => boolean): number => {
    const first = firstBucket(now, window)
    const inWindow = entries.filter((entry) => counts(entry) && entry.bucket >= first)
    let excess = inWindow.reduce((sum, entry) => sum + entry.weight, 0) + 1 - limit
    if (excess <= 0) return now
    for (const entry of inWindow) {
      excess -= entry.weight
      // The first moment the window no longer counts the entry's second.
      if (excess <= 0) return (entry.bucket + 1) * 1000 + window
    }
    return now + window
  }
  const keyFree = Math.max(
    heldUntil,
    freeAt(minuteMillis + marginMillis, limits.perMinute, () => true),
    freeAt(tenMinutesMillis + marginMillis, limits.perTenMinutes, () => true)
  )
  const profileFree = profile === "" || limits.perProfilePerMinute === undefined
    ? now
    : freeAt(minuteMillis + marginMillis, limits.perProfilePerMinute, (entry) => entry.profile === profile)
  if (keyFree <= now && profileFree <= now) return { _tag: "Taken" }
  return { _tag: "Wait", until: Math.max(keyFree, profileFree), forKey: keyFree > now }
}

/** Where a budget keeps its entries: in memory, or in the ledger's database. Database failures are defects. */
export interface Store {
  /** Counts one request of `profile` at `now` if it fits, atomically. */
  readonly tryTake: (now: number, profile: string, limits: Limits) => Effect.Effect<Verdict>
  /** Counts what the API counted beyond ours. */
  readonly add: (now: number, weight: number) => Effect.Effect<void>
  /** No request of the key before `until`. */
  readonly hold: (until: number) => Effect.Effect<void>
  /** The weight counted at or after `since` (every profile). */
  readonly spentSince: (since: number) => Effect.Effect<number>
}

/** The longest window as counted: entries before its first bucket are dropped. */
const longestWindow = tenMinutesMillis + marginMillis

/** A store in this process's memory. */
export const memoryStore: Effect.Effect<Store> = Effect.sync(() => {
  let entries: Array<{ bucket: number; readonly profile: string; weight: number }> = []
  let heldUntil = 0
  const prune = (now: number) => {
    const kept = firstBucket(now, longestWindow)
    const first = entries.findIndex((entry) => entry.bucket >= kept)
    if (first !== 0) entries = first < 0 ? [] : entries.slice(first)
  }
  /** Adds to the entry of the second and profile (the entries stay in bucket order: the clock only moves on). */
  const count = (now: number, profile: string, weight: number) => {
    const bucket = Math.floor(now / 1000)
    for (let index = entries.length - 1; index >= 0 && entries[index]!.bucket === bucket; index--) {
      if (entries[index]!.profile === profile) {
        entries[index]!.weight += weight
        return
      }
    }
    entries.push({ bucket, profile, weight })
  }
  return {
    tryTake: (now, profile, limits) =>
      Effect.sync(() => {
        prune(now)
        const answer = verdict(entries, heldUntil, now, profile, limits)
        if (answer._tag === "Taken") count(now, profile, 1)
        return answer
      }),
    add: (now, weight) => Effect.sync(() => count(now, "", weight)),
    hold: (until) => Effect.sync(() => void (heldUntil = Math.max(heldUntil, until))),
    spentSince: (since) =>
      Effect.sync(() => {
        const first = bucketsSince(since)
        return entries.reduce((sum, entry) => entry.bucket >= first ? sum + entry.weight : sum, 0)
      })
  }
})

/** The rows' name of a key: a digest, so that the ledger never holds the key. */
export const keyDigest = (apiKey: Redacted.Redacted<string>): string =>
  Crypto.createHash("sha256").update(`comment-dm request budget\u0000${Redacted.value(apiKey)}`).digest("hex")

/** SQLite returns integers as numbers; PostgreSQL returns BIGINT and SUM as strings. */
const Integer = Schema.Union(Schema.Number, Schema.NumberFromString)
const decodeTaken = Schema.decodeUnknown(Schema.Array(Schema.Struct({ weight: Integer })))
const decodeEntries = Schema.decodeUnknown(Schema.Array(Schema.Struct({
  bucket: Integer,
  profile: Schema.String,
  weight: Integer
})))
const decodeHeld = Schema.decodeUnknown(Schema.Array(Schema.Struct({ held_until: Integer })))
const decodeSpent = Schema.decodeUnknown(Schema.Array(Schema.Struct({ spent: Schema.NullOr(Integer) })))

/**
 * A store in the ledger's database (`comment_dm_request_log`, `comment_dm_request_keys`), shared by every process on
 * the ledger. A request is counted by one statement that adds it to its second's row only if every window has room;
 * on PostgreSQL that statement runs under a transaction-scoped advisory lock of the key, so that two hosts cannot
 * both see the last free place (SQLite runs one writing statement at a time anyway).
 */
export const ledgerStore = (apiKey: Redacted.Redacted<string>): Effect.Effect<Store, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const key = keyDigest(apiKey)
    // The advisory lock's number: 52 bits of the digest, an integer JavaScript holds exactly.
    const lock = Number.parseInt(key.slice(0, 13), 16)
    const orDie = <A>(effect: Effect.Effect<A, SqlError | ParseResult.ParseError>) => Effect.orDie(effect)
    let prunedAt = 0

    /** The weight of the key's buckets from `first` on (of one profile, when given). */
    const sum = (first: number, profile?: string) =>
      sql`SELECT COALESCE(SUM(weight), 0) AS spent FROM comment_dm_request_log
        WHERE key_digest = ${key} AND bucket >= ${first} ${
        profile === undefined ? sql`` : sql`AND profile = ${profile}`
      }`

    /** Adds `weight` to the row of the second and profile, when `condition` holds. */
    const count = (now: number, profile: string, weight: number, condition: Statement.Fragment) =>
      sql`INSERT INTO comment_dm_request_log (key_digest, profile, bucket, weight)
        SELECT ${key}, ${profile}, ${Math.floor(now / 1000)}, ${weight} WHERE ${condition}
        ON CONFLICT (key_digest, profile, bucket) DO UPDATE SET weight = comment_dm_request_log.weight + ${weight}
        RETURNING weight`.pipe(Effect.flatMap(decodeTaken))

    const minute = minuteMillis + marginMillis
    const insert = (now: number, profile: string, limits: Limits) =>
      count(
        now,
        profile,
        1,
        sql`NOT EXISTS (SELECT 1 FROM comment_dm_request_keys WHERE key_digest = ${key} AND held_until > ${now})
        AND (${sum(firstBucket(now, minute))}) < ${limits.perMinute}
        AND (${sum(firstBucket(now, longestWindow))}) < ${limits.perTenMinutes}
        ${
          profile === "" || limits.perProfilePerMinute === undefined
            ? sql``
            : sql`AND (${sum(firstBucket(now, minute), profile)}) < ${limits.perProfilePerMinute}`
        }`
      )

    const locked = <A, E>(effect: Effect.Effect<A, E>) =>
      sql.onDialectOrElse({
        pg: () => sql.withTransaction(Effect.zipRight(sql`SELECT pg_advisory_xact_lock(${lock}::bigint)`, effect)),
        orElse: () => effect
      })

    /** Why a request did not fit: the rows of the last 10 minutes, read again, and the hold. */
    const why = (now: number, profile: string, limits: Limits) =>
      Effect.gen(function*() {
        const rows = yield* sql`SELECT bucket, profile, weight FROM comment_dm_request_log
          WHERE key_digest = ${key} AND bucket >= ${firstBucket(now, longestWindow)}
          ORDER BY bucket`.pipe(Effect.flatMap(decodeEntries))
        const held = yield* sql`SELECT held_until FROM comment_dm_request_keys WHERE key_digest = ${key}`.pipe(
          Effect.flatMap(decodeHeld)
        )
        const answer = verdict(rows, held[0]?.held_until ?? 0, now, profile, limits)
        // Another process freed a place between the two reads: try again at once.
        return answer._tag === "Taken" ? { _tag: "Wait", until: now + 1, forKey: true } as const : answer
      })

    const prune = (now: number) =>
      now - prunedAt < minuteMillis ? Effect.void : Effect.zipRight(
        Effect.sync(() => {
          prunedAt = now
        }),
        sql`DELETE FROM comment_dm_request_log WHERE key_digest = ${key} AND bucket < ${
          firstBucket(now, longestWindow)
        }`
      )

    const store: Store = {
      tryTake: (now, profile, limits) =>
        orDie(Effect.gen(function*() {
          yield* prune(now)
          const taken = yield* locked(insert(now, profile, limits))
          if (taken.length > 0) return { _tag: "Taken" } as const
          return yield* why(now, profile, limits)
        })),
      add: (now, weight) => orDie(count(now, "", weight, sql`1 = 1`)),
      hold: (until) => {
        const later = sql.onDialectOrElse({
          pg: () => sql`GREATEST(comment_dm_request_keys.held_until, ${until})`,
          orElse: () => sql`MAX(comment_dm_request_keys.held_until, ${until})`
        })
        return orDie(sql`INSERT INTO comment_dm_request_keys (key_digest, held_until) VALUES (${key}, ${until})
          ON CONFLICT (key_digest) DO UPDATE SET held_until = ${later}`)
      },
      spentSince: (since) =>
        orDie(Effect.map(
          Effect.flatMap(sum(bucketsSince(since)), decodeSpent),
          (rows) => rows[0]?.spent ?? 0
        ))
    }
    return store
  })

/** The most requests a window of a plan may allow; a header beyond it says nothing we can use. */
export const largestLimit = 1_000_000

/** The longest a 429 holds the key: the longest window (a `Retry-After` beyond it is no request-rate limit of ours). */
const longestHold = tenMinutesMillis + marginMillis

/** A header as a whole number, or `undefined` (absent, empty, not a number, or beyond any plan). */
const wholeNumber = (text: string | undefined): number | undefined => {
  if (text === undefined || !/^\s*\d{1,12}\s*$/.test(text)) return undefined
  return Number(text)
}

/** The three `X-RateLimit-*` headers, when all three are whole numbers and the limit one a plan may have. */
const rateLimitHeaders = (answer: Answer) => {
  const limit = wholeNumber(answer.headers["x-ratelimit-limit"])
  const remaining = wholeNumber(answer.headers["x-ratelimit-remaining"])
  const reset = wholeNumber(answer.headers["x-ratelimit-reset"])
  return limit !== undefined && remaining !== undefined && reset !== undefined && limit > 0 && limit <= largestLimit
    ? Option.some({ limit, remaining: Math.min(remaining, limit), resetMillis: reset * 1000 })
    : Option.none()
}

export interface Options {
  /** The plan, as configured; read before every request, so that a supervisor can tighten it. */
  readonly plan: Effect.Effect<Plan>
}

/** The budget whose {@link Service.take} a request already made (see {@link prepay}). */
const prepaid = FiberRef.unsafeMake<Service | undefined>(undefined)

/** Marks the one request of an effect as paid for. */
export type Paid = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/**
 * Takes a request's place in the budget of the context (when there is one) ahead of the request, and succeeds with
 * what marks the request as paid for: a send waits for its place where it waits for its pace, before its claim is
 * confirmed again, rather than inside the request, where a long wait could outlast the claim.
 */
export const prepay = (ticket: Ticket): Effect.Effect<Paid> =>
  Effect.flatMap(Effect.serviceOption(RequestBudget), (budget): Effect.Effect<Paid> =>
    Option.isNone(budget)
      ? Effect.succeed((self) => self)
      : Effect.as(budget.value.take(ticket), (self) => Effect.locally(self, prepaid, budget.value)))

/** A budget over a store. */
export const make = (store: Store, options: Options): Effect.Effect<Service> =>
  Effect.gen(function*() {
    /**
     * What the headers told: the limits of the windows the plan leaves out (a configured window's limit is the
     * plan's), and set against the plan by {@link disagreement}.
     */
    const told = yield* Ref.make<Learned>({})
    const stats = yield* Ref.make<Stats>({ taken: 0, sends: 0, reads: 0, waitedMillis: 0, rateLimited: 0, heldBack: 0 })
    /** The sends waiting for the key, and the earliest time they retry. */
    const state = { sendsWaiting: 0, sendsRetryAt: 0 }
    /** What this process took (and learned of others), so that an answer needs no look at a shared store to agree. */
    const local = yield* memoryStore
    const limits = Effect.zipWith(options.plan, Ref.get(told), limitsOf)
    const sleepUntil = (at: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sleep(Duration.millis(Math.max(1, at - now))))

    /** A read waits while a send waits for the key: it retries after the send does. */
    const yieldToSends = Effect.whileLoop({
      while: () => state.sendsWaiting > 0,
      body: () => sleepUntil(state.sendsRetryAt + 1),
      step: () => {}
    })

    /**
     * Until an answer has told the key's limits, one request at a time may go beyond the Free plan's assumed ones: a
     * new process must not wait on what earlier processes spent at limits they learned and it has not (its first
     * answer teaches them). A configured plan, and a hold after a 429, still apply to it.
     */
    const probe = { heard: false, inFlight: false }
    const tryTake = (now: number, profile: string) =>
      Effect.gen(function*() {
        const current = yield* limits
        const answer = yield* store.tryTake(now, profile, current)
        if (answer._tag === "Taken" || probe.heard) return answer
        const plan = yield* options.plan
        const unknown = plan.perMinute === undefined && plan.perTenMinutes === undefined &&
          (yield* Ref.get(told)).perMinute === undefined
        if (!unknown) return answer
        // While the probe is out, look again soon: its answer may tell limits that let this request go at once.
        if (probe.inFlight) return { ...answer, until: Math.min(answer.until, now + probeRetry) }
        const probed = yield* store.tryTake(now, profile, {
          ...current,
          perMinute: probeLimit,
          perTenMinutes: probeLimit
        })
        if (probed._tag === "Taken") probe.inFlight = true
        return probed
      })

    const take = (ticket: Ticket) =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const profile = ticket.profile ?? ""
        let waiting = false
        yield* Effect.gen(function*() {
          while (true) {
            if (ticket.priority === "read") yield* yieldToSends
            const now = yield* Clock.currentTimeMillis
            const answer = yield* tryTake(now, profile)
            if (answer._tag === "Taken") return yield* local.add(now, 1)
            if (ticket.priority === "send" && answer.forKey) {
              if (!waiting) state.sendsWaiting += 1
              waiting = true
              state.sendsRetryAt = state.sendsWaiting === 1 ? answer.until : Math.min(state.sendsRetryAt, answer.until)
            }
            yield* sleepUntil(answer.until)
          }
        }).pipe(Effect.ensuring(Effect.sync(() => {
          if (waiting) state.sendsWaiting -= 1
        })))
        const waited = (yield* Clock.currentTimeMillis) - started
        yield* Ref.update(stats, (now) => ({
          ...now,
          taken: now.taken + 1,
          sends: now.sends + (ticket.priority === "send" ? 1 : 0),
          reads: now.reads + (ticket.priority === "read" ? 1 : 0),
          waitedMillis: now.waitedMillis + waited
        }))
      })

    /**
     * The headers tell the window that binds (its limit, what remains, when it resets): one that resets within a
     * minute is the minute's. What the API counted in it beyond what we took (another program on the key, a host on
     * another ledger) is taken from the budget too, so that we stay within what the API says remains. The store is
     * only asked when this process alone took fewer than the API counted.
     */
    const learnFrom = (answer: Answer, now: number) =>
      Option.match(rateLimitHeaders(answer), {
        onNone: () => Effect.void,
        onSome: ({ limit, remaining, resetMillis }) =>
          Effect.gen(function*() {
            const minute = resetMillis - now <= minuteMillis + marginMillis
            // A limit below the smallest documented plan's is a per-profile window's (or a shorter one's): the key's
            // own limit shows in other answers.
            const plausible = limit >= (minute ? cautious.perMinute : cautious.perTenMinutes)
            if (plausible) yield* Ref.update(told, (known) => learn(known, minute, limit))
            const windowStart = resetMillis - (minute ? minuteMillis : tenMinutesMillis)
            const counted = limit - remaining
            if (counted <= (yield* local.spentSince(windowStart))) return
            const beyond = counted - (yield* store.spentSince(windowStart))
            if (beyond > 0) {
              yield* store.add(now, beyond)
              yield* local.add(now, beyond)
              yield* Ref.update(stats, (known) => ({ ...known, heldBack: known.heldBack + beyond }))
            }
          })
      })

    const observe = (_ticket: Ticket, answer: Answer) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        probe.inFlight = false
        if (Option.isSome(rateLimitHeaders(answer))) probe.heard = true
        yield* learnFrom(answer, now)
        const wait = ErrorTable.requestRateWait({ ...answer, now })
        if (wait !== undefined) {
          yield* store.hold(now + Math.min(Duration.toMillis(wait), longestHold))
          yield* Ref.update(stats, (known) => ({ ...known, rateLimited: known.rateLimited + 1 }))
        }
      })

    const snapshot = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const current = yield* limits
      return {
        sustainablePerMinute: sustainable(current),
        spentLastMinute: yield* store.spentSince(now - minuteMillis),
        spentLastTenMinutes: yield* store.spentSince(now - tenMinutesMillis),
        limits: current
      }
    })

    const service: Service = {
      take,
      observe,
      metered: (ticket, request) =>
        Effect.zipRight(
          Effect.flatMap(
            FiberRef.getAndSet(prepaid, undefined),
            (paid) => paid === service ? Effect.void : take(ticket)
          ),
          Effect.tap(request, (answer) => observe(ticket, answer))
        ),
      sustainablePerMinute: Effect.map(limits, sustainable),
      snapshot,
      stats: Ref.get(stats),
      told: Ref.get(told)
    }
    return service
  })

/** A budget in this process's memory, for a plan (absent limits learned from the answers). */
export const layerMemory = (plan: Plan = {}): Layer.Layer<RequestBudget> =>
  Layer.effect(RequestBudget, Effect.flatMap(memoryStore, (store) => make(store, { plan: Effect.succeed(plan) })))

/**
 * A budget of the key kept in the ledger's database, shared by every process on the ledger that uses the key (over
 * the client of `SqliteLedger.layerClient` or `PgLedger.layerClient`, which create its tables).
 */
export const layerLedger = (
  apiKey: Redacted.Redacted<string>,
  plan: Plan = {}
): Layer.Layer<RequestBudget, never, SqlClient.SqlClient> =>
  Layer.effect(
    RequestBudget,
    Effect.flatMap(ledgerStore(apiKey), (store) => make(store, { plan: Effect.succeed(plan) }))
  )

/** A plan as a campaign file writes it, for messages. */
export const describePlan = (plan: Plan): string => {
  const parts = [
    plan.perMinute === undefined ? [] : [`per_minute ${plan.perMinute}`],
    plan.perTenMinutes === undefined ? [] : [`per_10_minutes ${plan.perTenMinutes}`],
    plan.perProfilePerMinute === undefined ? [] : [`per_profile_per_minute ${plan.perProfilePerMinute}`]
  ].flat()
  return parts.length === 0 ? "none (learned from the answers)" : parts.join(", ")
}

/** The budgets of the keys a process uses for several campaigns (`serve`): one a key, whichever campaign asks. */
export interface Registry<R> {
  /**
   * The budget of the key, with `campaign`'s plan joined to those of the other campaigns on the key until the scope
   * ends: the budget holds the tightest of them. `notice` says so when the campaigns state different plans (it names
   * the campaigns, never the key).
   */
  readonly join: (
    apiKey: Redacted.Redacted<string>,
    campaign: string,
    plan: Plan | undefined
  ) => Effect.Effect<{ readonly budget: Service; readonly notice: string | undefined }, never, R | Scope.Scope>
}

/** A registry whose budgets keep their entries in the stores `storeOf` makes (one a key). */
export const makeRegistry = <R>(
  storeOf: (apiKey: Redacted.Redacted<string>) => Effect.Effect<Store, never, R>
): Effect.Effect<Registry<R>> =>
  Effect.sync(() => {
    const keys = new Map<string, { readonly budget: Service; readonly plans: Map<string, Plan | undefined> }>()
    const lock = Effect.unsafeMakeSemaphore(1)
    const entry = (apiKey: Redacted.Redacted<string>) =>
      Effect.gen(function*() {
        const digest = keyDigest(apiKey)
        const known = keys.get(digest)
        if (known !== undefined) return known
        const plans = new Map<string, Plan | undefined>()
        const budget = yield* make(yield* storeOf(apiKey), {
          plan: Effect.sync(() => tightest([...plans.values()]))
        })
        const made = { budget, plans }
        keys.set(digest, made)
        return made
      })
    return {
      join: (apiKey, campaign, plan) =>
        Effect.gen(function*() {
          const { budget, plans } = yield* lock.withPermits(1)(entry(apiKey))
          yield* Effect.acquireRelease(
            Effect.sync(() => plans.set(campaign, plan)),
            () => Effect.sync(() => plans.delete(campaign))
          )
          const stated = [...plans].filter(([, each]) => each !== undefined)
          const shown = new Set(stated.map(([, each]) => describePlan(each ?? {})))
          const notice = shown.size > 1
            ? `campaigns ${stated.map(([name]) => name).join(", ")} share an API key with different api_plan ` +
              `settings: the key's budget holds the tightest of them (${describePlan(tightest([...plans.values()]))})`
            : undefined
          return { budget, notice }
        })
    }
  })
