/**
 * The polling plan on its own: which posts are due, in what order, within what allowance, and when the next one is.
 */
import { assert, describe, it } from "@effect/vitest"
import * as PollPlan from "../src/campaign/PollPlan.js"

const second = 1_000
const minute = 60 * second
const hour = 60 * minute
const day = 24 * hour

const adaptive: PollPlan.Settings = { strategy: "adaptive", every: 10 * second, cap: 30 * minute }
const roundRobin: PollPlan.Settings = { ...adaptive, strategy: "round-robin" }

const post = (
  key: string,
  readAt: number | undefined,
  activeAt: number | undefined,
  extra: Partial<PollPlan.Post> = {}
) => ({ key, readAt, activeAt, ...extra }) satisfies PollPlan.Post

const now = Date.parse("2026-03-28T12:00:00Z")

describe("PollPlan", () => {
  it("an active post is read every `every`, a quiet one after an eighth of its quiet time, up to the cap", () => {
    assert.strictEqual(PollPlan.interval(post("a", now, now), now, adaptive), 10 * second)
    assert.strictEqual(PollPlan.interval(post("a", now, now - 40 * second), now, adaptive), 10 * second)
    assert.strictEqual(PollPlan.interval(post("a", now, now - 8 * minute), now, adaptive), minute)
    assert.strictEqual(PollPlan.interval(post("a", now, now - 2 * hour), now, adaptive), 15 * minute)
    assert.strictEqual(PollPlan.interval(post("a", now, now - 30 * day), now, adaptive), 30 * minute)
  })

  it("an old post slows down faster; a deadline near brings the read forward; round-robin keeps `every`", () => {
    const quiet = post("a", now, now - 8 * minute)
    assert.strictEqual(PollPlan.interval({ ...quiet, publishedAt: now - 7 * day }, now, adaptive), 2 * minute)
    assert.strictEqual(PollPlan.interval({ ...quiet, deadlineAt: now + minute }, now, adaptive), 30 * second)
    // A deadline already past or at hand: no faster than `every`.
    assert.strictEqual(PollPlan.interval({ ...quiet, deadlineAt: now - hour }, now, adaptive), 10 * second)
    assert.strictEqual(PollPlan.interval(post("a", now, now - 30 * day), now, roundRobin), 10 * second)
  })

  it("a cap below `every` leaves `every`", () => {
    const settings = { ...adaptive, every: hour, cap: 30 * minute }
    assert.strictEqual(PollPlan.interval(post("a", now, now - 30 * day), now, settings), hour)
  })

  it("due posts are read, never-read ones first, then the most overdue; the others tell the next due time", () => {
    const posts = [
      // Interval 15 min now, grown with its quiet time to 16 min 26 s by now + 11 min 26 s: first due then.
      post("quiet", now - 5 * minute, now - 2 * hour),
      post("hot", now - 20 * second, now - 20 * second), // 2 intervals overdue
      post("warm", now - 90 * second, now - 8 * minute), // interval 1 min: 1.5 intervals overdue
      post("new", undefined, undefined)
    ]
    const plan = PollPlan.plan(posts, now, adaptive, { credit: Number.POSITIVE_INFINITY })
    assert.deepStrictEqual(plan.read, ["new", "hot", "warm"])
    assert.strictEqual(plan.deferred, 0)
    assert.closeTo(plan.nextAt!, now + (80 / 7) * minute, 1)
    assert.deepStrictEqual(
      PollPlan.plan(posts.slice(0, 1), plan.nextAt!, adaptive, { credit: Number.POSITIVE_INFINITY }).read,
      ["quiet"]
    )
  })

  it("the allowance takes the most overdue first; the rest wait, and the next read is due at once", () => {
    const posts = [
      post("a", now - 15 * second, now - 15 * second),
      post("b", now - 40 * second, now - 40 * second),
      post("c", now - 25 * second, now - 25 * second)
    ]
    const plan = PollPlan.plan(posts, now, adaptive, { credit: 2.9 })
    assert.deepStrictEqual(plan.read, ["b", "c"])
    assert.strictEqual(plan.deferred, 1)
    assert.strictEqual(plan.nextAt, now)
    // In debt: nothing is read.
    assert.deepStrictEqual(PollPlan.plan(posts, now, adaptive, { credit: -3 }).read, [])
  })

  it("round-robin reads every post in turn: the longest unread first, as many as the allowance lets it", () => {
    const posts = Array.from({ length: 10 }, (_, i) => post(`p${i}`, now - (i + 1) * second, now - 30 * day))
    assert.deepStrictEqual(PollPlan.plan(posts, now, { ...roundRobin, every: 0 }, { credit: 3 }).read, [
      "p9",
      "p8",
      "p7"
    ])
    assert.strictEqual(
      PollPlan.plan(posts, now, { ...roundRobin, every: 0 }, { credit: Number.POSITIVE_INFINITY }).read.length,
      10
    )
  })

  it("no posts: nothing to read, nothing due", () => {
    assert.deepStrictEqual(PollPlan.plan([], now, adaptive, { credit: 5 }), {
      read: [],
      deferred: 0,
      nextAt: undefined
    })
  })

  it("the allowance fills at its rate up to its burst, goes into debt by what was spent, and tells when it has a request", () => {
    let bucket = PollPlan.allowance(60, 10, now)
    assert.strictEqual(bucket.credit, 10)
    bucket = PollPlan.spend(bucket, 13)
    assert.strictEqual(bucket.credit, -3)
    assert.strictEqual(PollPlan.readyAt(bucket), now + 4 * second)
    bucket = PollPlan.refill(bucket, now + 2 * second)
    assert.strictEqual(bucket.credit, -1)
    bucket = PollPlan.refill(bucket, now + hour)
    assert.strictEqual(bucket.credit, 10, "never above the burst")
    // A clock read out of order does not take credit back.
    assert.strictEqual(PollPlan.refill(bucket, now).credit, 10)
    assert.strictEqual(PollPlan.readyAt(bucket), now + hour)
  })

  it("over a day of rounds every `every`, the reads stay within the allowance and go where the comments are", () => {
    // One post gets a matching comment every minute, 99 never do; 30 reads a minute allowed, polls every 10 s.
    const settings = adaptive
    const times = new Map(
      Array.from(
        { length: 100 },
        (_, i) => [`p${i}`, { readAt: undefined as number | undefined, activeAt: undefined as number | undefined }]
      )
    )
    let bucket = PollPlan.allowance(30, 5, now)
    const reads = new Map<string, number>()
    let spent = 0
    for (let at = now; at < now + day; at += settings.every) {
      bucket = PollPlan.refill(bucket, at)
      const plan = PollPlan.plan([...times].map(([key, t]) => ({ key, ...t })), at, settings, { credit: bucket.credit })
      for (const key of plan.read) {
        const t = times.get(key)!
        const active = key === "p0" && t.readAt !== undefined && Math.floor(at / minute) > Math.floor(t.readAt / minute)
        if (t.readAt === undefined || active) t.activeAt = at
        t.readAt = at
        reads.set(key, (reads.get(key) ?? 0) + 1)
      }
      bucket = PollPlan.spend(bucket, plan.read.length)
      spent += plan.read.length
    }
    assert.isAtMost(spent, 30 * 24 * 60 + 5, "within the allowance and its burst")
    assert.isAtLeast(spent, 30 * 24 * 60 * 0.95, "the allowance spent, not left over")
    const hot = reads.get("p0") ?? 0
    const quiet = Math.max(...[...reads].filter(([key]) => key !== "p0").map(([, n]) => n))
    // The active post: every poll; the quiet ones share what it leaves of the allowance.
    assert.isAtLeast(hot, 24 * 60 * 5)
    assert.isAtMost(quiet, hot / 10)
  })
})

describe("PollPlan, rates", () => {
  it("a post's first read seeds its rate from its comments' times; later comments add to it, and it decays", () => {
    // 30 comments over the last 5 hours: about 0.1 a minute.
    const times = Array.from({ length: 30 }, (_, i) => now - (i + 0.5) * 10 * minute)
    const busy = PollPlan.seed(times, now)
    const perMinute = PollPlan.perMinute(busy, now)
    assert.isAbove(perMinute, 0.07)
    assert.isBelow(perMinute, 0.11)
    // A post that had no comment in its history: a small rate, far below the busy one.
    const silent = PollPlan.seed([], now)
    assert.isBelow(PollPlan.perMinute(silent, now), 0.002)
    assert.isAbove(PollPlan.perMinute(silent, now), 0)
    // A comment a minute for an hour lifts the rate; a day without any brings it down again.
    const lifted = PollPlan.observe(busy, Array.from({ length: 60 }, (_, i) => now + i * minute), now + hour)
    assert.isAbove(PollPlan.perMinute(lifted, now + hour), perMinute * 2)
    assert.isBelow(PollPlan.perMinute(lifted, now + 2 * day), perMinute / 5)
    // Three numbers, however many comments: memory stays flat.
    assert.deepStrictEqual(Object.keys(lifted).sort(), ["at", "count", "since"])
    // A comment stamped in the future counts as now; none leaves the estimate as it was, but for the decay.
    assert.strictEqual(PollPlan.observe(silent, [now + day], now).count, 1)
    assert.strictEqual(PollPlan.observe(busy, [], now).count, busy.count)
  })

  it("fill divides a total by weight within each share's bounds, and adds up to it", () => {
    const shares = PollPlan.fill([
      { weight: 4, min: 0, max: 100 },
      { weight: 1, min: 0, max: 100 },
      { weight: 1, min: 0, max: 2 },
      { weight: 0, min: 1, max: 100 }
    ], 21)
    assert.strictEqual(shares.length, 4)
    const [a = 0, b = 0, c = 0, d = 0] = shares
    assert.closeTo(a + b + c + d, 21, 1e-6)
    assert.closeTo(a / b, 4, 1e-6)
    assert.strictEqual(c, 2, "held at its max")
    assert.strictEqual(d, 1, "a weightless share gets its min")
    // Too little for the mins: scaled down to the total. More than the maxes want: the maxes.
    assert.deepStrictEqual(PollPlan.fill([{ weight: 1, min: 2, max: 5 }, { weight: 1, min: 6, max: 9 }], 4), [1, 3])
    assert.deepStrictEqual(PollPlan.fill([{ weight: 1, min: 0, max: 5 }, { weight: 0, min: 0, max: 9 }], 100), [5, 9])
    assert.deepStrictEqual(PollPlan.fill([], 10), [])
  })

  it("a hot post among quiet ones is read more often than the recency rule alone would read it", () => {
    const settings: PollPlan.Settings = { strategy: "adaptive", every: 15 * second, cap: 30 * minute }
    // Six hours of history: the hot post had a comment every 10 minutes, the last 9 minutes ago; nine quiet ones
    // had none. 10 reads a minute for the ten posts.
    const history = Array.from({ length: 36 }, (_, i) => now - 9 * minute - i * 10 * minute)
    const posts: Array<PollPlan.Post> = [
      { key: "hot", readAt: now, activeAt: now - 9 * minute, rate: PollPlan.seed(history, now) },
      ...Array.from({ length: 9 }, (_, i) => ({
        key: `quiet${i}`,
        readAt: now,
        activeAt: undefined,
        rate: PollPlan.seed([], now)
      }))
    ]
    const readsOfHot = (budget: "recency only" | number) => {
      const times = new Map(posts.map((post) => [post.key, post]))
      let bucket = PollPlan.allowance(10, 10 * 15 / 60, now)
      let reads = 0
      for (let at = now + settings.every; at <= now + hour; at += settings.every) {
        bucket = PollPlan.refill(bucket, at)
        const plan = PollPlan.plan(
          [...times.values()],
          at,
          settings,
          // Today's rule: the posts due by recency, all of them (more than it reads within an allowance).
          budget === "recency only"
            ? { credit: Number.POSITIVE_INFINITY }
            : { credit: bucket.credit, perMinute: budget }
        )
        for (const key of plan.read) times.set(key, { ...times.get(key)!, readAt: at })
        if (plan.read.includes("hot")) reads++
        bucket = PollPlan.spend(bucket, plan.read.length)
      }
      return reads
    }
    // Today's rule: an eighth of its quiet time (9 to 69 minutes): about one read in 2 to 8 minutes.
    const recencyOnly = readsOfHot("recency only")
    const byRate = readsOfHot(10)
    assert.isAtMost(recencyOnly, 20)
    assert.isAtLeast(byRate, 3 * recencyOnly, `by rate ${byRate}, by recency ${recencyOnly}`)
    // The rate's share: every `every` at most.
    assert.isAtMost(byRate, 4 * 60)
  })
})
