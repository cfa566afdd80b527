/**
 * The ledger's part of `delivery: auto`, run on SQLite and PostgreSQL: skipped people judged again, the tally by
 * state, path and skip reason, `suppressed` as a state of its own, and the campaign's versions.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { assert } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { RecipientKey, SkipReason } from "../../src/Ledger.js"
import { Ledger, Settlement } from "../../src/Ledger.js"
import { candidate, claimBy, entryOf, newCampaign, platform } from "./ledgerSuite.js"

const runner = "host/1/auto"

const keyOf = (campaign: string, index: number): RecipientKey => ({
  campaign,
  platform,
  userId: candidate(campaign, index).userId,
  step: "first_message"
})

/** Claims a pending person and settles them as given. */
const settleAs = (key: RecipientKey, settlement: Settlement) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    assert.isTrue(yield* ledger.claim(key, claimBy(runner)))
    assert.isTrue(yield* ledger.settle(key, runner, settlement))
  })

const skip = (reason: SkipReason) => Settlement.Skipped({ reason })

export const ledgerAutoContract = (it: Vitest.MethodsNonLive<Ledger | SqlClient.SqlClient>) => {
  it.effect("a skipped person is reopened by a newer comment (the row takes it) or a later message, nothing else", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* TestClock.setTime(Date.UTC(2026, 2, 28, 12))
      const campaign = newCampaign("reopen")
      const first = candidate(campaign, 0, { commentTime: new Date(Date.UTC(2026, 2, 1)) })
      yield* ledger.discover([first, candidate(campaign, 1), candidate(campaign, 2)])
      const key = keyOf(campaign, 0)
      yield* settleAs(key, skip("window_closed"))
      const commented = (commentId: string, at: number) =>
        ledger.reopen(key, { _tag: "Commented", comment: { ...first, commentId, commentTime: new Date(at) } })
      assert.isFalse(yield* commented(first.commentId, Date.UTC(2026, 2, 20)), "the same comment")
      assert.isFalse(yield* commented("older", Date.UTC(2026, 1, 1)), "an older comment")
      assert.isTrue(yield* commented("newer", Date.UTC(2026, 2, 27)))
      const reopened = yield* entryOf(key)
      assert.deepStrictEqual([reopened.state, reopened.commentId, reopened.reason], ["pending", "newer", undefined])
      // A pending row takes a newer comment too (the person's newest is the one a private reply answers).
      assert.isTrue(yield* commented("newest", Date.UTC(2026, 2, 28)))
      assert.isFalse(yield* commented("newer", Date.UTC(2026, 2, 27)), "not an older one")
      assert.deepStrictEqual([(yield* entryOf(key)).state, (yield* entryOf(key)).commentId], ["pending", "newest"])

      yield* settleAs(key, skip("comment_too_old"))
      const settledAt = (yield* entryOf(key)).settledAt?.getTime() ?? 0
      assert.isFalse(yield* ledger.reopen(key, { _tag: "Wrote", at: new Date(settledAt - 1) }), "wrote before")
      assert.isTrue(yield* ledger.reopen(key, { _tag: "Wrote", at: new Date(settledAt + 1) }))
      assert.strictEqual((yield* entryOf(key)).commentId, "newest", "a message leaves the comment as it was")

      // Skips that a new comment or message does not change, and other states, are never reopened.
      yield* settleAs(keyOf(campaign, 1), skip("comment_taken"))
      yield* settleAs(keyOf(campaign, 2), Settlement.Suppressed({ reason: "opted_out" }))
      for (const index of [1, 2]) {
        const later = new Date(Date.UTC(2027, 0, 1))
        assert.isFalse(yield* ledger.reopen(keyOf(campaign, index), { _tag: "Wrote", at: later }))
        assert.isFalse(
          yield* ledger.reopen(keyOf(campaign, index), {
            _tag: "Commented",
            comment: candidate(campaign, index, { commentId: "new", commentTime: later })
          })
        )
      }
      assert.deepStrictEqual((yield* entryOf(keyOf(campaign, 2))).state, "suppressed")
    }))

  it.effect("the tally counts by state, path and skip reason, and sums to the counts", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("tally")
      yield* ledger.registerCampaign({ name: campaign, platform, profileUser: "studio", posts: [] })
      yield* ledger.discover(Array.from({ length: 6 }, (_, index) => candidate(campaign, index)))
      const sendBy = (index: number, path: "dm" | "private_reply") =>
        Effect.gen(function*() {
          assert.isTrue(yield* ledger.claim(keyOf(campaign, index), { ...claimBy(runner), path }))
          yield* ledger.settle(
            keyOf(campaign, index),
            runner,
            Settlement.Sent({ messageId: `m${index}`, at: new Date() })
          )
        })
      yield* sendBy(0, "dm")
      yield* sendBy(1, "private_reply")
      yield* sendBy(2, "private_reply")
      yield* settleAs(keyOf(campaign, 3), skip("window_closed"))
      yield* settleAs(keyOf(campaign, 4), skip("comment_too_old"))
      yield* settleAs(keyOf(campaign, 5), Settlement.Expired({ reason: "its deadline passed" }))
      const tally = yield* ledger.tally(campaign, "first_message")
      const rows = tally.map((row) => [row.state, row.path ?? null, row.reason ?? null, row.count])
      assert.sameDeepMembers(rows, [
        ["sent", "dm", null, 1],
        ["sent", "private_reply", null, 2],
        ["skipped", null, "window_closed", 1],
        ["skipped", null, "comment_too_old", 1],
        ["expired", null, null, 1]
      ])
      const counts = yield* ledger.counts(campaign, "first_message")
      assert.deepStrictEqual([counts.sent, counts.skipped, counts.expired], [3, 2, 1])
    }))

  it.effect("each version of a campaign file is kept, oldest first, with the file as JSON", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("versions")
      assert.deepStrictEqual(yield* ledger.campaignVersions(campaign), [])
      assert.strictEqual(yield* ledger.campaignVersion(campaign, { fingerprint: "a", spec: { delivery: "dm" } }), 1)
      assert.strictEqual(yield* ledger.campaignVersion(campaign, { fingerprint: "b", spec: { delivery: "auto" } }), 2)
      assert.strictEqual(yield* ledger.campaignVersion(campaign, { fingerprint: "b", spec: { delivery: "auto" } }), 2)
      const versions = yield* ledger.campaignVersions(campaign)
      assert.deepStrictEqual(versions.map((version) => [version.version, version.spec]), [
        [1, { delivery: "dm" }],
        [2, { delivery: "auto" }]
      ])
    }))
}
