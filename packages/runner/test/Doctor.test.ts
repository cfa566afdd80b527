/** The pure parts of `doctor`: the plan's figures against the pace, post URLs, who wrote when, the `auto` preview. */
import type { UploadPost } from "@comment-dm/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { smallCampaign as spec } from "../../core/test/support/smallCampaign.js"
import * as Doctor from "../src/Doctor.js"

const byName = (checks: ReadonlyArray<Doctor.Check>, name: Doctor.CheckName) => {
  const found = checks.find((check) => check.name === name)
  assert.isDefined(found, name)
  return found!
}

describe("Doctor.limitChecks", () => {
  it.effect("a pace above the plan's request limit is a configuration problem that names the highest pace", () =>
    Effect.gen(function*() {
      const checks = Doctor.limitChecks(yield* spec({ pace: { per_hour: 5000 } }), "Free")
      const limit = byName(checks, "request_limit")
      assert.strictEqual(limit.status, "problem")
      assert.strictEqual(limit.exit_code, 2)
      assert.include(limit.detail, "60 a minute, 300 per 10 minutes: at most 1,800 an hour")
      assert.include(limit.fix ?? "", "pace.per_hour to 1,800 or less")
      assert.strictEqual(Doctor.exitCodeOf(checks), 2)
    }))

  it.effect("within the limit but above Upload-Post's 200 an hour: a warning; the default pace: ok", () =>
    Effect.gen(function*() {
      const fast = Doctor.limitChecks(yield* spec({ pace: { per_hour: 1000 } }), "business")
      assert.strictEqual(byName(fast, "request_limit").status, "warning")
      const calm = Doctor.limitChecks(yield* spec(), "business")
      assert.strictEqual(byName(calm, "request_limit").status, "ok")
      // 200 an hour for a day is 4,800: the paid cap of 500 is reached after 2h 30m.
      assert.strictEqual(byName(calm, "daily_cap").status, "warning")
      assert.include(byName(calm, "daily_cap").detail, "reached after 2h 30m")
    }))

  it.effect("the daily cap: a day at the pace above it is a warning with when it is reached, never a problem", () =>
    Effect.gen(function*() {
      const checks = Doctor.limitChecks(yield* spec({ pace: { per_hour: 60 } }), "free")
      const cap = byName(checks, "daily_cap")
      assert.strictEqual(cap.status, "warning")
      assert.include(cap.detail, "daily DM cap of 10")
      assert.include(cap.detail, "reached after 10m")
      assert.strictEqual(Doctor.exitCodeOf(checks), 0)
      const slow = Doctor.limitChecks(yield* spec({ pace: { per_hour: 20 } }), "Business")
      assert.strictEqual(byName(slow, "daily_cap").status, "ok")
    }))

  it.effect("a plan whose figures are not documented: warnings, and the run can proceed", () =>
    Effect.gen(function*() {
      const checks = Doctor.limitChecks(yield* spec(), undefined)
      assert.deepStrictEqual(checks.map((check) => check.status), ["warning", "warning"])
      assert.strictEqual(Doctor.exitCodeOf(checks), 0)
      assert.deepStrictEqual(Doctor.planLimits("Pro"), {
        requestsPerMinute: undefined,
        requestsPer10Minutes: undefined,
        dailyDmCap: 500
      })
    }))
})

describe("Doctor.exitCodeOf", () => {
  const problem = (exit: 1 | 2 | 3 | 4): Doctor.Check => ({
    name: "post",
    subject: null,
    status: "problem",
    detail: "",
    fix: null,
    exit_code: exit
  })
  it("the key or account first, then configuration, the daily limit, anything else; no problem is 0", () => {
    assert.strictEqual(Doctor.exitCodeOf([problem(1), problem(2), problem(4)]), 4)
    assert.strictEqual(Doctor.exitCodeOf([problem(1), problem(3), problem(2)]), 2)
    assert.strictEqual(Doctor.exitCodeOf([problem(1), problem(3)]), 3)
    assert.strictEqual(Doctor.exitCodeOf([problem(1)]), 1)
    assert.strictEqual(Doctor.exitCodeOf([{ ...problem(1), status: "warning", exit_code: 0 }]), 0)
  })
})

describe("Doctor.urlKey", () => {
  it("one Instagram post whatever the host spelling, the kind of link, a query or a trailing slash", () => {
    const key = Doctor.urlKey("https://www.instagram.com/reel/C9xyzAbCdEf/")
    for (const url of ["https://instagram.com/p/C9xyzAbCdEf", "https://www.instagram.com/reel/C9xyzAbCdEf/?igsh=1"]) {
      assert.strictEqual(Doctor.urlKey(url), key)
    }
    assert.notStrictEqual(Doctor.urlKey("https://www.instagram.com/p/Other/"), key)
    assert.strictEqual(Doctor.urlKey("https://WWW.Example.com/a/b/"), Doctor.urlKey("https://example.com/a/b"))
  })
})

const at = (iso: string) => new Date(iso)
const message = (fromId: string, toId: string, time: string): UploadPost.ConversationMessage => ({
  id: `${fromId}-${time}`,
  createdTime: at(time),
  fromId,
  toIds: [toId],
  text: "hi"
})

describe("Doctor.lastMessages", () => {
  it("keeps each person's latest message to the account; the account's own messages do not count", () => {
    const conversations: ReadonlyArray<UploadPost.Conversation> = [{
      id: "t_1",
      participantIds: ["2001", "me"],
      messages: [
        message("2001", "me", "2026-12-06T08:00:00Z"),
        message("2001", "me", "2026-12-06T10:00:00Z"),
        message("me", "2001", "2026-12-06T11:00:00Z")
      ]
    }, { id: "t_2", participantIds: ["2002", "me"], messages: [message("me", "2002", "2026-12-06T09:00:00Z")] }]
    const expected = [["2001", at("2026-12-06T10:00:00Z")]]
    assert.deepStrictEqual([...Doctor.lastMessages(conversations, "me")], expected)
    // Without the account's id: the one participant of every conversation is the account.
    assert.deepStrictEqual([...Doctor.lastMessages(conversations, undefined)], expected)
    // With a single conversation nobody can tell: every sender counts (the preview errs towards DMs).
    assert.strictEqual(Doctor.lastMessages(conversations.slice(0, 1), undefined).size, 2)
  })
})

describe("Doctor.preview", () => {
  const comment = (id: string, userId: string | undefined, text: string, time: string): UploadPost.Comment => ({
    id,
    post: "p1",
    text,
    timestamp: at(time),
    userId,
    username: userId === undefined ? undefined : `user_${userId}`
  })
  it.effect("each matching person once (their newest comment): DM, private reply or skipped with the reason", () =>
    Effect.gen(function*() {
      const campaign = yield* spec()
      const result = Doctor.preview(campaign, [{
        post: "p1",
        comments: [
          comment("c1", "2001", "guide please", "2026-12-06T11:00:00Z"),
          comment("c2", "2001", "guide again", "2026-12-06T10:00:00Z"),
          comment("c3", "2002", "GUIDE", "2026-12-05T10:00:00Z"),
          comment("c4", "2003", "guide", "2026-11-20T10:00:00Z"),
          comment("c5", "me", "the guide is in your DMs", "2026-12-06T11:30:00Z"),
          comment("c6", "2004", "nice reel", "2026-12-06T11:00:00Z"),
          comment("c7", undefined, "guide", "2026-12-06T11:00:00Z")
        ]
      }], {
        now: at("2026-12-06T12:00:00Z"),
        ownAccount: { userId: "me", username: undefined, source: "profile" },
        lastMessageAt: new Map([["2001", at("2026-12-06T09:00:00Z")], ["2003", at("2026-12-01T09:00:00Z")]])
      })
      assert.deepStrictEqual(
        [result.people, result.dm, result.private_reply, result.skipped],
        [4, 1, 1, { window_closed: 0, comment_too_old: 1, own_comment: 1 }]
      )
      assert.deepStrictEqual(
        result.sample.map((person) => [person.user_id, person.path, person.reason, person.until]),
        [
          ["2001", "dm", null, "2026-12-07T09:00:00.000Z"],
          ["2002", "private_reply", null, "2026-12-12T10:00:00.000Z"],
          ["2003", "skipped", "comment_too_old", null],
          ["me", "skipped", "own_comment", null]
        ]
      )
    }))
})
