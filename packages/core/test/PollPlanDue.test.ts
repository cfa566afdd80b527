/**
 * When the plan says a quiet post falls due, it is due: its interval grows with its quiet time, so the time its last
 * read plus its interval gives is already too soon when it comes, and a watcher woken then found nothing to read (every
 * other poll of a post quiet for more than 8 intervals read nothing, and told a poll of 0 pages).
 */
import { assert, describe, it } from "@effect/vitest"
import * as PollPlan from "../src/campaign/PollPlan.js"

const second = 1_000
const minute = 60 * second
const week = 7 * 24 * 60 * minute
const settings: PollPlan.Settings = { strategy: "adaptive", every: second, cap: 30 * minute }
const start = Date.parse("2026-03-28T12:00:00Z")
/** Reads only the posts that are due (with credit, the plan spends what is left on the posts nearest their turn). */
const noAllowance: PollPlan.Budget = { credit: Number.POSITIVE_INFINITY }

/** Polls of one post as a watcher makes them: each at the time the last plan gave, the post read when due. */
const polls = (post: Omit<PollPlan.Post, "readAt">, readAt: number, count: number) => {
  let read = readAt
  let at = readAt
  const polled: Array<{ readonly at: number; readonly read: boolean }> = []
  for (let n = 0; n < count; n++) {
    const next = PollPlan.plan([{ ...post, readAt: read }], at + settings.every, settings, noAllowance)
    at = next.read.length > 0 ? at + settings.every : next.nextAt!
    const due = PollPlan.plan([{ ...post, readAt: read }], at, settings, noAllowance).read.length > 0
    polled.push({ at, read: due })
    if (due) read = at
  }
  return polled
}

describe("PollPlan's next due time", () => {
  it("a post quiet for longer than 8 intervals is due at the time the plan gave, every poll", () => {
    const polled = polls({ key: "quiet", activeAt: start }, start + 9 * second, 40)
    assert.deepStrictEqual(polled.filter((poll) => !poll.read), [], "no poll finds the post not due")
    // And not later than it need be: two milliseconds before, it was not due yet.
    const first = polled[0]!.at
    const before = PollPlan.plan(
      [{ key: "quiet", activeAt: start, readAt: start + 9 * second }],
      first - 2,
      settings,
      noAllowance
    )
    assert.deepStrictEqual(before.read, [])
  })

  it("an old post, whose interval outgrows the time, is due at its last read plus the cap at the latest", () => {
    const readAt = start + 10 * minute
    const old = { key: "old", activeAt: start, publishedAt: start - 10 * week }
    const next = PollPlan.plan([{ ...old, readAt }], readAt + second, settings, noAllowance)
    assert.isAtMost(next.nextAt!, readAt + settings.cap)
    assert.deepStrictEqual(PollPlan.plan([{ ...old, readAt }], next.nextAt!, settings, noAllowance).read, ["old"])
    assert.deepStrictEqual(polls(old, readAt, 10).filter((poll) => !poll.read), [])
  })

  it("a post with a reply's deadline is due when the plan says, before half the time to the deadline", () => {
    const readAt = start + 10 * minute
    const post = { key: "deadline", activeAt: start, deadlineAt: readAt + 4 * minute }
    const next = PollPlan.plan([{ ...post, readAt }], readAt + second, settings, noAllowance)
    assert.isAtMost(next.nextAt!, readAt + 2 * minute)
    assert.deepStrictEqual(PollPlan.plan([{ ...post, readAt }], next.nextAt!, settings, noAllowance).read, ["deadline"])
  })
  it("dueAt of a quiet post just read is a time the plan finds it due (its interval as of the read is too soon)", () => {
    const post = { key: "quiet", activeAt: start, readAt: start + 9 * minute }
    const asOfRead = post.readAt + PollPlan.interval(post, post.readAt, settings)
    assert.deepStrictEqual(PollPlan.plan([post], asOfRead, settings, noAllowance).read, [])
    const due = PollPlan.dueAt(post, settings)
    assert.isAbove(due, asOfRead)
    assert.deepStrictEqual(PollPlan.plan([post], due, settings, noAllowance).read, ["quiet"])
    assert.deepStrictEqual(PollPlan.plan([post], due - 2, settings, noAllowance).read, [])
  })
})
