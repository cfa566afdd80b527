/**
 * The suppression list on PostgreSQL: the contract of `support/ledgerSuppressionSuite.ts`, and a race between
 * opt-outs and four runners that claim, confirm and send for two campaigns of the profile at once. Whatever the
 * interleaving, no confirmation that starts after the list has recorded a person succeeds, so nobody is sent after the
 * list records them; every row ends sent (confirmed before the opt-out) or suppressed.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Chunk, Context, Effect, Layer, Stream } from "effect"
import { Ledger, Settlement } from "../src/Ledger.js"
import * as PgLedger from "../src/PgLedger.js"
import { claimBy, platform } from "./support/ledgerSuite.js"
import { campaignOf, ledgerSuppressionContract } from "./support/ledgerSuppressionSuite.js"
import { server, ServerUrl, suiteLedger } from "./support/pgServer.js"
import { findPostgres } from "./support/postgres.js"

const { install, reason } = findPostgres()

describe.skipIf(install === undefined)(
  `suppression list on PostgreSQL${reason === undefined ? "" : ` (skipped: ${reason})`}`,
  () => {
    layer(server, { timeout: "120 seconds" })((it) => {
      it.layer(suiteLedger)("SqlLedger on PostgreSQL", (it) => {
        ledgerSuppressionContract(it)

        it.scoped("four runners and opt-outs racing: nobody is confirmed for a send once the list records them", () =>
          Effect.gen(function*() {
            const url = yield* ServerUrl
            const runners = ["runner-a", "runner-b", "runner-c", "runner-d"]
            const ledgers = yield* Effect.forEach(
              runners,
              () => Effect.map(Layer.build(PgLedger.layer({ url })), (context) => Context.get(context, Ledger)),
              { concurrency: "unbounded" }
            )
            const profile = `acme-${crypto.randomUUID()}`
            const count = 150
            // Two campaigns of the profile with the same people: the list covers both.
            const campaigns = [yield* campaignOf("race-a", profile, count), yield* campaignOf("race-b", profile, count)]
            const keys = campaigns.flatMap((campaign) => Array.from({ length: count }, (_, i) => campaign.keyOf(i)))
            const orders = [keys, [...keys].reverse(), [...keys.slice(count), ...keys.slice(0, count)], [
              ...keys.filter((_, i) => i % 2 === 1),
              ...keys.filter((_, i) => i % 2 === 0)
            ]]
            // Every other person opts out, one at a time, while the runners work.
            const optingOut = campaigns[0]!.people.filter((_, i) => i % 2 === 0)
            const listedAt = new Map<string, number>()
            const sent: Array<{ readonly userId: string; readonly campaign: string; readonly confirmedFrom: number }> =
              []

            const optOuts = Effect.forEach(optingOut, (person) =>
              Effect.gen(function*() {
                // Real time: the test clock stands still here.
                yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))
                yield* ledgers[0]!.suppress({ platform, profile }, [person], "dm")
                listedAt.set(person.userId, Date.now())
              }), { discard: true })
            const work = (runner: string, i: number) =>
              Effect.forEach(orders[i]!, (key) =>
                Effect.gen(function*() {
                  const ledger = ledgers[i]!
                  if (!(yield* ledger.claim(key, claimBy(runner)))) return
                  yield* Effect.yieldNow()
                  // Taken before the confirmation's statement starts: it starts no earlier than this.
                  const confirmedFrom = Date.now()
                  if (!(yield* ledger.confirmClaim(key, runner, "2 minutes"))) return
                  sent.push({ userId: key.userId, campaign: key.campaign, confirmedFrom })
                  assert.isTrue(
                    yield* ledger.settle(key, runner, Settlement.Sent({ messageId: `m-${key.userId}`, at: new Date() }))
                  )
                }), { concurrency: 4, discard: true })
            yield* Effect.all([optOuts, ...runners.map(work)], { concurrency: "unbounded", discard: true })

            for (const send of sent) {
              const listed = listedAt.get(send.userId)
              if (listed === undefined) continue
              assert.isBelow(send.confirmedFrom, listed, `${send.userId} was confirmed after the list recorded them`)
            }
            const states = new Map<string, number>()
            for (const { campaign } of campaigns) {
              const entries = Chunk.toArray(yield* Stream.runCollect(ledgers[0]!.entries(campaign)))
              assert.strictEqual(entries.length, count)
              for (const entry of entries) {
                states.set(entry.state, (states.get(entry.state) ?? 0) + 1)
                const listed = optingOut.some((person) => person.userId === entry.userId)
                assert.include(listed ? ["sent", "suppressed"] : ["sent"], entry.state, entry.userId)
                if (entry.state === "sent") assert.strictEqual(entry.attempts, 1)
              }
            }
            assert.strictEqual(sent.length, states.get("sent"), "each send settled once, by its claimant")
            assert.isAbove(states.get("suppressed") ?? 0, 0, "some opt-outs came before their claims")
          }))
      })
    })
  }
)
