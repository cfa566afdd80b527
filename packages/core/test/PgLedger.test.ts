import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Chunk, Context, Effect, Layer, Redacted, Stream } from "effect"
import * as Net from "node:net"
import { Ledger, LedgerError } from "../src/Ledger.js"
import * as PgLedger from "../src/PgLedger.js"
import { ledgerAutoContract } from "./support/ledgerAutoSuite.js"
import { ledgerEditsContract } from "./support/ledgerEditsSuite.js"
import { ledgerStepsContract } from "./support/ledgerStepsSuite.js"
import { claimBy, ledgerContract, newCampaign, people } from "./support/ledgerSuite.js"
import { server, ServerUrl, suiteLedger } from "./support/pgServer.js"
import { findPostgres } from "./support/postgres.js"

/** A new empty database on the server, for a test that must see the ledger tables created. */
const freshDatabase = Effect.gen(function*() {
  const url = yield* ServerUrl
  const admin = Context.get(yield* Layer.build(PgClient.layer({ url: Redacted.make(url) })), SqlClient.SqlClient)
  const name = `ledger_${crypto.randomUUID().replaceAll("-", "")}`
  yield* admin.unsafe(`CREATE DATABASE ${name}`)
  const fresh = new URL(url)
  fresh.pathname = `/${name}`
  return fresh.toString()
})

/** A loopback port that nothing listens on. */
const closedPort = Effect.async<number>((resume) => {
  const probe = Net.createServer().listen(0, "127.0.0.1", () => {
    const address = probe.address()
    probe.close(() => resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 1)))
  })
})

const connectionError = (url: Redacted.Redacted<string> | string) =>
  Effect.flip(Effect.provide(Ledger, PgLedger.layer({ url })))

const { install, reason } = findPostgres()

describe.skipIf(install === undefined)(`PgLedger${reason === undefined ? "" : ` (skipped: ${reason})`}`, () => {
  layer(server, { timeout: "60 seconds" })((it) => {
    it.layer(suiteLedger)("SqlLedger on PostgreSQL", (it) => {
      ledgerContract(it)
      ledgerAutoContract(it)
      ledgerEditsContract(it)
      ledgerStepsContract(it)
    })

    it.scoped("four runners racing over the same 300 people on a fresh database claim each exactly once", () =>
      Effect.gen(function*() {
        const url = yield* freshDatabase
        const runners = ["runner-a", "runner-b", "runner-c", "runner-d"]
        // Opened at once, so the four also race to create the tables.
        const ledgers = yield* Effect.forEach(
          runners,
          () => Effect.map(Layer.build(PgLedger.layer({ url })), (context) => Context.get(context, Ledger)),
          { concurrency: "unbounded" }
        )
        const campaign = newCampaign("race")
        const everyone = people(campaign, 300)
        const added = yield* Effect.forEach(ledgers, (ledger) => ledger.discover(everyone), {
          concurrency: "unbounded"
        })
        assert.strictEqual(added.reduce((sum, n) => sum + n, 0), 300)

        // Different orders, so that every runner runs into the others' claims.
        const orders = [
          everyone,
          [...everyone].reverse(),
          [...everyone.slice(150), ...everyone.slice(0, 150)],
          [...everyone.filter((_, i) => i % 2 === 1), ...everyone.filter((_, i) => i % 2 === 0)]
        ]
        const won = yield* Effect.forEach(
          runners,
          (runner, i) =>
            Effect.filter(
              orders[i]!,
              (person) => Effect.zipRight(Effect.yieldNow(), ledgers[i]!.claim(person, claimBy(runner))),
              { concurrency: 8 }
            ),
          {
            concurrency: "unbounded"
          }
        )

        const winners = new Map<string, Array<string>>()
        won.forEach((people, i) => {
          for (const person of people) winners.set(person.userId, [...(winners.get(person.userId) ?? []), runners[i]!])
        })
        assert.strictEqual(winners.size, 300)
        assert.isTrue([...winners.values()].every((claimedBy) => claimedBy.length === 1))
        assert.isAtLeast(won.filter((people) => people.length > 0).length, 2)

        const entries = Chunk.toArray(yield* Stream.runCollect(ledgers[0]!.entries(campaign)))
        assert.strictEqual(entries.length, 300)
        for (const entry of entries) {
          assert.strictEqual(entry.state, "claimed")
          assert.strictEqual(entry.attempts, 1)
          assert.deepStrictEqual([entry.claimedBy], winners.get(entry.userId))
        }
      }))

    it.effect("an unreachable server fails with a LedgerError that names it without the password", () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const url = `postgres://comment_dm:s3cret-pass@127.0.0.1:${port}/ledger`
        for (const given of [url, Redacted.make(url)]) {
          const error = yield* connectionError(given)
          assert.instanceOf(error, LedgerError)
          assert.include(
            error.message,
            `could not connect to the ledger database at postgres://comment_dm:***@127.0.0.1:${port}/ledger`
          )
          assert.include(error.message, "ECONNREFUSED")
          assert.include(error.message, "Check that the PostgreSQL server is running")
          for (const shown of [error.message, String(error), Cause.pretty(Cause.fail(error)), JSON.stringify(error)]) {
            assert.notInclude(shown, "s3cret-pass")
          }
        }
      }))

    it.effect("a wrong password fails with a LedgerError that does not repeat it", () =>
      Effect.gen(function*() {
        const url = new URL(yield* ServerUrl)
        url.password = "wrong-secret"
        const error = yield* connectionError(url.toString())
        assert.include(error.message, `could not connect to the ledger database at postgres://postgres:***@`)
        assert.include(error.message, "password authentication failed")
        assert.include(error.message, "Check the user name and password")
        assert.notInclude(Cause.pretty(Cause.fail(error)), "wrong-secret")
      }))

    it.effect("a malformed URL fails with a LedgerError that does not repeat the password", () =>
      Effect.gen(function*() {
        const error = yield* connectionError("postgres://comment_dm:s3cret-pass@127.0.0.1:port/ledger")
        assert.include(
          error.message,
          "could not connect to the ledger database at postgres://comment_dm:***@127.0.0.1:port/ledger"
        )
        assert.include(error.message, "Invalid URL")
        assert.notInclude(Cause.pretty(Cause.fail(error)), "s3cret-pass")
      }))

    it.scoped("a ledger that a newer version migrated further is refused, naming both versions", () =>
      Effect.gen(function*() {
        const url = yield* freshDatabase
        const client = Context.get(yield* Layer.build(PgLedger.layerClient({ url })), SqlClient.SqlClient)
        yield* client`INSERT INTO comment_dm_migrations (migration_id, name) VALUES (9999, 'from_the_future')`
        const error = yield* connectionError(url)
        assert.match(error.message, /schema is version 9999, newer than version \d+/)
        assert.match(error.message, /upgrade comment-dm/)
      }))

    it.scoped("a database whose tables clash with the ledger's fails with a LedgerError naming the clash, not a defect", () =>
      Effect.gen(function*() {
        const url = yield* freshDatabase
        const admin = Context.get(yield* Layer.build(PgClient.layer({ url: Redacted.make(url) })), SqlClient.SqlClient)
        yield* admin`CREATE TABLE campaigns (x TEXT)`
        const error = yield* connectionError(url)
        assert.instanceOf(error, LedgerError)
        assert.include(error.message, "could not create or upgrade the ledger tables")
        assert.include(error.message, "campaigns")
      }))

    it.effect("redact masks the password and secret parameters, and leaves a URL without them as it is", () =>
      Effect.sync(() => {
        assert.strictEqual(
          PgLedger.redact(Redacted.make("postgres://me:p%40ss@db.example:5432/ledger?sslmode=require&password=x")),
          "postgres://me:***@db.example:5432/ledger?sslmode=require&password=***"
        )
        assert.strictEqual(PgLedger.redact("postgres://me@db.example/ledger"), "postgres://me@db.example/ledger")
      }))
  })
})

describe("PgLedger.redact on settings that are not URLs with a host", () => {
  it("masks whatever looks like user:password@ after a mistyped scheme, or none", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["postgres:/me:S3cret@db:5432/x", "postgres:/me:***@db:5432/x"],
      ["postgresql:me:S3cret@db:5432/x", "postgresql:me:***@db:5432/x"],
      ["pg://me:S3c/ret@db:5432/x", "pg://me:***@db:5432/x"],
      ["me:S3c@ret@db/x", "me:***@db/x"],
      ["postgres:///x?host=/run/pg&password=S3cret", "postgres:///x?host=/run/pg&password=***"],
      ["ledgers/comment-dm.sqlite", "ledgers/comment-dm.sqlite"]
    ]
    for (const [setting, shown] of cases) assert.strictEqual(PgLedger.redact(setting), shown, setting)
  })
})
