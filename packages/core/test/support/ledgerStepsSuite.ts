/**
 * The ledger's part of the later steps, run on SQLite and PostgreSQL: their rows made from the first message's (once,
 * whatever how often), the follow-up woken only by a message in its time, `no_reply` after `within`, the tally per
 * step, and a dead runner's public-reply claim recovered as `unconfirmed`.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { assert } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { MessagePath, RecipientKey, StepKind } from "../../src/Ledger.js"
import { Ledger, Settlement } from "../../src/Ledger.js"
import { candidate, claimBy, entryOf, newCampaign, platform } from "./ledgerSuite.js"

const runner = "host/1/steps"
const start = Date.UTC(2026, 2, 28, 12)
const hour = 3_600_000

const keyOf = (campaign: string, index: number, step: StepKind = "first_message"): RecipientKey => ({
  campaign,
  platform,
  userId: candidate(campaign, index).userId,
  step
})

/** Claims a pending person's first message by a path and settles it as given. */
const settleAs = (key: RecipientKey, path: MessagePath, settlement: Settlement) =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    assert.isTrue(yield* ledger.claim(key, { ...claimBy(runner), path }))
    assert.isTrue(yield* ledger.settle(key, runner, settlement))
  })

const sent = (at: number) => Settlement.Sent({ messageId: `m-${at}`, at: new Date(at) })

export const ledgerStepsContract = (it: Vitest.MethodsNonLive<Ledger | SqlClient.SqlClient>) => {
  it.effect("the later steps' rows come from the sent first messages, once, however often it runs", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* TestClock.setTime(start)
      const campaign = newCampaign("steps")
      yield* ledger.registerCampaign({ name: campaign, platform, profileUser: campaign, posts: [] })
      yield* ledger.discover([0, 1, 2, 3].map((index) => candidate(campaign, index)))
      yield* settleAs(keyOf(campaign, 0), "private_reply", sent(start - hour))
      yield* settleAs(keyOf(campaign, 1), "dm", sent(start - 2 * hour))
      yield* settleAs(keyOf(campaign, 2), "private_reply", Settlement.InDoubt({ reason: "reset" }))
      // 3 stays pending.
      assert.strictEqual(yield* ledger.openSteps(campaign, ["follow_up", "public_reply"]), 3)
      assert.strictEqual(yield* ledger.openSteps(campaign, ["follow_up", "public_reply"]), 0, "idempotent")
      const followUp = yield* entryOf(keyOf(campaign, 0, "follow_up"))
      assert.deepStrictEqual(
        [followUp.state, followUp.firstSeenAt.getTime(), followUp.commentId, followUp.path, followUp.attempts],
        ["awaiting_reply", start - hour, "comment-0", undefined, 0],
        "its first-seen time is when the private reply was sent"
      )
      assert.strictEqual((yield* entryOf(keyOf(campaign, 1, "public_reply"))).state, "pending")
      const states = yield* ledger.states(
        campaign,
        platform,
        "follow_up",
        [0, 1, 2].map((i) => candidate(campaign, i).userId)
      )
      assert.deepStrictEqual([...states.values()], ["awaiting_reply"], "no follow-up after a DM or a reply in doubt")
      const tally = yield* ledger.tally(campaign, "public_reply")
      assert.deepStrictEqual(tally.map((row) => [row.state, row.count]), [["pending", 2]])
      assert.deepStrictEqual((yield* ledger.counts(campaign, "follow_up")).awaiting_reply, 1)
    }))

  it.effect("a follow-up wakes only for a message after its private reply and within `within`; then no_reply", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      yield* TestClock.setTime(start)
      const campaign = newCampaign("wake")
      yield* ledger.registerCampaign({ name: campaign, platform, profileUser: campaign, posts: [] })
      yield* ledger.discover([0, 1, 2].map((index) => candidate(campaign, index)))
      const repliedAt = start - 10 * hour
      for (const index of [0, 1, 2]) yield* settleAs(keyOf(campaign, index), "private_reply", sent(repliedAt))
      yield* ledger.openSteps(campaign, ["follow_up"])
      const within = 5 * hour
      const wake = (index: number, at: number) =>
        ledger.wakeFollowUp(keyOf(campaign, index, "follow_up"), new Date(at), within)
      assert.isFalse(yield* wake(0, repliedAt - 2_000), "written before the private reply")
      assert.isFalse(yield* wake(0, repliedAt + within + 1), "written after within")
      assert.isTrue(yield* wake(0, repliedAt + hour))
      assert.isFalse(yield* wake(0, repliedAt + hour), "once")
      // The platform's times have whole seconds: a message in the second of the reply counts.
      assert.isTrue(yield* wake(1, Math.floor(repliedAt / 1000) * 1000))
      assert.strictEqual((yield* entryOf(keyOf(campaign, 0, "follow_up"))).state, "pending")

      assert.strictEqual(yield* ledger.endAwaiting(campaign, new Date(repliedAt)), 0, "not yet past within")
      assert.strictEqual(yield* ledger.endAwaiting(campaign, new Date(repliedAt + 1)), 1)
      const ended = yield* entryOf(keyOf(campaign, 2, "follow_up"))
      assert.deepStrictEqual([ended.state, ended.settledAt?.getTime()], ["no_reply", start])
      assert.isFalse(yield* wake(2, repliedAt + hour), "no_reply is final")
      const counts = yield* ledger.counts(campaign, "follow_up")
      assert.deepStrictEqual([counts.pending, counts.no_reply, counts.awaiting_reply], [2, 1, 0])
    }))

  it.effect("a public reply claimed by a runner that died is recovered as unconfirmed, never in doubt", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("unconfirmed")
      yield* ledger.registerCampaign({ name: campaign, platform, profileUser: campaign, posts: [] })
      yield* ledger.discover([candidate(campaign, 0), candidate(campaign, 1)])
      yield* settleAs(keyOf(campaign, 0), "dm", sent(start))
      yield* ledger.openSteps(campaign, ["public_reply"])
      assert.isTrue(yield* ledger.claim(keyOf(campaign, 0, "public_reply"), claimBy("dead")))
      assert.isTrue(yield* ledger.claim(keyOf(campaign, 1), claimBy("dead")))
      assert.strictEqual(yield* ledger.recoverClaims(campaign, { runner: "dead" }), 2)
      assert.strictEqual((yield* entryOf(keyOf(campaign, 0, "public_reply"))).state, "unconfirmed")
      assert.deepStrictEqual((yield* ledger.inDoubt(campaign)).map((entry) => entry.step), ["first_message"])
    }))
}
