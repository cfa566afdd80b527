/**
 * Which posts a watcher reads in a round, and when the next one is due: a pure decision, without I/O.
 *
 * `adaptive`: each post has an estimate of its comment rate (`Rate`: a decayed count, seeded from the comments of its
 * first read). Under an allowance, the allowance's reads a minute are divided among the posts in proportion to a power
 * of their rates (`fill`, `rateExponent`: steeper than the square-root rule that minimises the mean wait),
 * each between one read per `cap` and one per `every`. A post that just got comments is read sooner still: its
 * interval is `every` while it shows new comments and grows with the time since it last did (an eighth of that quiet
 * time, more for an old post); a post whose pending replies have a deadline is read again before half the time to it
 * has passed. Without an
 * allowance only that recency rule applies, up to `cap`. `round-robin` (the baseline): every post is due every round.
 * Either way the reads are taken from a token bucket, most overdue first, and credit left once the due posts are read
 * goes to the posts nearest their turn, so that a watcher spends its allowance and never more.
 */

export type Strategy = "adaptive" | "round-robin"

export interface Settings {
  readonly strategy: Strategy
  /** The shortest interval between two reads of a post, in milliseconds (the watcher's `every`). */
  readonly every: number
  /** The longest interval a quiet post gets, in milliseconds (never below `every`). */
  readonly cap: number
}

/**
 * A post's comment rate as a decayed count: the comments seen, each weighted by e^(-age / `rateDecay`), as of `at`,
 * and since when the estimate has looked. Three numbers, so that memory stays flat for weeks and thousands of posts.
 */
export interface Rate {
  readonly count: number
  readonly at: number
  readonly since: number
}

/** What the plan knows of a post; a few numbers, so that a watcher of many posts stays small for weeks. */
export interface Post {
  readonly key: string
  /** When it was last read through; undefined: not yet in this process. */
  readonly readAt: number | undefined
  /** Its newest comment's time (or the watcher's first read of it): how long it has been quiet; undefined: never. */
  readonly activeAt: number | undefined
  /** When it was published, if known. */
  readonly publishedAt?: number | undefined
  /** The nearest deadline of a reply pending on it (a private reply's 7 days), if any. */
  readonly deadlineAt?: number | undefined
  /** Its comment rate; undefined: nothing read yet. */
  readonly rate?: Rate | undefined
}

/** Quiet time is divided by this: a post quiet for 8 minutes is read every minute (at the least every `every`). */
const quietDivisor = 8
const minute = 60_000
const week = 7 * 24 * 60 * minute

/** A comment's weight halves in about 4 hours (e-folding time 6 hours): the rate follows a post's last hours. */
export const rateDecay = 6 * 60 * minute
/**
 * What a post is assumed to have had before the estimate looked: a tenth of a comment in an hour. A post without
 * comments still gets a rate, and one comment in a short look does not pass for a torrent; a larger prior makes
 * every post look alike (at half a comment, the polling benchmark's busy posts got 36% of the reads, not 60%).
 */
const priorCount = 0.1
const priorWindow = 60 * minute

/** A rate that has seen nothing, from `now`. */
export const emptyRate = (now: number): Rate => ({ count: 0, at: now, since: now })

/** The rate after new comments at the given times, as of `now` (times after `now` count as `now`). */
export const observe = (rate: Rate, times: Iterable<number>, now: number): Rate => {
  const at = Math.max(now, rate.at)
  let count = rate.count * Math.exp(-(at - rate.at) / rateDecay)
  for (const time of times) count += Math.exp(-Math.max(0, at - time) / rateDecay)
  return { count, at, since: rate.since }
}

/**
 * The rate from a post's first read: the comments it has had, looked at since it was published (if known), else since
 * the oldest of them. A post that has been live has a history: the watcher need not learn it again.
 */
export const seed = (times: ReadonlyArray<number>, now: number, publishedAt?: number): Rate => {
  let oldest = now
  for (const time of times) oldest = Math.min(oldest, time)
  return observe({ count: 0, at: now, since: Math.min(publishedAt ?? oldest, oldest) }, times, now)
}

/** Comments a minute, as of `now`. */
export const perMinute = (rate: Rate, now: number): number => {
  const looked = Math.max(0, now - rate.since)
  const count = rate.count * Math.exp(-Math.max(0, now - rate.at) / rateDecay)
  return (count + priorCount) / ((rateDecay * -Math.expm1(-looked / rateDecay) + priorWindow) / minute)
}

/**
 * How reads follow rates: a post gets reads in proportion to its rate to this power. 0.5, the square-root rule,
 * minimises the mean time a comment waits for its read (f_i ~ sqrt(rate_i) minimises sum rate_i / f_i at a fixed
 * sum f_i); steeper favours the busiest posts further, which lowers the median wait (most comments are on them) and
 * raises the tail (comments on quiet posts). 1 (reads in proportion to comments) is what the polling benchmark
 * measured best for the median: estimated rates are noisy, which flattens the allocation (at 0.75 its busy posts got
 * 60% of the reads, and the median missed a fifth of round-robin's by a hair), and even with the true rates the
 * square-root rule leaves the median above a fifth of round-robin's there (bench/RESULTS.md).
 */
export const rateExponent = 1

/** A claim on a share of reads: `weight` decides between `min` and `max` (reads a minute). */
export interface Demand {
  readonly weight: number
  readonly min: number
  readonly max: number
}

/**
 * `total` divided among the demands: each gets c x weight, held between its min and max, with c such that the shares
 * add up to `total` (water-filling). Mins that exceed `total` are scaled down to it; maxes that fall short of it are
 * all given, and the rest stays unspent.
 */
export const fill = (demands: ReadonlyArray<Demand>, total: number): ReadonlyArray<number> => {
  let mins = 0
  let maxes = 0
  let weights = 0
  for (const demand of demands) {
    mins += demand.min
    maxes += Math.max(demand.min, demand.max)
    weights += demand.weight
  }
  if (mins >= total) return demands.map((demand) => mins === 0 ? 0 : demand.min * total / mins)
  if (maxes <= total || weights <= 0) return demands.map((demand) => Math.max(demand.min, demand.max))
  const share = (c: number) => (demand: Demand) =>
    Math.max(demand.min, Math.min(Math.max(demand.min, demand.max), c * demand.weight))
  const sum = (c: number) => demands.reduce((acc, demand) => acc + share(c)(demand), 0)
  // sum(c) grows with c from `mins` to `maxes`: bisect until the shares add up to `total`.
  let low = 0
  let high = total / weights
  while (sum(high) < total) high *= 2
  for (let step = 0; step < 60 && high - low > high * 1e-12; step++) {
    const middle = (low + high) / 2
    if (sum(middle) < total) low = middle
    else high = middle
  }
  return demands.map(share(high))
}

/**
 * A comment a minute: what a post never read is taken to get until its first read tells, so that a watcher that
 * joins a shared allowance gets its first reads soon.
 */
const unreadRate = 1

/** A post's claim on reads a minute: its rate's weight, between one read a `cap` and one an `every`. */
export const demandOf = (post: Post, now: number, settings: Settings): Demand => ({
  weight: settings.strategy === "round-robin"
    ? 1
    : Math.pow(
      post.readAt === undefined ? unreadRate : perMinute(post.rate ?? emptyRate(now), now),
      rateExponent
    ),
  min: minute / Math.max(settings.cap, settings.every, 1),
  max: minute / Math.max(settings.every, 1)
})

/** The demands of a watcher's posts taken together, for a share of an allowance that several watchers divide. */
export const totalDemand = (posts: Iterable<Post>, now: number, settings: Settings): Demand => {
  let weight = 0
  let min = 0
  let max = 0
  for (const post of posts) {
    const demand = demandOf(post, now, settings)
    weight += demand.weight
    min += demand.min
    max += demand.max
  }
  return { weight, min, max }
}

/** The recency rule: the time a post waits between two reads, as of `now`, from its quiet time, age and deadline. */
const recencyInterval = (post: Post, now: number, settings: Settings): number => {
  const { cap, every } = settings
  // A post never seen active gets no boost: the cap (or its share of an allowance).
  const quiet = post.activeAt === undefined ? Number.POSITIVE_INFINITY : Math.max(0, now - post.activeAt)
  // An old post slows down faster: a week old, twice as fast as a new one.
  const age = post.publishedAt === undefined ? 0 : Math.max(0, now - post.publishedAt)
  const grown = Math.min(Math.max(cap, every), Math.max(every, (quiet / quietDivisor) * (1 + age / week)))
  return post.deadlineAt === undefined ? grown : Math.min(grown, Math.max(every, (post.deadlineAt - now) / 2))
}

/**
 * The time a post waits between two reads, as of `now`: the recency rule's, or sooner where the post's share of an
 * allowance (`readsPerMinute`, from `fill`) reads it more often.
 */
export const interval = (post: Post, now: number, settings: Settings, readsPerMinute?: number): number => {
  if (settings.strategy === "round-robin") return settings.every
  const recency = recencyInterval(post, now, settings)
  if (readsPerMinute === undefined || !(readsPerMinute > 0)) return recency
  return Math.min(recency, Math.max(settings.every, minute / readsPerMinute))
}

/**
 * When a post falls due (never-read ones at once), without an allowance: the first time its last read plus its
 * interval then is reached, so that a poll woken at it finds the post due.
 */
export const dueAt = (post: Post, settings: Settings): number =>
  post.readAt === undefined
    ? Number.NEGATIVE_INFINITY
    : firstDue(post, post.readAt + interval(post, post.readAt, settings), settings, undefined)

/**
 * The first time from `at` (a time the post is not due yet: its last read plus its interval now) at which it is due,
 * to the millisecond: a quiet post's interval grows with its quiet time, so at `at` it has grown past `at` again, and a
 * poll woken then would find nothing to read. The post is due once and for all from one time on (its interval grows
 * slower than the time, or stops at the cap), at the latest at its last read plus the longest interval: a bisection.
 */
const firstDue = (post: Post, at: number, settings: Settings, readsPerMinute: number | undefined): number => {
  const readAt = post.readAt ?? at
  const isDue = (time: number) => readAt + interval(post, time, settings, readsPerMinute) <= time
  if (isDue(at)) return at
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
  /** The posts to read now: due ones, most overdue first, then any the allowance's spare credit reaches. */
  readonly read: ReadonlyArray<string>
  /** Posts due now that the allowance leaves for a later round. */
  readonly deferred: number
  /** When the next post not read now falls due (now, when one is deferred); undefined: none. */
  readonly nextAt: number | undefined
}

/** What the plan may spend: whole requests of `credit` (Infinity: no allowance), flowing in at `perMinute`. */
export interface Budget {
  readonly credit: number
  readonly perMinute?: number | undefined
}

/**
 * The posts to read at `now`. Due ones first: never-read ones, then by how far past their interval they are (a post
 * read 3 intervals ago before one read 2 ago); credit left after them goes to the posts nearest their turn, so that
 * the allowance is spent (a poll reads each post once at most).
 */
export const plan = (posts: Iterable<Post>, now: number, settings: Settings, budget: Budget): Plan => {
  const list = Array.isArray(posts) ? posts as ReadonlyArray<Post> : [...posts]
  const shares = budget.perMinute === undefined || settings.strategy === "round-robin"
    ? undefined
    : fill(list.map((post) => demandOf(post, now, settings)), budget.perMinute)
  const ranked = list.map((post, index) => {
    const wait = interval(post, now, settings, shares?.[index])
    return {
      post,
      share: shares?.[index],
      key: post.key,
      wait,
      readAt: post.readAt,
      overdue: post.readAt === undefined ? Number.POSITIVE_INFINITY : (now - post.readAt) / Math.max(1, wait)
    }
  })
  ranked.sort((a, b) => b.overdue - a.overdue)
  // A hair of tolerance: credit that flowed in by quarters of a request adds up to 0.9999... as often as to 1.
  const credit = Math.max(0, Math.floor(budget.credit + wholeTolerance))
  const due = ranked.filter((post) => post.overdue >= 1).length
  const take = Math.min(Number.isFinite(credit) ? credit : due, ranked.length)
  const read = ranked.slice(0, take)
  const deferred = Math.max(0, due - take)
  let nextAt: number | undefined
  for (const post of ranked.slice(take)) {
    const at = firstDue(post.post, (post.readAt ?? now) + post.wait, settings, post.share)
    if (nextAt === undefined || at < nextAt) nextAt = at
  }
  return { read: read.map((post) => post.key), deferred, nextAt: deferred > 0 ? now : nextAt }
}

const wholeTolerance = 1e-9

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

/** The bucket filled up to `now` at its old rate, flowing at `perMinute` (up to `burst`) from then on. */
export const retune = (bucket: Allowance, perMinute: number, burst: number, now: number): Allowance => {
  const filled = refill(bucket, now)
  return { ...filled, perMinute, burst, credit: Math.min(burst, filled.credit) }
}

export const spend = (bucket: Allowance, requests: number): Allowance => ({
  ...bucket,
  credit: bucket.credit - requests
})

/** When the bucket holds a whole request again (now if it does). */
export const readyAt = (bucket: Allowance): number =>
  bucket.credit + wholeTolerance >= 1
    ? bucket.at
    : bucket.perMinute <= 0
    ? Number.POSITIVE_INFINITY
    : bucket.at + Math.ceil((1 - bucket.credit) * 60_000 / bucket.perMinute)
