/**
 * Which posts a watcher reads in a round, and when the next one is due: a pure decision, without I/O.
 *
 * `adaptive`: a post is due once its interval has passed since its last read. The interval is `every` while the post
 * shows new comments, and grows with the time since it last did (an eighth of that quiet time, more for an
 * old post), up to `cap`; a post whose pending replies have a deadline is read again before half the time to it has
 * passed. `round-robin` (the baseline): every post is due every round. Either way the reads are taken from an
 * allowance of requests per minute (a token bucket), most overdue first, so that a watcher spends at most the
 * allowance however many posts it follows.
 */

export type Strategy = "adaptive" | "round-robin"

export interface Settings {
  readonly strategy: Strategy
  /** The shortest interval between two reads of a post, in milliseconds (the watcher's `every`). */
  readonly every: number
  /** The longest interval a quiet post gets, in milliseconds (never below `every`). */
  readonly cap: number
}

/** What the plan knows of a post; a few numbers, so that a watcher of many posts stays small for weeks. */
export interface Post {
  readonly key: string
  /** When it was last read through; undefined: not yet in this process. */
  readonly readAt: number | undefined
  /** Its newest comment's time, or the watcher's first read of it if later: how long it has been quiet. */
  readonly activeAt: number | undefined
  /** When it was published, if known. */
  readonly publishedAt?: number | undefined
  /** The nearest deadline of a reply pending on it (a private reply's 7 days), if any. */
  readonly deadlineAt?: number | undefined
}

/** Quiet time is divided by this: a post quiet for 8 minutes is read every minute (at the least every `every`). */
const quietDivisor = 8
const week = 7 * 24 * 60 * 60 * 1_000

/** The time a post waits between two reads, as of `now`. */
export const interval = (post: Post, now: number, settings: Settings): number => {
  const { cap, every } = settings
  if (settings.strategy === "round-robin") return every
  const quiet = Math.max(0, now - (post.activeAt ?? post.readAt ?? now))
  // An old post slows down faster: a week old, twice as fast as a new one.
  const age = post.publishedAt === undefined ? 0 : Math.max(0, now - post.publishedAt)
  const grown = Math.min(Math.max(cap, every), Math.max(every, (quiet / quietDivisor) * (1 + age / week)))
  return post.deadlineAt === undefined ? grown : Math.min(grown, Math.max(every, (post.deadlineAt - now) / 2))
}

/** When a post is due (now or earlier for a post never read). */
export const dueAt = (post: Post, now: number, settings: Settings): number =>
  post.readAt === undefined ? Number.NEGATIVE_INFINITY : post.readAt + interval(post, now, settings)

/**
 * The first time from `at` (a time the post is not due yet: its last read plus its interval now) at which it is due,
 * to the millisecond: a quiet post's interval grows with its quiet time, so at `at` it has grown past `at` again, and a
 * poll woken then would find nothing to read. The post is due once and for all from one time on (its interval grows
 * slower than the time, or stops at the cap), at the latest at its last read plus the longest interval: a bisection.
 */
const firstDue = (post: Post, at: number, settings: Settings): number => {
  const readAt = post.readAt ?? at
  const isDue = (time: number) => readAt + interval(post, time, settings) <= time
  let notDue = at
  let due = Math.max(at, readAt + Math.max(settings.cap, settings.every))
  while (due - notDue > 1) {
    const middle = (notDue + due) / 2
    if (isDue(middle)) due = middle
    else notDue = middle
  }
  return due
}

export interface Plan {
  /** The posts to read now, most overdue first. */
  readonly read: ReadonlyArray<string>
  /** Posts due now that the allowance leaves for a later round. */
  readonly deferred: number
  /** When the next post not read now falls due (now, when one is deferred); undefined: none. */
  readonly nextAt: number | undefined
}

/**
 * The posts to read at `now`, given `credit` reads (whole ones count; Infinity: no allowance): those due, never-read
 * ones first, then by how far past their interval they are (a post read 3 intervals ago before one read 2 ago).
 */
export const plan = (posts: Iterable<Post>, now: number, settings: Settings, credit: number): Plan => {
  const due: Array<{ readonly key: string; readonly overdue: number }> = []
  let nextAt: number | undefined
  for (const post of posts) {
    const wait = post.readAt === undefined ? 0 : interval(post, now, settings)
    const at = post.readAt === undefined ? Number.NEGATIVE_INFINITY : post.readAt + wait
    if (at <= now) {
      due.push({
        key: post.key,
        overdue: post.readAt === undefined ? Number.POSITIVE_INFINITY : (now - post.readAt) / Math.max(1, wait)
      })
    } else {
      const dueFrom = firstDue(post, at, settings)
      if (nextAt === undefined || dueFrom < nextAt) nextAt = dueFrom
    }
  }
  due.sort((a, b) => b.overdue - a.overdue)
  const take = Math.max(0, Math.min(due.length, Math.floor(credit)))
  const deferred = due.length - take
  return { read: due.slice(0, take).map((post) => post.key), deferred, nextAt: deferred > 0 ? now : nextAt }
}

/** A token bucket of requests: `perMinute` flow in, up to `burst` kept; spending may take it below zero. */
export interface Allowance {
  readonly perMinute: number
  readonly burst: number
  readonly credit: number
  readonly at: number
}

export const allowance = (perMinute: number, burst: number, now: number): Allowance => ({
  perMinute,
  burst,
  credit: burst,
  at: now
})

/** The bucket as of `now`. */
export const refill = (bucket: Allowance, now: number): Allowance => ({
  ...bucket,
  credit: Math.min(bucket.burst, bucket.credit + Math.max(0, now - bucket.at) * bucket.perMinute / 60_000),
  at: Math.max(now, bucket.at)
})

export const spend = (bucket: Allowance, requests: number): Allowance => ({
  ...bucket,
  credit: bucket.credit - requests
})

/** When the bucket holds a whole request again (now if it does). */
export const readyAt = (bucket: Allowance): number =>
  bucket.credit >= 1
    ? bucket.at
    : bucket.perMinute <= 0
    ? Number.POSITIVE_INFINITY
    : bucket.at + Math.ceil((1 - bucket.credit) * 60_000 / bucket.perMinute)
