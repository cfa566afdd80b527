/**
 * Post leases on a real PostgreSQL: the statements that share a campaign's posts between processes (each post held
 * by one at a time, each process up to its share, a dead one's posts taken once its leases run out), the advisory
 * lock of `alone`, and a watcher's share given back when its scope closes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, layer } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Option, Ref, Schema } from "effect"
import * as PgLedger from "../src/PgLedger.js"
import * as PostLeases from "../src/PostLeases.js"
import { server, ServerUrl } from "./support/pgServer.js"
import { findPostgres } from "./support/postgres.js"

const { install, reason } = findPostgres()

/** A client on the server's database with the ledger tables in place (migrated as a runner would). */
const client = Layer.unwrapEffect(Effect.map(ServerUrl, (url) => PgLedger.layerClient({ url })))

const lease = 10_000
const posts = (count: number) => Array.from({ length: count }, (_, i) => `post-${String(i).padStart(3, "0")}`)
const campaignName = () => `leases-${crypto.randomUUID()}`

const Holders = Schema.Array(Schema.Struct({ post_id: Schema.String, holder: Schema.NullOr(Schema.String) }))

/** Who holds each post of the campaign at `now`, as the table says. */
const holders = (campaign: string, now: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql.withoutTransforms()`SELECT post_id, CASE WHEN lease_until > ${now} THEN holder END AS holder
      FROM comment_dm_post_leases WHERE campaign = ${campaign} ORDER BY post_id`
  ).pipe(
    Effect.flatMap(Schema.decodeUnknown(Holders)),
    Effect.map((rows) => new Map(rows.map((row) => [row.post_id, row.holder])))
  )

const balance = (campaign: string, holder: string, list: ReadonlyArray<string>, now: number, giveBack = true) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => PostLeases.balance(sql, campaign, holder, list, now, lease, giveBack))

/** A fresh campaign of `count` posts on which a and b have both looked at `now`, a first (it holds them all). */
const aThenB = (count: number, now: number) =>
  Effect.gen(function*() {
    const campaign = campaignName()
    const list = posts(count)
    yield* balance(campaign, "a", list, now)
    yield* balance(campaign, "b", list, now)
    return { campaign, list }
  })

describe.skipIf(install === undefined)(`PostLeases${reason === undefined ? "" : ` (skipped: ${reason})`}`, () => {
  layer(server, { timeout: "60 seconds" })((it) => {
    it.layer(client)("on PostgreSQL", (it) => {
      it.effect("a process alone takes every post; a second one gets its share as the first gives back", () =>
        Effect.gen(function*() {
          const campaign = campaignName()
          const list = posts(5)
          const now = 1_000_000
          assert.deepStrictEqual(yield* balance(campaign, "a", list, now), list)
          // b joins: live holders are two, shares of 3 and 2 (which is whose depends on the campaign's name).
          const quotaA = PostLeases.quotaOf(campaign, 5, ["a", "b"], "a")
          assert.sameMembers([quotaA, PostLeases.quotaOf(campaign, 5, ["a", "b"], "b")], [2, 3])
          assert.deepStrictEqual(yield* balance(campaign, "b", list, now + 1), [], "nothing is free yet")
          assert.deepStrictEqual(yield* balance(campaign, "a", list, now + 2), list.slice(0, quotaA))
          assert.deepStrictEqual(yield* balance(campaign, "b", list, now + 3), list.slice(quotaA))
          // Stable from then on: each renews what it holds.
          assert.deepStrictEqual(yield* balance(campaign, "a", list, now + 4), list.slice(0, quotaA))
          assert.deepStrictEqual(yield* balance(campaign, "b", list, now + 5), list.slice(quotaA))
          const table = yield* holders(campaign, now + 6)
          assert.deepStrictEqual([...table.values()], list.map((_, i) => i < quotaA ? "a" : "b"))
        }))

      it.effect("campaigns of one post each spread over the processes too, not all to the first one", () =>
        Effect.gen(function*() {
          const campaigns = Array.from({ length: 12 }, (_, i) => `single-post-${i}`)
          const now = 1_200_000
          const one = ["post-000"]
          const lookAll = (holder: string, at: number) =>
            Effect.map(
              Effect.forEach(campaigns, (campaign) => balance(campaign, holder, one, at)),
              (held) => held.flat().length
            )
          assert.strictEqual(yield* lookAll("a", now), 12)
          yield* lookAll("b", now + 1)
          const [a, b] = [yield* lookAll("a", now + 2), yield* lookAll("b", now + 3)]
          assert.strictEqual(a + b, 12)
          assert.isAtLeast(Math.min(a, b), 3, `a holds ${a}, b ${b}`)
        }))

      it("quotas add up to the posts, whatever the holders", () => {
        for (const count of [0, 1, 2, 5, 12, 1000]) {
          for (const holders of [["a"], ["a", "b"], ["x", "b", "a"], ["p", "q", "r", "s", "t"]]) {
            const quotas = holders.map((holder) => PostLeases.quotaOf(`campaign-${count}`, count, holders, holder))
            assert.strictEqual(quotas.reduce((sum, quota) => sum + quota, 0), count, `${count} over ${holders}`)
            assert.isAtMost(Math.max(...quotas) - Math.min(...quotas), 1)
          }
        }
        // A holder not yet listed counts itself.
        assert.strictEqual(PostLeases.quotaOf("c", 4, [], "a"), 4)
      })

      it.effect("a look without giving back keeps the surplus renewed; the next look that may gives it back", () =>
        Effect.gen(function*() {
          const now = 1_500_000
          const { campaign, list } = yield* aThenB(4, now)
          assert.deepStrictEqual(yield* balance(campaign, "a", list, now + lease - 1, false), list)
          // Renewed: still a's after the first lease would have run out.
          assert.deepStrictEqual(yield* balance(campaign, "b", list, now + lease + 1), [])
          assert.deepStrictEqual(yield* balance(campaign, "a", list, now + lease + 2), list.slice(0, 2))
          assert.deepStrictEqual(yield* balance(campaign, "b", list, now + lease + 3), list.slice(2))
        }))

      it.effect("a process that stops renewing loses its posts once its leases run out, not before", () =>
        Effect.gen(function*() {
          const now = 2_000_000
          const { campaign, list } = yield* aThenB(6, now)
          yield* balance(campaign, "a", list, now)
          assert.deepStrictEqual(yield* balance(campaign, "b", list, now), list.slice(3))
          // b dies: until its leases (and its presence) run out, a keeps its own share only.
          assert.deepStrictEqual(yield* balance(campaign, "a", list, now + lease - 1), list.slice(0, 3))
          assert.deepStrictEqual(yield* balance(campaign, "a", list, now + lease), list)
          const table = yield* holders(campaign, now + lease + 1)
          assert.isTrue([...table.values()].every((holder) => holder === "a"))
        }))

      it.effect("four processes looking at once: each post held by one of them, each within its share", () =>
        Effect.gen(function*() {
          const campaign = campaignName()
          const list = posts(40)
          const names = ["a", "b", "c", "d"]
          const now = 3_000_000
          // Everyone says it is there first, then all balance at the same moment, twice.
          yield* Effect.forEach(names, (name) => balance(campaign, name, [], now), { discard: true })
          let held: ReadonlyArray<ReadonlyArray<string>> = []
          for (const round of [1, 2, 3]) {
            held = yield* Effect.forEach(names, (name) => balance(campaign, name, list, now + round), {
              concurrency: "unbounded"
            })
            const all = held.flat()
            assert.strictEqual(new Set(all).size, all.length, `a post held twice in round ${round}`)
            for (const mine of held) assert.isAtMost(mine.length, 10)
          }
          // Nothing left unread once everyone has looked.
          assert.strictEqual(held.flat().length, 40)
          const table = yield* holders(campaign, now + 4)
          for (const [i, name] of names.entries()) {
            for (const post of held[i]!) assert.strictEqual(table.get(post), name)
          }
        }))

      it.effect("posts gone from the list are given back; empty lists and odd ids are fine", () =>
        Effect.gen(function*() {
          const campaign = campaignName()
          const odd = ["", "x'; DROP TABLE comment_dm_post_leases; --", "\u202e\u0007", "é"]
          const now = 4_000_000
          assert.sameMembers([...yield* balance(campaign, "a", odd, now)], odd)
          assert.deepStrictEqual(yield* balance(campaign, "a", odd.slice(0, 1), now + 1), odd.slice(0, 1))
          const table = yield* holders(campaign, now + 2)
          assert.strictEqual(table.get(odd[1]!), null)
          assert.deepStrictEqual(yield* balance(campaign, "a", [], now + 3), [])
          assert.isTrue([...(yield* holders(campaign, now + 4)).values()].every((holder) => holder === null))
        }))

      it.scoped("alone: another process, or another watcher of this one, skips the work while it runs", () =>
        Effect.gen(function*() {
          const campaign = campaignName()
          const process = (holder: string) =>
            Effect.map(Layer.build(PostLeases.layer({ holder, lease })), Context.get(PostLeases.PostLeases))
          const [here, there] = [yield* process("host-a/1/a"), yield* process("host-b/1/b")]
          const first = yield* here.join(campaign)
          const inside = yield* Deferred.make<void>()
          const leave = yield* Deferred.make<void>()
          const running = yield* Effect.fork(
            first.alone(Effect.zipRight(Deferred.succeed(inside, undefined), Deferred.await(leave)))
          )
          yield* Deferred.await(inside)
          const ran = Effect.succeed("ran")
          assert.isTrue(Option.isNone(yield* (yield* there.join(campaign)).alone(ran)), "another process")
          assert.isTrue(Option.isNone(yield* (yield* here.join(campaign)).alone(ran)), "another watcher here")
          // Another campaign's lock is another lock.
          assert.deepStrictEqual(yield* (yield* there.join(campaignName())).alone(ran), Option.some("ran"))
          yield* Deferred.succeed(leave, undefined)
          yield* Fiber.join(running)
          assert.deepStrictEqual(yield* (yield* there.join(campaign)).alone(ran), Option.some("ran"))
          assert.deepStrictEqual(yield* (yield* here.join(campaign)).alone(ran), Option.some("ran"))
        }))

      it.scoped("alone for more campaigns at once than the pool has connections: the work under the locks still runs", () =>
        Effect.gen(function*() {
          const service = Context.get(yield* Layer.build(PostLeases.layer({ lease })), PostLeases.PostLeases)
          const sql = yield* SqlClient.SqlClient
          const count = 15
          const entered = yield* Ref.make(0)
          const all = yield* Deferred.make<void>()
          // Each waits inside its lock until all are inside, then needs a connection of the pool (default 10).
          const work = Effect.gen(function*() {
            if ((yield* Ref.updateAndGet(entered, (n) => n + 1)) === count) yield* Deferred.succeed(all, undefined)
            yield* Deferred.await(all)
            return yield* sql`SELECT 1 AS one`
          })
          const results = yield* Effect.forEach(
            Array.from({ length: count }, campaignName),
            (campaign) => Effect.flatMap(service.join(campaign), (share) => share.alone(work)),
            { concurrency: "unbounded" }
          ).pipe(Effect.timeout("20 seconds"))
          assert.isTrue(results.every(Option.isSome))
        }))

      it.scoped("a watcher's share: its posts while it lives, given back when its scope closes", () =>
        Effect.gen(function*() {
          const campaign = campaignName()
          const list = posts(4).map((id) => ({ id }))
          const service = Context.get(yield* Layer.build(PostLeases.layer({ lease })), PostLeases.PostLeases)
          const mine = yield* Effect.scoped(Effect.gen(function*() {
            const share = yield* service.join(campaign)
            const got = yield* share.mine(list, (post) => post.id)
            assert.isTrue(yield* share.mayRead("post-000"))
            assert.isFalse(yield* share.mayRead("post-999"))
            return got
          }))
          assert.deepStrictEqual(mine, list)
          const table = yield* holders(campaign, 0)
          assert.isTrue([...table.values()].every((holder) => holder === null))
          // Without the service, a share is every post.
          const whole = yield* PostLeases.share(campaign)
          assert.deepStrictEqual(yield* whole.mine(list, (post) => post.id), list)
        }))
    })
  })
})
