/**
 * `Forget` on both dialects: a person's texts and id leave every row of the scope, a tombstone makes the ledger's
 * `forgotten` find them, a person claimed or in doubt is refused with nothing changed, and `prune` drops the texts of
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

  it.effect("refuses a person claimed or in doubt, and changes nothing, tombstone included", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const { first, profileOne } = yield* scenario
      const person = idOf(first, 3)
      const refused = yield* Effect.flip(Forget.forget([idOf(first, 1), person], { profile: profileOne }))
      assert.strictEqual(refused._tag, "ForgetRefused")
      assert.include(refused.message, "comment-dm reconcile")
      assert.strictEqual((yield* ledger.forgotten(platform, profileOne, [person, idOf(first, 1)])).size, 0)
      const rows = yield* allEntries(first)
      assert.isTrue(rows.some((row) => row.userId === person && row.state === "in_doubt"))
      assert.isTrue(rows.some((row) => row.userId === idOf(first, 1) && row.state === "pending"))
    }))

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
