import { assert, describe, it } from "@effect/vitest"
import { Duration } from "effect"
import * as Reach from "../src/Reach.js"

const now = new Date("2026-12-06T12:00:00Z")
const hoursAgo = (hours: number) => new Date(now.getTime() - hours * 3_600_000)
const facts = (fields: Partial<Reach.Facts> = {}): Reach.Facts => ({
  now,
  lastMessageAt: undefined,
  commentTime: hoursAgo(1),
  ownComment: false,
  ...fields
})
const auto: Reach.Rules = { platform: "instagram", delivery: "auto" }

describe("Reach.choose", () => {
  it("auto on Instagram: a DM while the person's 24-hour window is open, until it ends", () => {
    const choice = Reach.choose(facts({ lastMessageAt: hoursAgo(2) }), auto)
    assert.deepStrictEqual(choice, { _tag: "Dm", windowEndsAt: new Date(hoursAgo(2).getTime() + 86_400_000) })
  })

  it("auto: a window about to close (inside the margin) is not used; the private reply is", () => {
    const choice = Reach.choose(facts({ lastMessageAt: hoursAgo(23.8) }), auto)
    assert.strictEqual(choice._tag, "PrivateReply")
    assert.strictEqual(Reach.choose(facts({ lastMessageAt: hoursAgo(23.8) }), { ...auto, margin: 0 })._tag, "Dm")
  })

  it("auto: someone who only commented gets a private reply before the comment's 7-day deadline", () => {
    const commentTime = hoursAgo(24 * 6)
    assert.deepStrictEqual(Reach.choose(facts({ commentTime }), auto), {
      _tag: "PrivateReply",
      deadline: new Date(commentTime.getTime() + Duration.toMillis(Reach.privateReplyWindow))
    })
  })

  it("auto: a comment older than 7 days (less the margin) and no open window: skipped, comment_too_old", () => {
    for (const hours of [24 * 7 + 1, 24 * 7 - 0.25, 24 * 30]) {
      assert.deepStrictEqual(Reach.choose(facts({ commentTime: hoursAgo(hours), lastMessageAt: hoursAgo(48) }), auto), {
        _tag: "Skip",
        reason: "comment_too_old"
      })
    }
  })

  it("a comment without a time is tried by private reply: the platform decides", () => {
    assert.deepStrictEqual(Reach.choose(facts({ commentTime: undefined }), auto), {
      _tag: "PrivateReply",
      deadline: undefined
    })
  })

  it("the account's own comment is skipped whatever else is true", () => {
    for (const delivery of ["auto", "dm", "private_reply"] as const) {
      for (const platform of ["instagram", "facebook"] as const) {
        assert.deepStrictEqual(
          Reach.choose(facts({ ownComment: true, lastMessageAt: hoursAgo(1) }), { platform, delivery }),
          { _tag: "Skip", reason: "own_comment" }
        )
      }
    }
  })

  it("delivery dm on Instagram: a closed window is skipped as window_closed, never a private reply", () => {
    const rules: Reach.Rules = { platform: "instagram", delivery: "dm" }
    assert.deepStrictEqual(Reach.choose(facts(), rules), { _tag: "Skip", reason: "window_closed" })
    assert.strictEqual(Reach.choose(facts({ lastMessageAt: hoursAgo(3) }), rules)._tag, "Dm")
  })

  it("delivery private_reply: a private reply even with the window open", () => {
    const rules: Reach.Rules = { platform: "instagram", delivery: "private_reply" }
    assert.strictEqual(Reach.choose(facts({ lastMessageAt: hoursAgo(3) }), rules)._tag, "PrivateReply")
  })

  it("off Instagram auto means dm: the platform decides, with no window known", () => {
    assert.deepStrictEqual(Reach.choose(facts({ commentTime: hoursAgo(24 * 30) }), { ...auto, platform: "facebook" }), {
      _tag: "Dm",
      windowEndsAt: undefined
    })
  })
})
