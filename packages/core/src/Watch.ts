/**
 * Watch mode: follow a campaign's posts and DM new matching commenters within seconds of their comment, for weeks.
 *
 * Each poll reads every post concurrently, newest comments first, and stops paging at the first page that holds
 * nothing new: a quiet post costs one page a poll, however many old comments it has. The same ledger,
 * pacing and guarantees as `Campaign.run` apply. The daily DM limit pauses sends until the campaign's assumed reset
 * (`daily_reset`), when one real message checks whether the platform accepts again, then every 15 minutes until it
 * does; request-rate limits slow the polling down; neither ends the watcher. Memory stays flat: only a bounded window
 * of recent comment ids per post is kept; who was sent lives in the ledger. A post whose pages come round again (a
 * cursor already followed) is read up to there in each poll and reported once; the watcher keeps following every post,
 * and its summary ends `failed`.
 */
import { Clock, Duration, Effect, Ref, Stream } from "effect"
import * as Engine from "./campaign/Engine.js"
import * as Reading from "./campaign/Reading.js"
import type * as CampaignSpec from "./CampaignSpec.js"
import type * as Ledger from "./Ledger.js"
import * as Run from "./Run.js"
import type * as UploadPost from "./UploadPost.js"
import type * as Errors from "./UploadPostError.js"

export interface WatchOptions<R = never> extends Engine.Options<R> {
  /** Time between the starts of two polls (default 60 s). */
  readonly every?: Duration.DurationInput
  /** One poll, then stop (for cron-like schedulers). */
  readonly once?: boolean
  /** Posts read at the same time in a poll (default 4). */
  readonly postConcurrency?: number
  /** Comment ids remembered per post to recognise old pages (default 1,000: 20 pages of 50). */
  readonly windowSize?: number
  /** The longest the interval grows to while the API keeps rate-limiting reads (default 15 minutes). */
  readonly maxInterval?: Duration.DurationInput
}

export const defaultInterval = Duration.seconds(60)

/**
 * The newest comment ids of one post, at most `capacity`, the least recently added forgotten first. Adding an id it
 * holds makes it the most recent again, so adding a read oldest first keeps the window in the post's own order.
 */
class RecentIds {
  private readonly ids = new Set<string>()
  constructor(private readonly capacity: number) {}
  has(id: string) {
    return this.ids.has(id)
  }
  add(id: string) {
    this.ids.delete(id)
    this.ids.add(id)
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next()
      if (oldest.done !== true) this.ids.delete(oldest.value)
    }
  }
  get size() {
    return this.ids.size
  }
}

/**
 * Tells, page by page of one read (newest comments first), whether a page holds anything new. The window holds the
 * newest ids of the post as a run of consecutive comments, so from the first remembered comment on, it covers the
 * next `size` places of the list; a comment below that run was listed below it at an earlier read, and is old even
 * when the window has forgotten it. An unknown comment inside the run is new (it came in out of order).
 */
const newsDetector = (known: RecentIds) => {
  let place = 0
  let firstKnownAt: number | undefined
  return (comments: ReadonlyArray<{ readonly id: string }>): boolean => {
    let news = false
    for (const comment of comments) {
      const at = place++
      if (known.has(comment.id)) {
        firstKnownAt ??= at
      } else if (firstKnownAt === undefined || at < firstKnownAt + known.size) {
        news = true
      }
    }
    return news
  }
}

/** Reads that fail this way end only the poll; the next poll tries again. */
const isPassing = (
  error: Errors.ReadError
): error is Errors.Transient | Errors.RateLimited | Errors.MalformedResponse =>
  error._tag === "Transient" || error._tag === "RateLimited" || error._tag === "MalformedResponse"

export const watch = <R = never>(
  spec: CampaignSpec.CampaignSpec,
  options: WatchOptions<R> = {}
): Effect.Effect<Run.Summary, Run.RunError, UploadPost.UploadPost | Ledger.Ledger | R> =>
  Effect.gen(function*() {
    const session = yield* Engine.make(spec, options, "watch")
    const every = Duration.decode(options.every ?? defaultInterval)
    const maxInterval = Duration.decode(options.maxInterval ?? Duration.minutes(15))
    const capacity = options.windowSize ?? 1_000
    const windows = new Map<string, RecentIds>()
    const interval = yield* Ref.make(every)

    let posts = yield* session.resolvePosts
    yield* session.open(posts.length)

    /** The pages of a post that hold something new; the first page with nothing new ends the read. */
    const newPages = (post: CampaignSpec.PostId | CampaignSpec.PostUrl, counter: { pages: number }) => {
      const key = Reading.postKey(post)
      const known = windows.get(key) ?? new RecentIds(capacity)
      windows.set(key, known)
      const firstRead = known.size === 0
      const holdsNews = newsDetector(known)
      // Ids are remembered when the read ends, oldest first, so that the window keeps the newest of the post; the
      // window stays as it was during the read, which the news detector relies on. Only the newest `capacity` ids of
      // the read can stay in the window, so only those are kept.
      const readNow: Array<string> = []
      return session.allPages(post).pipe(
        Stream.tap(() => Effect.sync(() => counter.pages++)),
        Stream.takeWhile((page) => firstRead || holdsNews(page.comments)),
        Stream.tap((page) =>
          Effect.sync(() => {
            for (const comment of page.comments) {
              if (readNow.length >= capacity) return
              readNow.push(comment.id)
            }
          })
        ),
        Stream.onEnd(Effect.sync(() => {
          for (let index = readNow.length - 1; index >= 0; index--) known.add(readNow[index]!)
        }))
      )
    }

    /** Sleeps until `at`, or until a stop is asked for: succeeds with whether it was. */
    const sleepUntil = (at: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.raceFirst(
          Effect.as(Effect.sleep(Duration.millis(Math.max(0, at - now))), false),
          Effect.as(session.stopSignal, true)
        ))

    /**
     * Waits for the next poll; while paused at the daily limit, sends to the pending people at each probe time before
     * it (the first of them probes). A probe time that comes round again unchanged found nobody to probe with: the
     * poll comes first then. Succeeds with whether a stop was asked for.
     */
    const waitForNextPoll = (nextPollAt: number) =>
      Effect.gen(function*() {
        let tried: number | undefined
        while (true) {
          const probeAt = yield* session.nextProbeAt
          const probeFirst = probeAt !== undefined && probeAt !== tried && probeAt < nextPollAt
          if (yield* sleepUntil(probeFirst ? probeAt : nextPollAt)) return true
          if (!probeFirst) return false
          tried = probeAt
          yield* session.sendPending
          yield* session.failIfFatal
        }
      })

    let poll = 0
    while (!(yield* session.isStopped)) {
      poll++
      const pollStarted = yield* Clock.currentTimeMillis
      const before = session.progress()
      const counter = { pages: 0 }
      const read = yield* Effect.either(
        session.pass(
          Stream.fromIterable(posts).pipe(
            Stream.flatMap((post) => newPages(post, counter), { concurrency: options.postConcurrency ?? 4 })
          )
        )
      )
      if (read._tag === "Left") {
        const error = read.left
        if (error._tag === "LedgerError" || !isPassing(error)) return yield* Effect.fail(error)
        // A rate-limited API gets fewer polls until it answers freely again.
        const slower = error._tag === "RateLimited"
          ? Duration.min(Duration.times(yield* Ref.get(interval), 2), maxInterval)
          : yield* Ref.get(interval)
        yield* Ref.set(interval, slower)
        yield* session.emit(
          Run.Event.PollFailed({ reason: error.message, nextInMillis: Duration.toMillis(slower) })
        )
      } else {
        yield* Ref.set(interval, every)
      }
      yield* session.retryPending
      yield* session.failIfFatal
      const after = session.progress()
      const wait = yield* Ref.get(interval)
      if (read._tag === "Right") {
        yield* session.emit(Run.Event.Polled({
          poll,
          comments: after.comments - before.comments,
          pages: counter.pages,
          newPeople: after.discovered - before.discovered,
          progress: after,
          nextInMillis: options.once === true ? 0 : Duration.toMillis(wait)
        }))
      }
      if (options.once === true) break
      // The interval runs from the start of one poll to the start of the next.
      if (yield* waitForNextPoll(pollStarted + Duration.toMillis(wait))) break
      yield* session.reconcile
      if (spec.posts.some((post) => post._tag === "Recent")) {
        const refreshed = yield* Effect.either(session.resolvePosts)
        if (refreshed._tag === "Right") {
          posts = refreshed.right
          const followed = new Set(posts.map(Reading.postKey))
          for (const key of windows.keys()) if (!followed.has(key)) windows.delete(key)
        }
      }
    }
    return yield* session.summary
  }).pipe(Effect.scoped)
