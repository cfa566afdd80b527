/**
 * Watch mode: follow a campaign's posts and DM new matching commenters within seconds of their comment, for weeks.
 *
 * Each poll reads the posts that are due (`PollPlan`) concurrently, newest comments first, and stops paging at the first
 * page that holds nothing new: a read of a quiet post costs one page, however many old comments it has. A post with
 * new comments is read every poll, a quiet one less and less often (up to `maxQuietInterval`), and the reads
 * stay within `readsPerMinute`, most overdue first; under such an allowance the watcher spends it, divided among the
 * posts by their comment rates (estimated from the comments read, a post's history on its first read included), and
 * where the context holds a `ReadAllowance` its rate is the watcher's share of the key's. The same ledger,
 * pacing and guarantees as `Campaign.run` apply. The daily DM limit pauses sends until the campaign's assumed reset
 * (`daily_reset`), when one real message checks whether the platform accepts again, then every 15 minutes until it
 * does; request-rate limits slow the polling down; neither ends the watcher. Memory stays flat: only a post's read
 * mark (a bounded list of its newest comment ids) is kept, and written to the ledger as a run's is, so a watcher
 * started again resumes where the last one read; who was sent lives in the ledger. A post whose pages come round again (a
 * cursor already followed) is read up to there in each poll and reported once; the watcher keeps following every post,
 * and its summary ends `failed`. Where several processes share the campaign on one PostgreSQL ledger (`PostLeases`, as
 * `serve` provides it there), each poll reads only the posts this process holds the lease of.
 */
import { Clock, Duration, Effect, Option, Ref, Schedule } from "effect"
import * as Engine from "./campaign/Engine.js"
import * as Polling from "./campaign/Polling.js"
import * as PollPlan from "./campaign/PollPlan.js"
import * as Reading from "./campaign/Reading.js"
import type * as CampaignSpec from "./CampaignSpec.js"
import type * as Ledger from "./Ledger.js"
import * as PostLeases from "./PostLeases.js"
import * as ReadAllowance from "./ReadAllowance.js"
import * as RequestBudget from "./RequestBudget.js"
import * as Run from "./Run.js"
import type * as UploadPost from "./UploadPost.js"

export interface WatchOptions<R = never> extends Engine.Options<R> {
  /** Time between the starts of two polls (default 60 s). */
  readonly every?: Duration.DurationInput
  /** One poll, then stop (for cron-like schedulers). */
  readonly once?: boolean
  /** Posts read at the same time in a poll (default 4). */
  readonly postConcurrency?: number
  /** Comment ids a post's read mark keeps to recognise old pages (default 1,000: 20 pages of 50). */
  readonly windowSize?: number
  /** The longest the interval grows to while the API keeps rate-limiting reads (default 15 minutes). */
  readonly maxInterval?: Duration.DurationInput
  /**
   * The comment requests a minute this watcher may spend: the API key's sustainable request rate less what its sends
   * need. Reads beyond it wait for a later poll, the most overdue post first. Default: four fifths of what the key
   * sustains when the campaign states `api_plan` (and a `RequestBudget` is in the context), or the watcher's share of
   * a `ReadAllowance` in the context (recomputed every poll); else no allowance beyond one read of each post a poll
   * (at most posts x 60 s / `every` reads a minute, as the watcher read before it had one).
   */
  readonly readsPerMinute?: number
  /** The longest a post without new comments goes unread (default 30 minutes; never below `every`). */
  readonly maxQuietInterval?: Duration.DurationInput
  /**
   * Which posts a poll reads: `adaptive` (the default) as above; `round-robin` reads every post in turn, as many as
   * the allowance lets it (all of them each poll without one), the baseline the polling benchmark compares against.
   */
  readonly polling?: PollPlan.Strategy
}

export const defaultInterval = Duration.seconds(60)

/**
 * Sleeps until the clock reads `at`, or until a stop is asked for: succeeds with whether it was. A timer may fire a
 * millisecond before the wall clock reaches its time; the rest is slept again, so that a poll finds its posts due.
 */
const sleepUntil = (engine: Engine.Engine, at: number): Effect.Effect<boolean> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.raceFirst(
      Effect.as(Effect.sleep(Duration.millis(Math.max(0, at - now))), false),
      Effect.as(engine.stopSignal, true)
    )).pipe(
      Effect.flatMap((stopped) =>
        stopped
          ? Effect.succeed(true)
          : Effect.flatMap(Clock.currentTimeMillis, (now) => now >= at ? Effect.succeed(false) : sleepUntil(engine, at))
      )
    )

/**
 * Waits for the next poll; while paused at the daily limit, sends to the pending people at each probe time before it
 * (the first of them probes). A probe time that comes round again unchanged found nobody to probe with: the poll
 * comes first then. Succeeds with whether a stop was asked for.
 */
const waitForNextPoll = Effect.fn("Watch.wait")(function*(engine: Engine.Engine, nextPollAt: number) {
  let tried: number | undefined
  while (true) {
    const probeAt = yield* engine.nextProbeAt
    const probeFirst = probeAt !== undefined && probeAt !== tried && probeAt < nextPollAt
    if (yield* sleepUntil(engine, probeFirst ? probeAt : nextPollAt)) return true
    if (!probeFirst) return false
    tried = probeAt
    yield* engine.sendPending
    yield* engine.failIfFatal
  }
})

/** What a post's plan keeps: a few numbers, so that memory stays flat however long the watch goes on. */
interface PostTimes {
  readAt: number | undefined
  activeAt: number | undefined
  /** The newest comment time seen on it: comments after it are new to the rate. */
  seenAt: number | undefined
  rate: PollPlan.Rate | undefined
}

/** What a watcher keeps between polls. */
interface Watcher {
  readonly engine: Engine.Engine
  /** The poll intervals, stepped once a poll with how its read went. */
  readonly intervals: Schedule.ScheduleDriver<Duration.Duration, Polling.PollRead>
  readonly settings: PollPlan.Settings
  posts: ReadonlyArray<Reading.PostRef>
  /** Per followed post; posts no longer followed are dropped at each refresh. */
  readonly times: Map<string, PostTimes>
  /** Undefined: no allowance. */
  allowance: PollPlan.Allowance | undefined
  /** The watcher's place in its key's shared allowance (`ReadAllowance`), which sets the allowance's rate. */
  readonly seat: ReadAllowance.Seat | undefined
  polls: number
  /** The posts this process reads, where several processes share the campaign (`PostLeases`); else all of them. */
  readonly share: PostLeases.Share
}

const timesOf = (watcher: Watcher, key: string): PostTimes => {
  const known = watcher.times.get(key)
  if (known !== undefined) return known
  const fresh: PostTimes = { readAt: undefined, activeAt: undefined, seenAt: undefined, rate: undefined }
  watcher.times.set(key, fresh)
  return fresh
}

/** The plan's view of the given posts (this process's share of the followed ones). */
const planPosts = (watcher: Watcher, posts: ReadonlyArray<Reading.PostRef>): Array<PollPlan.Post> =>
  posts.map((post) => {
    const key = Reading.postKey(post)
    const { activeAt, rate, readAt } = timesOf(watcher, key)
    return { key, readAt, activeAt, rate }
  })

/** The allowance as of `now`, its rate set to the watcher's share of the key's allowance where it has a seat. */
const budgetAt = (watcher: Watcher, posts: ReadonlyArray<PollPlan.Post>, now: number) =>
  Effect.gen(function*() {
    if (watcher.allowance === undefined) return { credit: Number.POSITIVE_INFINITY }
    if (watcher.seat !== undefined) {
      const share = yield* watcher.seat.share(PollPlan.totalDemand(posts, now, watcher.settings))
      watcher.allowance = PollPlan.retune(watcher.allowance, share, burstOf(share, watcher.settings.every), now)
    }
    watcher.allowance = PollPlan.refill(watcher.allowance, now)
    return { credit: watcher.allowance.credit, perMinute: watcher.allowance.perMinute }
  })

/**
 * At most a poll's share kept, rounded up to whole requests (one at the least), so that a quiet spell is not spent in
 * one burst and the fraction of a request a poll leaves is not lost (a watcher of 4.9 reads a minute polled every
 * 15 s would read 4).
 */
const burstOf = (readsPerMinute: number, every: number) => Math.max(1, Math.ceil(readsPerMinute * every / 60_000))

/** What a poll's pages tell of a post: its newest comment time, and the times of the comments new to the rate. */
interface Seen {
  newest: number
  readonly times: Array<number>
}

/**
 * What a poll's pages tell of each post's activity: the comments newer than the newest one seen before (all of them
 * on a post's first read: its history). Matching comments are what the campaign is after, but any new comment shows
 * the post is live, and matching ones are too rare on all but the busiest posts to tell them apart.
 */
const observer = (watcher: Watcher, seen: Map<string, Seen>) => (item: Reading.Item) => {
  if (item._tag !== "Page") return
  const times = watcher.times.get(item.post)
  const after = times?.readAt === undefined ? Number.NEGATIVE_INFINITY : times.seenAt ?? Number.NEGATIVE_INFINITY
  const entry = seen.get(item.post) ?? { newest: Number.NEGATIVE_INFINITY, times: [] }
  for (const comment of item.comments) {
    const at = comment.timestamp?.getTime()
    if (at === undefined || !Number.isFinite(at)) continue
    entry.newest = Math.max(entry.newest, at)
    if (at > after) entry.times.push(at)
  }
  seen.set(item.post, entry)
}

/** A post read through at `started`: its activity, newest comment and rate brought up to date. */
const learn = (times: PostTimes, seen: Seen | undefined, started: number, allowance: boolean) => {
  const newest = seen?.newest ?? Number.NEGATIVE_INFINITY
  const fresh = seen?.times ?? []
  if (times.readAt === undefined) {
    // Under an allowance a post's history tells how live it is; without one, a post counts as active from the
    // watcher's first read of it, whatever the age of its comments (a watcher started on a post reacts at once).
    times.activeAt = allowance ? (Number.isFinite(newest) ? Math.min(started, newest) : undefined) : started
    times.rate = PollPlan.seed(fresh, started)
  } else {
    if (Number.isFinite(newest)) times.activeAt = Math.max(times.activeAt ?? newest, Math.min(started, newest))
    times.rate = PollPlan.observe(times.rate ?? PollPlan.emptyRate(started), fresh, started)
  }
  if (Number.isFinite(newest)) times.seenAt = Math.max(times.seenAt ?? newest, newest)
  times.readAt = started
}

/** One poll and its sends, told as `Polled` or `PollFailed`; succeeds with the time to the next poll. */
const pollOnce = Effect.fn("Watch.poll")(
  function*(watcher: Watcher, options: WatchOptions<unknown>, spec: CampaignSpec.CampaignSpec, started: number) {
    const { engine } = watcher
    const poll = ++watcher.polls
    const before = engine.progress()
    const mine = yield* watcher.share.mine(watcher.posts, Reading.postKey)
    const view = planPosts(watcher, mine)
    // The first poll reads every post once, whatever the allowance (the key's budget paces it; the debt it leaves is
    // paid by later polls): the plan has nothing to judge a post by before it. A watcher that shares its key's
    // allowance reads its posts within it from the start, never-read ones first: the others spend the rest of it.
    const first = options.once === true || (poll === 1 && watcher.seat === undefined)
    const budget = yield* budgetAt(watcher, view, started)
    const planned = PollPlan.plan(
      view,
      started,
      watcher.settings,
      first ? { credit: Number.POSITIVE_INFINITY } : budget
    )
    const chosen = new Set(planned.read)
    const due = mine.filter((post) => chosen.has(Reading.postKey(post)))
    const pages = yield* Ref.make(0)
    const seen = new Map<string, Seen>()
    const read = due.length === 0
      ? Polling.nothingRead
      : yield* Polling.poll(
        engine,
        due,
        options.postConcurrency ?? 4,
        Ref.update(pages, (n) => n + 1),
        observer(watcher, seen)
      )
    const pagesRead = yield* Ref.get(pages)
    if (watcher.allowance !== undefined) watcher.allowance = PollPlan.spend(watcher.allowance, pagesRead)
    // A failed poll leaves its posts due: which of them were read through is not known.
    let nextAt = planned.nextAt
    if (read._tag === "Right") {
      for (const post of due) {
        const key = Reading.postKey(post)
        const times = timesOf(watcher, key)
        learn(times, seen.get(key), started, watcher.allowance !== undefined)
        // The posts read now are due again by what this read told of them.
        const at = PollPlan.dueAt({ key, ...times }, watcher.settings)
        if (nextAt === undefined || at < nextAt) nextAt = at
      }
    }
    const interval = Duration.toMillis(yield* Effect.orDie(watcher.intervals.next(read)))
    // `posts: recent` is looked up again every interval; otherwise the watcher sleeps until a post is due, or, under
    // an allowance, until it holds a request again (which goes to the post nearest its turn): a seat's share, which
    // changes with the other watchers' demand, is looked at again within a minute at the latest.
    const dueAt = spec.posts.some((post) => post._tag === "Recent") || read._tag === "Left"
      ? undefined
      : watcher.allowance !== undefined && mine.length > 0
      ? Math.min(PollPlan.readyAt(watcher.allowance), watcher.seat === undefined ? Infinity : started + 60_000)
      : nextAt
    const wait = Math.max(interval, (dueAt ?? 0) - started)
    if (read._tag === "Left") {
      yield* engine.emit(Run.Event.PollFailed({ reason: read.left.message, nextInMillis: wait }))
    }
    yield* engine.retryPending
    yield* engine.failIfFatal
    const after = engine.progress()
    if (read._tag === "Right") {
      yield* engine.emit(Run.Event.Polled({
        poll,
        comments: after.comments - before.comments,
        pages: pagesRead,
        newPeople: after.discovered - before.discovered,
        progress: after,
        nextInMillis: options.once === true ? 0 : wait,
        posts: due.length,
        followed: watcher.posts.length
      }))
    }
    return Duration.millis(wait)
  }
)

/**
 * The reads a minute a campaign that states its key's plan (`api_plan`) spends without a `readsPerMinute` of its own:
 * what the key sustains, less a fifth kept for sends. Without a plan the polling is not held to an allowance; the
 * key's budget still keeps every request within the plan the API's headers tell.
 */
const planAllowance = (spec: CampaignSpec.CampaignSpec) =>
  Effect.gen(function*() {
    const budget = yield* Effect.serviceOption(RequestBudget.RequestBudget)
    if (spec.apiPlan === undefined || Option.isNone(budget)) return undefined
    return yield* ReadAllowance.readsOfBudget(budget.value)
  })

/** Between polls: people in doubt reconciled, and `posts: recent` looked up again (kept as they were if it fails). */
const refresh = (watcher: Watcher, spec: CampaignSpec.CampaignSpec) =>
  Effect.gen(function*() {
    // Reading the conversations is one process's work at a time where several share the campaign.
    yield* watcher.share.alone(watcher.engine.reconcile)
    if (!spec.posts.some((post) => post._tag === "Recent")) return
    const refreshed = yield* Effect.either(watcher.engine.resolvePosts)
    if (refreshed._tag === "Left") return
    watcher.posts = refreshed.right
    watcher.engine.keepMarksOf(refreshed.right)
    const followed = new Set(refreshed.right.map(Reading.postKey))
    for (const key of watcher.times.keys()) if (!followed.has(key)) watcher.times.delete(key)
  })

/**
 * Follows a campaign until a stop is asked for (or for one poll with `once`): a poll, its sends, the wait (the
 * interval runs from the start of one poll to the start of the next), and again.
 */
export const watch = <R = never>(
  spec: CampaignSpec.CampaignSpec,
  options: WatchOptions<R> = {}
): Effect.Effect<Run.Summary, Run.RunError, UploadPost.UploadPost | Ledger.Ledger | R> =>
  Effect.gen(function*() {
    const engine = yield* Engine.make(spec, options, "watch", options.windowSize ?? 1_000)
    const every = Duration.decode(options.every ?? defaultInterval)
    const intervals = Polling.intervals(every, Duration.decode(options.maxInterval ?? Duration.minutes(15)))
    // Paused: the watcher stops at once, nothing read, sent or written. Ended: it settles who is left, then stops.
    const halt = yield* engine.halt("watch")
    if (halt?._tag === "Paused") return yield* engine.summary
    const posts = halt === undefined ? yield* engine.resolvePosts : []
    if (options.readsPerMinute !== undefined && !(options.readsPerMinute > 0)) {
      return yield* Effect.dieMessage(`readsPerMinute must be above 0, got ${options.readsPerMinute}`)
    }
    // A `readsPerMinute` of the watcher's own comes first; else its share of the key's shared allowance, if any.
    const shared = options.readsPerMinute === undefined
      ? yield* Effect.serviceOption(ReadAllowance.ReadAllowance)
      : Option.none()
    const seat = Option.isSome(shared) ? yield* shared.value.join : undefined
    const readsPerMinute = options.readsPerMinute ??
      (Option.isSome(shared) ? yield* shared.value.perMinute : yield* planAllowance(spec))
    const everyMillis = Duration.toMillis(every)
    const watcher: Watcher = {
      engine,
      intervals: yield* Schedule.driver(intervals),
      settings: {
        strategy: options.polling ?? "adaptive",
        every: everyMillis,
        cap: Duration.toMillis(Duration.decode(options.maxQuietInterval ?? Duration.minutes(30)))
      },
      posts,
      times: new Map(),
      // A seat's rate is set at each poll from its share, and its credit starts empty: the key's reads flow to the
      // watchers already there, and a newcomer's burst would come on top of them.
      allowance: readsPerMinute === undefined
        ? undefined
        : seat === undefined
        ? PollPlan.allowance(readsPerMinute, burstOf(readsPerMinute, everyMillis), yield* Clock.currentTimeMillis)
        : PollPlan.spend(PollPlan.allowance(0, 1, yield* Clock.currentTimeMillis), 1),
      seat,
      polls: 0,
      share: yield* PostLeases.share(spec.name)
    }
    yield* engine.open(posts.length)
    /** The campaign's end: the first message of people still pending expires, and the watcher stops. */
    const ended = Effect.as(Effect.zipRight(engine.retryPending, engine.failIfFatal), false)
    if (halt !== undefined) yield* ended
    /** One round; succeeds with whether the watcher goes on. */
    const round = Effect.gen(function*() {
      if (yield* engine.isStopped) return false
      if ((yield* engine.halt("watch")) !== undefined) return yield* ended
      const started = yield* Clock.currentTimeMillis
      const wait = yield* pollOnce(watcher, options, spec, started)
      // The wait ends early at the campaign's end (`until`), which the next round sees.
      const nextPollAt = Math.min(started + Duration.toMillis(wait), spec.until?.getTime() ?? Number.POSITIVE_INFINITY)
      if (options.once === true || (yield* waitForNextPoll(engine, nextPollAt))) return false
      yield* refresh(watcher, spec)
      return true
    })
    if (halt === undefined) yield* Effect.repeat(round, { while: (goOn) => goOn })
    return yield* engine.summary
  }).pipe(Effect.scoped)
