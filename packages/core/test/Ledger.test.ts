import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Ref, Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Candidate, Service as LedgerService } from "../src/Ledger.js"
import { Ledger, LedgerError, noCounts, Settlement } from "../src/Ledger.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as SqlLedger from "../src/SqlLedger.js"
import { ledgerAutoContract } from "./support/ledgerAutoSuite.js"
import { ledgerEditsContract } from "./support/ledgerEditsSuite.js"
import { ledgerStepsContract } from "./support/ledgerStepsSuite.js"
import {
  allEntries,
  claimBy,
  ledgerContract,
  newCampaign,
  people,
  platform,
  tempDirectory
} from "./support/ledgerSuite.js"

const sqliteSuite = Layer.unwrapScoped(
  Effect.map(tempDirectory, (directory) =>
    SqlLedger.layer.pipe(
      Layer.provideMerge(SqliteLedger.layerClient({ filename: Path.join(directory, "ledger.sqlite") }))
    ))
)

layer(sqliteSuite)("SqlLedger on SQLite", (it) => {
  ledgerContract(it)
  ledgerAutoContract(it)
  ledgerEditsContract(it)
  ledgerStepsContract(it)
})

describe("SqliteLedger", () => {
  it.scoped("creates the ledger file readable and writable by its owner only, and leaves an existing file's mode", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const filename = Path.join(directory, "ledger.sqlite")
      const modeOf = (path: string) => Fs.statSync(path).mode & 0o777
      yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        yield* ledger.discover(people("private", 3))
        assert.strictEqual(modeOf(filename), 0o600)
        assert.strictEqual(modeOf(`${filename}-wal`), 0o600)
        assert.strictEqual(modeOf(`${filename}-shm`), 0o600)
      }).pipe(Effect.provide(SqliteLedger.layer({ filename })))

      const shared = Path.join(directory, "shared.sqlite")
      Fs.writeFileSync(shared, "")
      Fs.chmodSync(shared, 0o644)
      yield* Effect.provide(Ledger, SqliteLedger.layer({ filename: shared }))
      assert.strictEqual(modeOf(shared), 0o644, "the owner's choice")
    }))

  it.scoped("sets up the connection for durable claims shared between processes", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const context = yield* Layer.build(SqliteLedger.layerClient({ filename: Path.join(directory, "ledger.sqlite") }))
      const sql = Context.get(context, SqlClient.SqlClient)
      const pragma = (name: string) => Effect.map(sql.unsafe(`PRAGMA ${name}`).values, (rows) => rows[0]?.[0])
      assert.strictEqual(yield* pragma("journal_mode"), "wal")
      // 1 is NORMAL: a commit is not synced by SQLite itself; the ledger syncs the WAL file through CommitSync.
      assert.strictEqual(yield* pragma("synchronous"), 1)
      assert.isTrue(Context.getOption(context, SqlLedger.CommitSync)._tag === "Some")
      assert.strictEqual(yield* pragma("busy_timeout"), 5_000)
    }))

  it.scoped("a second connection to the file sees committed claims and cannot claim anyone twice", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const filename = Path.join(directory, "ledger.sqlite")
      const first = Context.get(yield* Layer.build(SqliteLedger.layer({ filename })), Ledger)
      const second = Context.get(yield* Layer.build(SqliteLedger.layer({ filename })), Ledger)
      const campaign = newCampaign("shared")
      const everyone = people(campaign, 200)
      assert.strictEqual(yield* first.discover(everyone), 200)
      assert.strictEqual(yield* second.discover(everyone), 0)

      // Opposite orders and a yield before every claim make the two connections race over the same people.
      const claimAll = (ledger: LedgerService, runner: string, order: ReadonlyArray<Candidate>) =>
        Effect.filter(order, (person) => Effect.zipRight(Effect.yieldNow(), ledger.claim(person, claimBy(runner))), {
          concurrency: 8
        })
      const [wonByFirst, wonBySecond] = yield* Effect.all([
        claimAll(first, "runner-a", everyone),
        claimAll(second, "runner-b", [...everyone].reverse())
      ], { concurrency: 2 })

      assert.isAbove(wonByFirst.length, 0)
      assert.isAbove(wonBySecond.length, 0)
      assert.strictEqual(wonByFirst.length + wonBySecond.length, everyone.length)
      assert.strictEqual(new Set([...wonByFirst, ...wonBySecond].map((person) => person.userId)).size, everyone.length)
      assert.deepStrictEqual(yield* second.counts(campaign, "first_message"), {
        ...noCounts(),
        pending: 0,
        claimed: 200,
        sent: 0,
        refused: 0,
        in_doubt: 0
      })
      assert.isFalse(
        yield* second.settle(wonByFirst[0]!, "runner-b", Settlement.Sent({ messageId: "mid", at: new Date() }))
      )
      assert.isTrue(
        yield* first.settle(wonByFirst[0]!, "runner-a", Settlement.Sent({ messageId: "mid", at: new Date() }))
      )
      assert.strictEqual(
        (yield* second.states(campaign, platform, "first_message", [wonByFirst[0]!.userId])).get(wonByFirst[0]!.userId),
        "sent"
      )
    }))

  it.scoped("reopening the file keeps everything that was recorded", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const filename = Path.join(directory, "ledger.sqlite")
      const campaign = newCampaign("durable")
      const before = yield* Effect.gen(function*() {
        const ledger = yield* Ledger
        const everyone = people(campaign, 50)
        yield* ledger.discover(everyone)
        for (const person of everyone.slice(0, 10)) yield* ledger.claim(person, claimBy("runner-a"))
        for (const person of everyone.slice(0, 5)) {
          yield* ledger.settle(
            person,
            "runner-a",
            Settlement.Sent({ messageId: `mid.${person.userId}`, at: new Date() })
          )
        }
        return yield* allEntries(campaign)
      }).pipe(Effect.provide(SqliteLedger.layer({ filename })))

      const after = yield* allEntries(campaign).pipe(Effect.provide(SqliteLedger.layer({ filename })))
      assert.deepStrictEqual(after, before)
      assert.deepStrictEqual(
        yield* Effect.flatMap(Ledger, (ledger) => ledger.counts(campaign, "first_message")).pipe(
          Effect.provide(SqliteLedger.layer({ filename }))
        ),
        { ...noCounts(), pending: 40, claimed: 5, sent: 5, refused: 0, in_doubt: 0 }
      )
    }))

  it.scoped("a file that is not a ledger fails with a readable LedgerError", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const filename = Path.join(directory, "notes.txt")
      Fs.writeFileSync(filename, "shopping list\n".repeat(500))
      const error = yield* Effect.flip(Effect.provide(Ledger, SqliteLedger.layer({ filename })))
      assert.instanceOf(error, LedgerError)
      assert.include(error.message, `could not open the ledger at ${filename}: file is not a database`)
      assert.include(error.message, "point the ledger at another path")
    }))

  it.scoped("a file whose tables clash with the ledger's fails with a LedgerError naming the clash, not a defect", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const filename = Path.join(directory, "other-app.sqlite")
      // Another application's database, with a table of the name the ledger's first migration creates.
      const createClash = Effect.flatMap(
        SqliteClient.make({ filename }),
        (other) => other`CREATE TABLE campaigns (x TEXT)`
      )
      yield* createClash.pipe(Effect.scoped, Effect.provide(Reactivity.layer))
      const error = yield* Effect.flip(Effect.provide(Ledger, SqliteLedger.layer({ filename })))
      assert.instanceOf(error, LedgerError)
      assert.include(error.message, `could not open the ledger at ${filename}: table campaigns already exists`)
    }))

  it.scoped("a path that cannot hold a file fails with a readable LedgerError", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const missing = Path.join(directory, "missing", "ledger.sqlite")
      const missingError = yield* Effect.flip(Effect.provide(Ledger, SqliteLedger.layer({ filename: missing })))
      assert.include(missingError.message, `could not open the ledger at ${missing}`)
      assert.include(missingError.message, "must name a file in an existing directory")
      const directoryError = yield* Effect.flip(Effect.provide(Ledger, SqliteLedger.layer({ filename: directory })))
      assert.include(directoryError.message, `could not open the ledger at ${directory}`)
    }))

  it.effect("layerMemory gives a working ledger that lives as long as its layer", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("memory")
      assert.strictEqual(yield* ledger.discover(people(campaign, 3)), 3)
      assert.strictEqual((yield* ledger.counts(campaign, "first_message")).pending, 3)
    }).pipe(Effect.provide(SqliteLedger.layerMemory())))

  it.effect("a ledger file named for memory is refused, naming the way to ask for one: it would forget who was sent", () =>
    Effect.gen(function*() {
      for (const filename of [":memory:", ":MEMORY:", "", "  ", "file::memory:?cache=shared", "file:x?mode=memory"]) {
        const error = yield* Effect.flip(Effect.provide(Ledger, SqliteLedger.layer({ filename })))
        assert.strictEqual(error._tag, "LedgerError", filename)
        assert.include(error.message, "would message everyone again", filename)
        assert.include(error.message, "SqliteLedger.layerMemory", filename)
        const clientError = yield* Effect.flip(Layer.build(SqliteLedger.layerClient({ filename })))
        assert.strictEqual(clientError._tag, "LedgerError", filename)
      }
    }).pipe(Effect.scoped))
})

describe("SqlLedger with a CommitSync", () => {
  /** A ledger on a fresh SQLite file whose syncs wait for the gate of the moment and are counted. */
  const gatedLedger = Effect.gen(function*() {
    const directory = yield* tempDirectory
    const gate = yield* Ref.make(yield* Deferred.make<void, SqlError>())
    yield* Effect.flatMap(Ref.get(gate), (open) => Deferred.succeed(open, undefined))
    const syncs = yield* Ref.make(0)
    const commitSync = Effect.zipRight(Ref.update(syncs, (n) => n + 1), Effect.flatMap(Ref.get(gate), Deferred.await))
    const client = yield* Layer.build(SqliteLedger.layerClient({ filename: Path.join(directory, "ledger.sqlite") }))
    const scope = yield* Scope.make()
    const ledger = yield* SqlLedger.make().pipe(
      Effect.provide(Context.add(client, SqlLedger.CommitSync, commitSync)),
      Scope.extend(scope)
    )
    /** Closes the gate: syncs from now on wait until the returned deferred is completed. */
    const closeGate = Effect.flatMap(
      Deferred.make<void, SqlError>(),
      (closed) => Effect.as(Ref.set(gate, closed), closed)
    )
    return { ledger, syncs, closeGate, close: Scope.close(scope, Exit.void) }
  })

  it.scopedLive("a claim is answered once its commit is synced, a settlement as soon as it is committed", () =>
    Effect.gen(function*() {
      const { closeGate, ledger, syncs } = yield* gatedLedger
      const campaign = newCampaign("sync")
      const [anna, ben] = people(campaign, 2)
      if (anna === undefined || ben === undefined) return assert.fail("two people")
      yield* ledger.discover([anna, ben])
      assert.isTrue(yield* ledger.claim(ben, claimBy("r1")))

      const closed = yield* closeGate
      const claim = yield* Effect.fork(ledger.claim(anna, claimBy("r1")))
      yield* Effect.sleep(Duration.millis(100))
      assert.isTrue(Option.isNone(yield* Fiber.poll(claim)), "the claim waits for its sync")
      assert.strictEqual(
        (yield* ledger.states(campaign, platform, "first_message", [anna.userId])).get(anna.userId),
        "claimed"
      )
      // The settlement does not wait for the sync that holds up the claim.
      const settled = yield* ledger.settle(ben, "r1", Settlement.Sent({ messageId: "m1", at: new Date() })).pipe(
        Effect.timeout(Duration.seconds(2))
      )
      assert.isTrue(settled)
      assert.isAbove(yield* Ref.get(syncs), 1)

      yield* Deferred.succeed(closed, undefined)
      assert.isTrue(yield* Fiber.join(claim))
    }))

  it.scopedLive("a failed sync fails the claim, and closing the ledger syncs what was committed since", () =>
    Effect.gen(function*() {
      const { close, closeGate, ledger, syncs } = yield* gatedLedger
      const campaign = newCampaign("sync-fail")
      const [anna, ben] = people(campaign, 2)
      if (anna === undefined || ben === undefined) return assert.fail("two people")
      yield* ledger.discover([anna, ben])

      const failing = yield* closeGate
      yield* Deferred.fail(failing, new SqlError({ cause: "disk", message: "the disk is gone" }))
      const error = yield* Effect.flip(ledger.claim(anna, claimBy("r1")))
      assert.strictEqual(error._tag, "LedgerError")
      assert.include(error.message, "claim")

      const open = yield* closeGate
      yield* Deferred.succeed(open, undefined)
      assert.isTrue(yield* ledger.claim(ben, claimBy("r1")))
      assert.isTrue(yield* ledger.settle(ben, "r1", Settlement.Sent({ messageId: "m2", at: new Date() })))
      const before = yield* Ref.get(syncs)
      yield* close
      assert.strictEqual(yield* Ref.get(syncs), before + 1, "the settlement is synced when the ledger closes")
    }))
})
