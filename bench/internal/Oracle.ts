/**
 * What polling could do at best, from the true per-post comment rates (the sandbox's): a yardstick for the polling
 * benchmark, computed rather than simulated.
 *
 * A post read f times a minute at even intervals has its comments wait uniformly between 0 and 1/f, so the share of
 * all comments read within x is the sum over posts of (rate share) x min(1, x f). No polling does better than that
 * bound at the same read rates, however it adapts: comments arrive as a Poisson stream, so whether one has just
 * arrived says nothing of when the next read comes, and the reads of a post within x after a moment cover at most
 * x f of the time. Send time and the poll's granularity (reads happen at polls) come on top, so the measured figures
 * can only be worse.
 */

export interface PostRate {
  /** Comments a minute. */
  readonly perMinute: number
}

/** Reads a minute of each post: `total` in proportion to rate^exponent, each between `min` and `max` (water-filling). */
export const allocate = (
  posts: ReadonlyArray<PostRate>,
  total: number,
  exponent: number,
  min: number,
  max: number
): ReadonlyArray<number> => {
  const weights = posts.map((post) => Math.pow(post.perMinute, exponent))
  const share = (c: number) => weights.map((weight) => Math.min(max, Math.max(min, c * weight)))
  const sum = (c: number) => share(c).reduce((a, b) => a + b, 0)
  let low = 0
  let high = 1
  while (sum(high) < total && high < 1e12) high *= 2
  for (let step = 0; step < 100; step++) {
    const middle = (low + high) / 2
    if (sum(middle) < total) low = middle
    else high = middle
  }
  return share(high)
}

/** The share of comments read within `x` minutes when each post is read at the given rates. */
export const within = (posts: ReadonlyArray<PostRate>, reads: ReadonlyArray<number>, x: number): number => {
  const all = posts.reduce((sum, post) => sum + post.perMinute, 0)
  return posts.reduce((sum, post, index) => sum + post.perMinute / all * Math.min(1, x * (reads[index] ?? 0)), 0)
}

/** The wait (minutes) within which `share` of the comments are read, at the given read rates. */
export const quantile = (posts: ReadonlyArray<PostRate>, reads: ReadonlyArray<number>, share: number): number => {
  let low = 0
  let high = 1
  while (within(posts, reads, high) < share && high < 1e9) high *= 2
  for (let step = 0; step < 100; step++) {
    const middle = (low + high) / 2
    if (within(posts, reads, middle) < share) low = middle
    else high = middle
  }
  return high
}

/**
 * The most comments any polling at `total` reads a minute can read within `x` minutes: reads go to the posts with
 * the most comments first, 1/x a minute each (more gains nothing), the last one what is left (fractional knapsack).
 */
export const bestWithin = (posts: ReadonlyArray<PostRate>, total: number, x: number): number => {
  const sorted = [...posts].sort((a, b) => b.perMinute - a.perMinute)
  let left = total
  const reads = sorted.map(() => {
    const given = Math.max(0, Math.min(1 / x, left))
    left -= given
    return given
  })
  return within(sorted, reads, x)
}

/** The smallest wait within which `share` of the comments can be read at `total` reads a minute, by any polling. */
export const bestQuantile = (posts: ReadonlyArray<PostRate>, total: number, share: number): number => {
  let low = 0
  let high = 1
  while (bestWithin(posts, total, high) < share && high < 1e9) high *= 2
  for (let step = 0; step < 100; step++) {
    const middle = (low + high) / 2
    if (bestWithin(posts, total, middle) < share) low = middle
    else high = middle
  }
  return high
}

/**
 * With two kinds of posts (hot and the others, every post of a kind at the same rate), the smallest p95 any polling at
 * `total` reads a minute can have while its median is at most `median` minutes: the reads split between the kinds in
 * every way (within a kind an even split is best, the bound being concave), the best p95 among the splits that keep
 * the median. Infinity: no split keeps the median.
 */
export const bestP95WithMedian = (
  hot: ReadonlyArray<PostRate>,
  cold: ReadonlyArray<PostRate>,
  total: number,
  median: number
): number => {
  const posts = [...hot, ...cold]
  let best = Number.POSITIVE_INFINITY
  for (let step = 0; step <= 1_000; step++) {
    const toHot = total * step / 1_000
    const reads = [
      ...hot.map(() => toHot / Math.max(1, hot.length)),
      ...cold.map(() => (total - toHot) / Math.max(1, cold.length))
    ]
    if (within(posts, reads, median) >= 0.5) best = Math.min(best, quantile(posts, reads, 0.95))
  }
  return best
}
