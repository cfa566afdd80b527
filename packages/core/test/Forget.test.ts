/**
 * `Forget` on both dialects: a person's texts and id leave every row of the scope, a tombstone makes the ledger's
 * `forgotten` find them, a person claimed or in doubt is settled `unconfirmed` (the claim's runner loses it), and `prune` drops the texts of
 * people settled long ago. SQLite on a file; PostgreSQL on a real server when one is installed.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, layer } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as Path from "node:path"
import * as Forget from "../src/Forget.js"
import { Ledger, Settlement } from "../src/Ledger.js"
import * as PgLedger from "../src/PgLedger.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as SqlLedger from "../src/SqlLedger.js"
import { allEntries, candidate, claimBy, newCampaign, platform, tempDirectory } from "./support/ledgerSuite.js"
import { findPostgres, startPostgres } from "./support/postgres.js"

/** The user id of a scenario's person: the same in both its campaigns, and in no other scenario (one database). */
/** A claim's lease, as the ledger suite takes them. */
const lease = "1 minute"

const idOf = (first: string, index: number) => `${first}-user-${index}`

/** Two campaigns of two profiles, with the same three people; person 2 is sent in the first, person 3 in doubt. */
const scenario = Effect.gen(function*() {
  const ledger = yield* Ledger
  const first = newCampaign("forget-one")
  const second = newCampaign("forget-two")
  const profileOne = `p1-${first}`
  const profileTwo = `p2-${second}`
  for (const [name, profileUser] of [[first, profileOne], [second, profileTwo]] as const) {
    yield* ledger.registerCampaign({ name, platform, profileUser, posts: ["17900000000000001"] })
    yield* ledger.discover(
      [1, 2, 3].map((index) => candidate(name, index, { userId: idOf(first, index), username: `Person_${index}` }))
    )
  }
  const key = (campaign: string, index: number) =>
    ({ campaign, platform, userId: idOf(first, index), step: "first_message" }) as const
  yield* ledger.claim(key(first, 2), claimBy("r"))
  yield* ledger.settle(key(first, 2), "r", Settlement.Sent({ messageId: "m-2", at: new Date(1_000) }))
  yield* ledger.claim(key(first, 3), claimBy("r"))
  yield* ledger.settle(key(first, 3), "r", Settlement.InDoubt({ reason: "timeout for user-00003" }))
  return { first, second, profileOne, profileTwo }
})

const contract = (it: Vitest.MethodsNonLive<Ledger | SqlClient.SqlClient>) => {
  it.effect("forgets a person in one profile: texts and id gone there, a tombstone found, the other profile kept", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const { first, profileOne, profileTwo, second } = yield* scenario
      const anna = idOf(first, 1)
      assert.deepStrictEqual(
        (yield* Forget.findByUsername("@PERSON_1", { profile: profileOne })).map((known) => known.userId),
        [anna]
      )
      const done = yield* Forget.forget([anna], { profile: profileOne })
      assert.strictEqual(done.rows, 1)
      assert.strictEqual(done.stopped, 1, "the pending row is stopped")
      const rows = yield* allEntries(first)
      assert.isFalse(rows.some((row) => row.userId === anna || row.username === "Person_1"))
      const stopped = rows.find((row) => row.userId.startsWith("forgotten:"))
      assert.deepStrictEqual(
        [stopped?.state, stopped?.reason, stopped?.commentText, stopped?.message],
        ["suppressed", "forgotten", undefined, undefined]
      )
      assert.strictEqual(rows.length, 3, "the counts still add up")
      assert.deepStrictEqual([...(yield* ledger.forgotten(platform, profileOne, [anna, "someone"]))], [anna])
      assert.strictEqual((yield* ledger.forgotten(platform, profileTwo, [anna])).size, 0)
      assert.isTrue((yield* allEntries(second)).some((row) => row.userId === anna), "the other profile keeps them")

      // Without a profile: every profile.
      yield* Forget.forget([anna])
      assert.deepStrictEqual([...(yield* ledger.forgotten(platform, profileTwo, [anna]))], [anna])
      assert.isFalse((yield* allEntries(second)).some((row) => row.userId === anna))
    }))

  it.effect(
    "settles a person claimed or in doubt first: unconfirmed, final, texts gone; the runner holding the claim can " +
      "neither confirm nor settle it, and nobody claims them again",
    () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger
        const { first, profileOne } = yield* scenario
        const inDoubt = idOf(first, 3)
        const held = idOf(first, 1)
        const key = { campaign: first, platform, userId: held, step: "first_message" } as const
        // A live runner's claim, its message about to go.
        assert.isTrue(yield* ledger.claim(key, claimBy("live")))
        const done = yield* Forget.forget([held, inDoubt], { profile: profileOne })
        assert.deepStrictEqual([done.rows, done.settled, done.stopped], [2, 2, 0])

        assert.isFalse(yield* ledger.confirmClaim(key, "live", lease), "the confirmation before the send fails")
        assert.isFalse(
          yield* ledger.settle(key, "live", Settlement.Sent({ messageId: "m-1", at: new Date(2_000) })),
          "a send already gone settles nothing over the forgotten row"
        )
        assert.isFalse(yield* ledger.claim(key, claimBy("other")), "nobody claims them again")

        const rows = yield* allEntries(first)
        assert.isFalse(rows.some((row) => row.userId === held || row.userId === inDoubt))
        const settled = rows.filter((row) => row.userId.startsWith("forgotten:"))
        assert.deepStrictEqual(
          settled.map((row) => [row.state, row.reason, row.message, row.username, row.commentText]),
          [0, 1].map(() => ["unconfirmed", Forget.forgottenUnsettled, undefined, undefined, undefined])
        )
        assert.isTrue(settled.every((row) => row.settledAt !== undefined), "settled, so final")
        assert.strictEqual(rows.length, 3, "the counts still add up")
        assert.strictEqual((yield* ledger.forgotten(platform, profileOne, [held, inDoubt])).size, 2)
        // Reconciliation has nobody left to look for.
        assert.isFalse((yield* ledger.inDoubt(first)).some((row) => row.userId.startsWith("forgotten:")))
      })
  )

  it.effect(
    "a person recorded again after their forget (by a runner that looked the tombstones up before it) is dropped by " +
      "the claim and never claimed; in a profile they were not forgotten in, they are claimed as usual",
    () =>
      Effect.gen(function*() {
        const ledger = yield* Ledger
        const { first, profileOne, second } = yield* scenario
        const anna = idOf(first, 1)
        yield* Forget.forget([anna], { profile: profileOne })
        // The runner read the page before the forget committed, and records her now, under her id.
        const added = yield* ledger.discover([candidate(first, 1, { userId: anna, username: "Person_1" })])
        assert.strictEqual(added, 1, "the forget renamed her row, so she is recorded anew")
        const key = { campaign: first, platform, userId: anna, step: "first_message" } as const
        assert.isFalse(yield* ledger.claim(key, claimBy("r")), "the claim checks the tombstones")
        const rows = yield* allEntries(first)
        assert.isFalse(rows.some((row) => row.userId === anna || row.username === "Person_1"), "and drops her row")
        assert.strictEqual(rows.length, 3)
        assert.isTrue(yield* ledger.claim({ ...key, campaign: second }, claimBy("r")), "another profile's campaign")
      })
  )

  it.effect("prune drops the texts of people settled before the cutoff, and only theirs", () =>
    Effect.gen(function*() {
      const { first } = yield* scenario
      yield* Forget.prune(new Date(2_000))
      const rows = yield* allEntries(first)
      const sent = rows.find((row) => row.state === "sent")
      assert.deepStrictEqual([sent?.username, sent?.commentText, sent?.message], [undefined, undefined, undefined])
      const pending = rows.find((row) => row.state === "pending")
      assert.strictEqual(pending?.commentText, "GUIDE please")
      assert.strictEqual(rows.find((row) => row.state === "in_doubt")?.message, claimBy("r").message)
    }))
}

describe("Forget on SQLite", () => {
  layer(
    Layer.unwrapScoped(Effect.map(tempDirectory, (directory) => {
      const filename = Path.join(directory, "ledger.sqlite")
      return Layer.provideMerge(SqlLedger.layer, SqliteLedger.layerClient({ filename }))
    }))
  )(contract)
})

class ServerUrl extends Context.Tag("ServerUrl")<ServerUrl, string>() {}

const { install, reason } = findPostgres()

describe.skipIf(install === undefined)(`Forget on PostgreSQL${reason === undefined ? "" : ` (${reason})`}`, () => {
  const server = Layer.scoped(
    ServerUrl,
    Effect.acquireRelease(Effect.promise(startPostgres), (started) => Effect.promise(started.stop)).pipe(
      Effect.map((started) => started.url)
    )
  )
  layer(
    Layer.unwrapEffect(
      Effect.map(ServerUrl, (url) => Layer.provideMerge(SqlLedger.layer, PgLedger.layerClient({ url })))
    ).pipe(Layer.provide(server)),
    { timeout: "60 seconds" }
  )(contract)
})
