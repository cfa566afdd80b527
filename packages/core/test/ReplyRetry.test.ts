import { assert, describe, it } from "@effect/vitest"
import * as ReplyRetry from "../src/campaign/ReplyRetry.js"
import type { Target } from "../src/campaign/Step.js"
import { Settlement } from "../src/Ledger.js"

const person: Target = {
  campaign: "c",
  platform: "instagram",
  userId: "1",
  step: "first_message",
  username: "ana",
  postId: "p",
  commentId: "c1",
  commentText: "guide",
  commentTime: undefined,
  keyword: "guide"
}
const retry: Target = { ...person, retryInDoubt: true }
const now = new Date("2026-12-06T12:00:00.000Z")
const alreadyReplied = Settlement.Refused({ reason: "(#10900) Activity already replied to" })

describe("ReplyRetry.settlementOf", () => {
  it("on a retry, 'already replied' settles sent, whatever the wording Meta's code or text comes in", () => {
    for (const reason of ["(#10900) Activity already replied to", "This comment was already replied to"]) {
      assert.deepStrictEqual(
        ReplyRetry.settlementOf(retry, Settlement.Refused({ reason }), now),
        Settlement.Sent({ messageId: ReplyRetry.unknownMessageId, at: now })
      )
    }
  })

  it("on a first attempt, 'already replied' stays a refusal", () => {
    assert.deepStrictEqual(ReplyRetry.settlementOf(person, alreadyReplied, now), alreadyReplied)
  })

  it("a retry that did not get through stays in doubt, never pending; other outcomes stand", () => {
    assert.deepStrictEqual(
      ReplyRetry.settlementOf(retry, Settlement.Pending({ reason: "the daily DM limit was reached" }), now),
      Settlement.InDoubt({ reason: "a private reply in doubt, to retry: the daily DM limit was reached" })
    )
    const pending = Settlement.Pending({ reason: "a 500" })
    assert.deepStrictEqual(ReplyRetry.settlementOf(person, pending, now), pending)
    const tooOld = Settlement.Refused({ reason: "(#10903) This comment is too old for a private reply" })
    assert.deepStrictEqual(ReplyRetry.settlementOf(retry, tooOld, now), tooOld)
    const sent = Settlement.Sent({ messageId: "m1", at: now })
    assert.deepStrictEqual(ReplyRetry.settlementOf(retry, sent, now), sent)
  })
})
