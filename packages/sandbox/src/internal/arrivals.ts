/**
 * Comments arriving over time: a Poisson stream of new comments on the sandbox clock, spread over the posts with a
 * skewed mix (a share of "hot" posts gets most of them) plus any fixed per-post rates. Deterministic by seed: the
 * same seed and the same clock give the same comments at the same instants. Comments are added when sandbox time
 * passes their instant (on the next request or control call), each stamped with the instant it arrived; a history
 * (`historyMinutes`) is added at the first reading of the time, as comments of posts already live.
 */
import type * as Profiles from "../Profiles.js"
import * as Generator from "./generator.js"
import * as Prng from "./prng.js"
import type { Store } from "./store.js"

export interface Target {
  readonly store: Store
  readonly postId: string
  /** New comments per minute. */
  readonly perMinute: number
  readonly hot: boolean
}

export interface Summary {
  /** Comments added so far. */
  readonly arrived: number
  /** Every post that gets comments, with its rate per minute and whether it is one of the hot posts. */
  readonly posts: ReadonlyArray<{ readonly postId: string; readonly perMinute: number; readonly hot: boolean }>
}

export const defaults = { hotShare: 0.1, hotWeight: 0.9, matchRatio: 0.4, people: 1000 } as const

/** Why the arrivals cannot be served (a post they name is not the sandbox's), or undefined when they can. */
export const check = (spec: Profiles.Arrivals, postIds: ReadonlyArray<string>): string | undefined => {
  const known = new Set(postIds)
  const unknown = [...(spec.posts ?? []), ...Object.keys(spec.perPost ?? {})].find((postId) => !known.has(postId))
  return unknown === undefined ? undefined : `arrivals name post ${unknown}, which no profile has`
}

/** The posts' rates: `perMinute` split so that `hotShare` of the posts (chosen by seed) get `hotWeight` of it. */
export const targets = (
  spec: Profiles.Arrivals,
  posts: ReadonlyArray<{ readonly store: Store; readonly postId: string }>,
  seed: number
): ReadonlyArray<Target> => {
  const chosen = spec.posts === undefined ? posts : posts.filter((post) => spec.posts?.includes(post.postId) === true)
  // A seeded shuffle of the positions: the first `hotCount` are the hot posts.
  const random = Prng.stream(Prng.hash(seed, 0xa441))
  const order = chosen.map((_, index) => index)
  for (let index = order.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1))
    const swap = order[index] ?? index
    order[index] = order[other] ?? other
    order[other] = swap
  }
  const hotShare = spec.hotShare ?? defaults.hotShare
  const hotCount = chosen.length === 0 || hotShare === 0
    ? 0
    : Math.min(chosen.length, Math.max(1, Math.round(hotShare * chosen.length)))
  const hot = new Set(order.slice(0, hotCount))
  const hotWeight = hotCount === chosen.length ? 1 : hotCount === 0 ? 0 : spec.hotWeight ?? defaults.hotWeight
  const total = spec.perMinute ?? 0
  return chosen.map((post, index) => {
    const isHot = hot.has(index)
    const share = isHot ? hotWeight / hotCount : (1 - hotWeight) / (chosen.length - hotCount)
    return { ...post, perMinute: total * share + (spec.perPost?.[post.postId] ?? 0), hot: isHot }
  })
}

export class Arrivals {
  private readonly targets: ReadonlyArray<Target>
  /** Cumulative rates, to pick a post in proportion to its rate. */
  private readonly cumulative: ReadonlyArray<number>
  private readonly perMilli: number
  private readonly random: () => number
  private readonly matchRatio: number
  private readonly historyMatchRatio: number
  /** Comments before it are the history (posts live before the sandbox started). */
  private readonly startMillis: number
  private readonly people: number
  private readonly seed: number
  private nextAt: number
  private arrived = 0

  constructor(spec: Profiles.Arrivals, targets: ReadonlyArray<Target>, seed: number, startMillis: number) {
    this.targets = targets
    let sum = 0
    this.cumulative = targets.map((target) => (sum += target.perMinute))
    this.perMilli = sum / 60_000
    this.random = Prng.stream(Prng.hash(seed, 0xa442))
    this.matchRatio = spec.matchRatio ?? defaults.matchRatio
    this.historyMatchRatio = spec.historyMatchRatio ?? 0
    this.startMillis = startMillis
    this.people = spec.people ?? defaults.people
    this.seed = seed
    this.nextAt = startMillis - (spec.historyMinutes ?? 0) * 60_000 + this.gap()
  }

  /** Adds every comment that arrived up to `now`. */
  advance(now: number): void {
    while (this.nextAt <= now) {
      const at = this.nextAt
      const total = this.cumulative.at(-1) ?? 0
      const draw = this.random() * total
      const target = this.targets[this.bucket(draw)]
      const person = Math.floor(this.random() * this.people)
      const ratio = at < this.startMillis ? this.historyMatchRatio : this.matchRatio
      const texts = this.random() < ratio ? Generator.matchingTexts : Generator.otherTexts
      const text = Prng.pick(texts, this.random())
      target?.store.addComment({
        postId: target.postId,
        text,
        timestamp: new Date(at).toISOString(),
        user: { id: Generator.personId(person), username: Generator.personUsername(this.seed, person) }
      }, at)
      this.arrived += 1
      this.nextAt = at + this.gap()
    }
  }

  summary(): Summary {
    return {
      arrived: this.arrived,
      posts: this.targets.map(({ hot, perMinute, postId }) => ({ postId, perMinute, hot }))
    }
  }

  /** The first post whose cumulative rate exceeds `draw` (binary search). */
  private bucket(draw: number): number {
    let low = 0
    let high = this.cumulative.length - 1
    while (low < high) {
      const middle = (low + high) >> 1
      if (draw < (this.cumulative[middle] ?? 0)) high = middle
      else low = middle + 1
    }
    return low
  }

  /** Milliseconds to the next comment: exponential with the total rate (never, without one). */
  private gap(): number {
    return this.perMilli <= 0 ? Number.POSITIVE_INFINITY : -Math.log(1 - this.random()) / this.perMilli
  }
}
