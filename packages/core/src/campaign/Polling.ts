/**
 * Polling, for a watcher: "poll one post once" reads a post's pages down to the first page that holds nothing new,
 * which a bounded window of the post's newest comment ids tells; one poll does that for every post and hands the
 * pages to a pass. The interval between polls is a Schedule, which slows down while the API rate-limits reads.
 */
import { Duration, Effect, Either, Schedule, ScheduleDecision, ScheduleInterval, Stream } from "effect"
import type * as Ledger from "../Ledger.js"
import type * as Errors from "../UploadPostError.js"
import type { Engine } from "./Engine.js"
import * as Reading from "./Reading.js"

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

/** Every post's window, by post key. */
export class Windows {
  private readonly windows = new Map<string, RecentIds>()
  constructor(private readonly capacity: number) {}

  /**
   * Poll one post once: the pages of a post that hold something new; the first page with nothing new ends the read.
   * `counter` counts the pages requested.
   */
  newPages(
    engine: Engine,
    post: Reading.PostRef,
    counter: { pages: number }
  ): Stream.Stream<Reading.Page, Reading.ReadFailure> {
    const key = Reading.postKey(post)
    const known = this.windows.get(key) ?? new RecentIds(this.capacity)
    this.windows.set(key, known)
    const firstRead = known.size === 0
    const holdsNews = newsDetector(known)
    // Ids are remembered when the read ends, oldest first, so that the window keeps the newest of the post; the
    // window stays as it was during the read, which the news detector relies on. Only the newest `capacity` ids of
    // the read can stay in the window, so only those are kept.
    const readNow: Array<string> = []
    const capacity = this.capacity
    return engine.allPages(post).pipe(
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

  /** Forgets the posts no longer followed (`posts: recent` moved on). */
  keepOnly(posts: ReadonlyArray<Reading.PostRef>): void {
    const followed = new Set(posts.map(Reading.postKey))
    for (const key of this.windows.keys()) if (!followed.has(key)) this.windows.delete(key)
  }
}

/** Reads that fail this way end only the poll; the next poll tries again. */
export type Passing = Errors.Transient | Errors.RateLimited | Errors.MalformedResponse

const isPassing = (error: Reading.ReadFailure): error is Passing =>
  error._tag === "Transient" || error._tag === "RateLimited" || error._tag === "MalformedResponse"

/** How one poll's read went: every post read (and its people sent to), or a passing failure. */
export type PollRead = Either.Either<void, Passing>

/** One poll: every post read at once (`concurrency` at a time), and the people found sent to, as one pass. */
export const poll = (
  engine: Engine,
  windows: Windows,
  posts: ReadonlyArray<Reading.PostRef>,
  concurrency: number,
  counter: { pages: number }
): Effect.Effect<PollRead, Exclude<Reading.ReadFailure, Passing> | Ledger.LedgerError> =>
  engine.pass(
    Stream.fromIterable(posts).pipe(
      Stream.flatMap((post) => windows.newPages(engine, post, counter), { concurrency })
    )
  ).pipe(
    Effect.map(Either.right),
    Effect.catchIf(
      (error): error is Passing => error._tag !== "LedgerError" && isPassing(error),
      (error) => Effect.succeed(Either.left(error))
    )
  )

/**
 * The time from the start of one poll to the start of the next: `every`, doubled after each rate-limited read up to
 * `maxInterval` (a rate-limited API gets fewer polls until it answers freely again), back to `every` after a read
 * that went through.
 */
export const intervals = (
  every: Duration.Duration,
  maxInterval: Duration.Duration
): Schedule.Schedule<Duration.Duration, PollRead> =>
  Schedule.makeWithState(every, (now, read: PollRead, interval: Duration.Duration) => {
    const next = Either.isRight(read)
      ? every
      : read.left._tag === "RateLimited"
      ? Duration.min(Duration.times(interval, 2), maxInterval)
      : interval
    return Effect.succeed([next, next, ScheduleDecision.continueWith(ScheduleInterval.after(now))] as const)
  })
