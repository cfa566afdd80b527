/**
 * The ledger's part in campaign edits and comment text retention, run by every database the ledger supports: a
 * pending person judged again (skipped as `campaign_edited`, or taking the keyword matched now), and the comment text
 * kept while a person is pending and dropped in the statement that settles them, unless the campaign renders it.
 */
import type { Vitest } from "@effect/vitest"
import { assert } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { Candidate } from "../../src/Ledger.js"
import { Ledger, Settlement } from "../../src/Ledger.js"
import { candidate, claimBy, entryOf, newCampaign, platform } from "./ledgerSuite.js"

/** A registered campaign whose templates use `{{comment}}` (`keeps`) or not, with `count` pending people. */
const campaignWith = (label: string, keeps: boolean | undefined, count: number) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const name = newCampaign(label)
    yield* ledger.registerCampaign({ name, platform, profileUser: name, posts: [], keepsCommentText: keeps })
    const rows = Array.from({ length: count }, (_, index) => candidate(name, index, { commentText: `guide ${index}` }))
    yield* ledger.discover(rows)
    return rows
  })

const textOf = (key: Candidate) => Effect.map(entryOf(key), (entry) => entry.commentText)

export const ledgerEditsContract = (it: Vitest.MethodsNonLive<Ledger>) => {
  it.effect("the comment text stays while a person is pending or in doubt and goes when they are settled", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const [sent, refused, windowClosed, inDoubt, released, reconciled] = yield* campaignWith("drop", false, 6)
      for (const person of [sent!, refused!, windowClosed!, inDoubt!, released!, reconciled!]) {
        assert.isTrue(yield* ledger.claim(person, claimBy("r1")))
      }
      yield* ledger.settle(sent!, "r1", Settlement.Sent({ messageId: "m1", at: new Date() }))
      yield* ledger.settle(refused!, "r1", Settlement.Refused({ reason: "unreachable" }))
      // A person skipped for a closed window comes back when they write: judging them again may need the text.
      yield* ledger.settle(windowClosed!, "r1", Settlement.Skipped({ reason: "window_closed" }))
      yield* ledger.settle(inDoubt!, "r1", Settlement.InDoubt({ reason: "timed out" }))
      yield* ledger.settle(released!, "r1", Settlement.Pending({ reason: "daily limit" }))
      yield* ledger.settle(reconciled!, "r1", Settlement.InDoubt({ reason: "reset" }))
      assert.isTrue(yield* ledger.resolveInDoubt(reconciled!, Settlement.Sent({ messageId: "m2", at: new Date() })))
      assert.deepStrictEqual(
        [
          yield* textOf(sent!),
          yield* textOf(refused!),
          yield* textOf(windowClosed!),
          yield* textOf(inDoubt!),
          yield* textOf(released!),
          yield* textOf(reconciled!)
        ],
        [undefined, undefined, "guide 2", "guide 3", "guide 4", undefined]
      )
      const row = yield* entryOf(sent!)
      assert.deepStrictEqual([row.state, row.username, row.commentId, row.message], [
        "sent",
        "person0",
        "comment-0",
        claimBy("r1").message
      ], "only the comment text goes")
    }))

  it.effect("a campaign whose templates use {{comment}}, or that never told, keeps the texts of settled people", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      for (const keeps of [true, undefined]) {
        const [person] = yield* campaignWith("keep", keeps, 1)
        assert.isTrue(yield* ledger.claim(person!, claimBy("r1")))
        assert.isTrue(yield* ledger.settle(person!, "r1", Settlement.Sent({ messageId: "m1", at: new Date() })))
        assert.strictEqual(yield* textOf(person!), "guide 0", String(keeps))
      }
    }))

  it.effect("when the templates stop using {{comment}}, the texts of people settled before go, the pending keep theirs", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const [sent, pending, skipped] = yield* campaignWith("flip", true, 3)
      const name = sent!.campaign
      yield* ledger.claim(sent!, claimBy("r1"))
      yield* ledger.settle(sent!, "r1", Settlement.Sent({ messageId: "m1", at: new Date() }))
      yield* ledger.claim(skipped!, claimBy("r1"))
      yield* ledger.settle(skipped!, "r1", Settlement.Skipped({ reason: "comment_too_old" }))
      // A run that says nothing about it changes nothing.
      yield* ledger.registerCampaign({ name, platform, profileUser: name, posts: [] })
      assert.strictEqual(yield* textOf(sent!), "guide 0")
      yield* ledger.registerCampaign({ name, platform, profileUser: name, posts: [], keepsCommentText: false })
      assert.deepStrictEqual(
        [yield* textOf(sent!), yield* textOf(pending!), yield* textOf(skipped!)],
        [undefined, "guide 1", "guide 2"]
      )
      // From then on, settling drops the text too.
      yield* ledger.claim(pending!, claimBy("r1"))
      yield* ledger.settle(pending!, "r1", Settlement.Expired({ reason: "deadline" }))
      assert.strictEqual(yield* textOf(pending!), undefined)
    }))

  it.effect("judgeAgain skips a pending person as campaign_edited, or gives them the keyword they match now", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const [dropped, rekeyed, claimed] = yield* campaignWith("judge", false, 3)
      assert.isTrue(yield* ledger.judgeAgain(dropped!, Option.none()))
      assert.isTrue(yield* ledger.judgeAgain(rekeyed!, Option.some("link")))
      assert.isTrue(yield* ledger.claim(claimed!, claimBy("r1")))
      // A person claimed meanwhile (another runner) is not overruled.
      assert.isFalse(yield* ledger.judgeAgain(claimed!, Option.none()))
      assert.isFalse(yield* ledger.judgeAgain(dropped!, Option.some("guide")), "a skip is final")
      const [skip, keep, held] = [yield* entryOf(dropped!), yield* entryOf(rekeyed!), yield* entryOf(claimed!)]
      assert.deepStrictEqual(
        [skip.state, skip.reason, skip.commentText, skip.settledAt !== undefined],
        ["skipped", "campaign_edited", undefined, true]
      )
      assert.deepStrictEqual([keep.state, keep.keyword, keep.commentText], ["pending", "link", "guide 1"])
      assert.deepStrictEqual([held.state, held.commentText], ["claimed", "guide 2"])
      const tally = yield* ledger.tally(dropped!.campaign, "first_message")
      assert.deepInclude(tally, { state: "skipped", path: undefined, reason: "campaign_edited", count: 1 })
    }))
}
