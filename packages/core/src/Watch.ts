/**
 * Watch mode: follow a campaign's posts and DM new matching commenters within seconds of their comment, for weeks.
 *
 * Each poll reads every post concurrently, newest comments first, and stops paging at the first page that holds
 * nothing new: a quiet post costs one page a poll, however many old comments it has. The same ledger,
 * pacing and guarantees as `Campaign.run` apply. The daily DM limit pauses sends until the campaign's assumed reset
 * (`daily_reset`), when one real message checks whether the platform accepts again, then every 15 minutes until it
 * does; request-rate limits slow the polling down; neither ends the watcher. Memory stays flat: only a post's read
 * mark (a bounded list of its newest comment ids) is kept, and written to the ledger as a run's is, so a watcher
 * started again resumes where the last one read; who was sent lives in the ledger. A post whose pages come round again (a
 * cursor already followed) is read up to there in each poll and reported once; the watcher keeps following every post,
 * and its summary ends `failed`. Where several processes share the campaign on one PostgreSQL ledger (`PostLeases`, as
 * `serve` provides it there), each poll reads only the posts this process holds the lease of.
 */
import { Clock, Duration, Effect, Ref, Schedule } from "effect"
import * as Engine from "./campaign/Engine.js"
import * as Polling from "./campaign/Polling.js"
import * as Reading from "./campaign/Reading.js"
import type * as CampaignSpec from "./CampaignSpec.js"
import type * as Ledger from "./Ledger.js"
import * as PostLeases from "./PostLeases.js"
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
}

export const defaultInterval = Duration.seconds(60)

/** Sleeps until `at`, or until a stop is asked for: succeeds with whether it was. */
const sleepUntil = (engine: Engine.Engine, at: number) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.raceFirst(
      Effect.as(Effect.sleep(Duration.millis(Math.max(0, at - now))), false),
      Effect.as(engine.stopSignal, true)
    ))

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

/** What a watcher keeps between polls. */
interface Watcher {
  readonly engine: Engine.Engine
  /** The poll intervals, stepped once a poll with how its read went. */
  readonly intervals: Schedule.ScheduleDriver<Duration.Duration, Polling.PollRead>
  posts: ReadonlyArray<Reading.PostRef>
  polls: number
  /** The posts this process reads, where several processes share the campaign (`PostLeases`); else all of them. */
  readonly share: PostLeases.Share
}

/** One poll and its sends, told as `Polled` or `PollFailed`; succeeds with the time to the next poll. */
const pollOnce = Effect.fn("Watch.poll")(function*(watcher: Watcher, options: WatchOptions<unknown>) {
  const { engine } = watcher
  const poll = ++watcher.polls
  const before = engine.progress()
  const pages = yield* Ref.make(0)
  const posts = yield* watcher.share.mine(watcher.posts, Reading.postKey)
  const read = yield* Polling.poll(engine, posts, options.postConcurrency ?? 4, Ref.update(pages, (n) => n + 1))
  const wait = yield* Effect.orDie(watcher.intervals.next(read))
  if (read._tag === "Left") {
    yield* engine.emit(Run.Event.PollFailed({ reason: read.left.message, nextInMillis: Duration.toMillis(wait) }))
  }
  yield* engine.retryPending
  yield* engine.failIfFatal
  const after = engine.progress()
  if (read._tag === "Right") {
    yield* engine.emit(Run.Event.Polled({
      poll,
      comments: after.comments - before.comments,
      pages: yield* Ref.get(pages),
      newPeople: after.discovered - before.discovered,
      progress: after,
      nextInMillis: options.once === true ? 0 : Duration.toMillis(wait)
    }))
  }
  return wait
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
    const watcher: Watcher = {
      engine,
      intervals: yield* Schedule.driver(intervals),
      posts,
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
      const wait = yield* pollOnce(watcher, options)
      // The wait ends early at the campaign's end (`until`), which the next round sees.
      const nextPollAt = Math.min(started + Duration.toMillis(wait), spec.until?.getTime() ?? Number.POSITIVE_INFINITY)
      if (options.once === true || (yield* waitForNextPoll(engine, nextPollAt))) return false
      yield* refresh(watcher, spec)
      return true
    })
    if (halt === undefined) yield* Effect.repeat(round, { while: (goOn) => goOn })
    return yield* engine.summary
  }).pipe(Effect.scoped)
