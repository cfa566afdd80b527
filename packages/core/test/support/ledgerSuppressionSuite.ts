/**
 * The suppression list in the ledger, run on SQLite and PostgreSQL: a claim of any step of a person on the profile's
 * list settles the row `suppressed` instead, a confirmation of a claim made before the person was listed fails and
 * settles it too (the person is released, never sent), the list is the profile's (by id, or by username in any case),
 * and the list's own operations (add, remove, list).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import { Effect } from "effect"
import type { RecipientKey, StepKind } from "../../src/Ledger.js"
import { Ledger } from "../../src/Ledger.js"
import * as Suppression from "../../src/Suppression.js"
import { candidate, claimBy, entryOf, newCampaign, platform } from "./ledgerSuite.js"

const runner = "host/1/optout"

/** A registered campaign of `profile` with `count` people in `step`. */
export const campaignOf = (label: string, profile: string, count: number, step: StepKind = "first_message") =>
  Effect.gen(function*() {
    const ledger = yield* Ledger
    const campaign = newCampaign(label)
    yield* ledger.registerCampaign({ name: campaign, platform, profileUser: profile, posts: ["17900000000000001"] })
    const people = Array.from({ length: count }, (_, index) => candidate(campaign, index, { step }))
    yield* ledger.discover(people)
    const keyOf = (index: number): RecipientKey => ({
      campaign,
      platform,
      userId: candidate(campaign, index).userId,
      step
    })
    return { campaign, people, keyOf }
  })

const suppressed = (key: RecipientKey) =>
  Effect.map(entryOf(key), (entry) => [entry.state, entry.reason, entry.claimedBy])

export const ledgerSuppressionContract = (it: Vitest.MethodsNonLive<Ledger | SqlClient.SqlClient>) => {
  it.effect("a claim of any step of a person on the profile's list settles them suppressed; others are claimed", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const profile = `acme-${crypto.randomUUID()}`
      for (const step of ["first_message", "follow_up", "public_reply"] as const) {
        const { keyOf, people } = yield* campaignOf(`steps-${step}`, profile, 3, step)
        // The same person in each campaign of the profile: listed once, by the first.
        const added = yield* ledger.suppress({ platform, profile }, [people[1]!], "dm")
        assert.strictEqual(added, step === "first_message" ? 1 : 0)
        assert.isTrue(yield* ledger.claim(keyOf(0), claimBy(runner)), step)
        assert.isFalse(yield* ledger.claim(keyOf(1), claimBy(runner)), step)
        assert.deepStrictEqual(yield* suppressed(keyOf(1)), ["suppressed", Suppression.listedReason, undefined], step)
        assert.isFalse(yield* ledger.claim(keyOf(1), claimBy(runner)), "a suppressed row is never claimed again")
        assert.strictEqual((yield* ledger.counts(keyOf(0).campaign, step)).suppressed, 1, step)
      }
    }))

  it.effect("a private reply refused by the list takes no reply key: another campaign's reply is not blocked", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const sql = (yield* SqlClient.SqlClient).withoutTransforms()
      const profile = `acme-${crypto.randomUUID()}`
      const { keyOf, people } = yield* campaignOf("reply", profile, 1)
      yield* ledger.suppress({ platform, profile }, [people[0]!], "comment")
      assert.isFalse(yield* ledger.claim(keyOf(0), { ...claimBy(runner), path: "private_reply" }))
      const keys = yield* sql`SELECT 1 FROM comment_dm_comment_replies WHERE campaign = ${keyOf(0).campaign}`
      assert.strictEqual(keys.length, 0)
      assert.strictEqual((yield* entryOf(keyOf(0))).state, "suppressed")
    }))

  it.effect("a person listed after their claim: the confirmation fails and settles them, the claimant's only", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const profile = `acme-${crypto.randomUUID()}`
      const { keyOf, people } = yield* campaignOf("confirm", profile, 2)
      assert.isTrue(yield* ledger.claim(keyOf(0), claimBy(runner)))
      assert.isTrue(yield* ledger.claim(keyOf(1), claimBy(runner)))
      assert.isTrue(yield* ledger.confirmClaim(keyOf(0), runner, "1 minute"))
      yield* ledger.suppress({ platform, profile }, [people[0]!, people[1]!], "dm")
      // Another runner's confirmation neither holds the claim nor settles it: the claimant may be mid-request.
      assert.isFalse(yield* ledger.confirmClaim(keyOf(1), "someone-else", "1 minute"))
      assert.strictEqual((yield* entryOf(keyOf(1))).state, "claimed")
      assert.isFalse(yield* ledger.confirmClaim(keyOf(0), runner, "1 minute"))
      assert.isFalse(yield* ledger.confirmClaim(keyOf(1), runner, "1 minute"))
      for (const index of [0, 1]) {
        assert.deepStrictEqual(
          yield* Effect.map(
            entryOf(keyOf(index)),
            (entry) => [entry.state, entry.leaseUntil, entry.settledAt !== undefined]
          ),
          ["suppressed", undefined, true]
        )
        assert.isFalse(yield* ledger.settle(keyOf(index), runner, { _tag: "Sent", messageId: "m", at: new Date() }))
      }
    }))

  it.effect("the list is the profile's: by id or by username in any case, never another profile's people", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const profile = `acme-${crypto.randomUUID()}`
      const other = yield* campaignOf("other-profile", `${profile}-other`, 3)
      const mine = yield* campaignOf("mine", profile, 3)
      const sql = yield* SqlClient.SqlClient
      const scope = { platform, profile }
      const added = yield* Suppression.add(scope, [{ userId: mine.people[0]!.userId }, {
        username: "@PERSON1"
      }], "manual").pipe(Effect.provideService(SqlClient.SqlClient, sql))
      assert.strictEqual(added, 2)
      assert.isFalse(yield* ledger.claim(mine.keyOf(0), claimBy(runner)))
      assert.isFalse(yield* ledger.claim(mine.keyOf(1), claimBy(runner)), "person1 by username")
      assert.isTrue(yield* ledger.claim(mine.keyOf(2), claimBy(runner)))
      for (const index of [0, 1, 2]) assert.isTrue(yield* ledger.claim(other.keyOf(index), claimBy(runner)))
    }))

  it.effect("the list's operations: added once, a username merged into its id, removed by id or username", () =>
    Effect.gen(function*() {
      const scope = { platform, profile: `acme-${crypto.randomUUID()}` }
      const names = Effect.map(
        Suppression.list(scope),
        (entries) => entries.map((entry) => `${entry.userId ?? "-"}/${entry.username ?? "-"}/${entry.source}`)
      )
      assert.strictEqual(
        yield* Suppression.add(scope, [{ username: "@Ana" }, { userId: "1" }, { userId: " " }], "import"),
        2
      )
      assert.strictEqual(yield* Suppression.add(scope, [{ username: "ana" }, { userId: "1" }], "manual"), 0)
      assert.deepStrictEqual((yield* names).sort(), ["-/ana/import", "1/-/import"])
      // The id of a person known by username takes the username's place; a known id gains a username.
      yield* Suppression.add(scope, [{ userId: "2", username: "ANA" }, { userId: "1", username: "bo" }], "dm")
      assert.deepStrictEqual((yield* names).sort(), ["1/bo/import", "2/ana/dm"])
      assert.strictEqual(yield* Suppression.remove(scope, { username: "@BO" }), 1)
      assert.strictEqual(yield* Suppression.remove(scope, { userId: "2" }), 1)
      assert.strictEqual(yield* Suppression.remove(scope, { userId: "2" }), 0)
      assert.deepStrictEqual(yield* names, [])
    }))
}
