import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Redacted, Ref, Schedule, Scope } from "effect"
import * as Path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as GroupCommit from "../src/internal/groupCommit.js"
import { tempDirectory } from "./support/ledgerSuite.js"
import { findPostgres, type PostgresServer, startPostgres } from "./support/postgres.js"

/** A gate a test closes and opens: whoever passes it while closed waits until it is opened (or failed). */
const makeGate = Effect.gen(function*() {
  const open = yield* Deferred.make<void, SqlError>()
  yield* Deferred.succeed(open, undefined)
  const current = yield* Ref.make(open)
  const closed: Array<Deferred.Deferred<void, SqlError>> = []
  const passes = yield* Ref.make(0)
  return {
    pass: Effect.zipRight(Ref.update(passes, (n) => n + 1), Effect.flatMap(Ref.get(current), Deferred.await)),
    passes: Ref.get(passes),
    /** Closes the gate; complete the returned deferred to open it again. */
    close: Effect.flatMap(Deferred.make<void, SqlError>(), (gate) => {
      closed.push(gate)
      return Effect.as(Ref.set(current, gate), gate)
    }),
    /** Lets everyone through, so that a test that failed half-way can still close the writer. */
    openAll: Effect.forEach(closed, (gate) => Deferred.succeed(gate, undefined), { discard: true })
  }
})

/**
 * Two clients on one database: the writer, whose connections the groups reserve, and a reader on connections of its
 * own, which sees only what was committed.
 */
interface Database {
  readonly writer: SqlClient.SqlClient
  readonly reader: SqlClient.SqlClient
}

/** A fresh SQLite file, in WAL mode as the ledger's. */
const sqliteFile: Effect.Effect<Database, SqlError, Scope.Scope> = Effect.gen(function*() {
  const filename = Path.join(yield* tempDirectory, "group.sqlite")
  return { writer: yield* SqliteClient.make({ filename }), reader: yield* SqliteClient.make({ filename }) }
}).pipe(Effect.provide(Reactivity.layer))

const postgres = (url: string): Effect.Effect<Database, SqlError, Scope.Scope> =>
  Effect.gen(function*() {
    const connect = PgClient.make({ url: Redacted.make(url) })
    return { writer: yield* connect, reader: yield* connect }
  }).pipe(Effect.provide(Reactivity.layer))

/**
 * A group-commit writer on a table of its own, whose groups wait at `groups` before they get their connection and
 * whose syncs wait at `syncs`. `committed` reads the table through the reader.
 */
const setUp = (database: Effect.Effect<Database, SqlError, Scope.Scope>, options: { readonly sync: boolean }) =>
  Effect.gen(function*() {
    const { reader, writer } = yield* Effect.orDie(database)
    const table = writer(`items_${crypto.randomUUID().replaceAll("-", "")}`)
    yield* writer`CREATE TABLE ${table} (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`.pipe(Effect.orDie)
    const groups = yield* makeGate
    const syncs = yield* makeGate
    const commit = yield* GroupCommit.make({
      reserve: Effect.zipRight(groups.pass, writer.reserve),
      sync: options.sync ? syncs.pass : undefined
    })
    yield* Effect.addFinalizer(() => Effect.zipRight(groups.openAll, syncs.openAll))
    const committed = Effect.map(
      reader<{ readonly id: string }>`SELECT id FROM ${table} ORDER BY id`,
      (rows) => rows.map((row) => row.id)
    ).pipe(Effect.orDie)
    const insert = (id: string, untilDurable = false) =>
      commit.write({
        order: [id],
        untilDurable,
        statements: [writer`INSERT INTO ${table} (id, n) VALUES (${id}, 0) RETURNING id`]
      })
    /** A statement the database refuses: `n` cannot be NULL. */
    const refused = (id: string) =>
      commit.write({
        order: [id],
        untilDurable: false,
        statements: [writer`INSERT INTO ${table} (id, n) VALUES (${id}, NULL)`]
      })
    /** A write and what another connection sees the moment it is answered. */
    const answered = <E>(write: Effect.Effect<boolean, E>) =>
      Effect.flatMap(write, (updated) => Effect.map(committed, (seen) => ({ updated, seen })))
    return { commit, committed, groups, syncs, writer, table, insert, refused, answered }
  })

/** Waits until `ready` holds, and fails the test with `what` after 5 seconds. */
const waitUntil = (ready: Effect.Effect<boolean>, what: string) =>
  Effect.flatMap(ready, (holds) => holds ? Effect.void : Effect.fail("not yet")).pipe(
    Effect.retry(Schedule.spaced("1 millis")),
    Effect.timeout("5 seconds"),
    Effect.orDieWith(() => new Error(`waited 5 seconds for ${what}`))
  )

/** Waits until the fiber waits for its answer (its write is queued); an answer already there fails the test. */
const queued = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  waitUntil(
    Effect.flatMap(fiber.status, (status) =>
      status._tag === "Done" ? Effect.die("answered before its group was committed") : Effect.succeed(
        status._tag === "Suspended"
      )),
    "a write to be queued"
  )

/** Waits until the gate has been passed `count` times. */
const passed = (passes: Effect.Effect<number>, count: number) =>
  waitUntil(Effect.map(passes, (n) => n >= count), `${count} passes of the gate`)

/** The writer's contract, on any database the ledger supports. */
const groupCommitContract = (database: () => Effect.Effect<Database, SqlError, Scope.Scope>) => {
  it.scopedLive("a failed statement rolls back its whole group and fails only that group's callers", () =>
    Effect.gen(function*() {
      const { committed, groups, insert, refused } = yield* setUp(database(), { sync: false })
      const firstGroup = yield* groups.close
      const a = yield* Effect.fork(insert("a"))
      yield* passed(groups.passes, 1)
      // b, c and d queue while a's group waits, so they make the next group together; c is refused.
      const b = yield* Effect.fork(insert("b"))
      const c = yield* Effect.fork(refused("c"))
      const d = yield* Effect.fork(insert("d"))
      yield* Effect.forEach([b, c, d], queued, { discard: true })
      yield* Deferred.succeed(firstGroup, undefined)

      assert.isTrue(yield* Fiber.join(a), "the group before is committed")
      for (const fiber of [b, c, d]) {
        const error = yield* Effect.flip(Fiber.join(fiber))
        assert.instanceOf(error, SqlError)
      }
      assert.deepStrictEqual(yield* committed, ["a"], "b ran before c failed and was rolled back with it")

      assert.isTrue(yield* insert("e"), "the next group goes on")
      assert.deepStrictEqual(yield* committed, ["a", "e"])
    }))

  it.scopedLive("each caller is answered only after its own group is committed, with its own statement's answer", () =>
    Effect.gen(function*() {
      const { answered, commit, committed, groups, insert, table, writer } = yield* setUp(database(), { sync: false })
      const firstGroup = yield* groups.close
      const a = yield* Effect.fork(answered(insert("a")))
      yield* passed(groups.passes, 1)
      const secondGroup = yield* groups.close
      const b = yield* Effect.fork(answered(insert("b")))
      // In b's group: a guarded update that matches no row, and a write answered by its second statement.
      const missing = yield* Effect.fork(answered(commit.write({
        order: ["z"],
        untilDurable: false,
        statements: [writer`UPDATE ${table} SET n = n + 1 WHERE id = 'nobody' RETURNING id`]
      })))
      const second = yield* Effect.fork(answered(commit.write({
        order: ["c"],
        untilDurable: false,
        statements: [
          writer`INSERT INTO ${table} (id, n) VALUES ('c', 0)`,
          writer`UPDATE ${table} SET n = n + 1 WHERE id = 'c' RETURNING id`
        ],
        answer: 1
      })))
      yield* Effect.forEach([b, missing, second], queued, { discard: true })
      assert.deepStrictEqual(yield* committed, [], "nothing is committed while the first group waits")

      yield* Deferred.succeed(firstGroup, undefined)
      assert.deepStrictEqual(yield* Fiber.join(a), { updated: true, seen: ["a"] })
      yield* passed(groups.passes, 2)
      for (const fiber of [b, missing, second]) {
        assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "a caller of the next group waits for its commit")
      }
      assert.deepStrictEqual(yield* committed, ["a"])

      yield* Deferred.succeed(secondGroup, undefined)
      assert.deepStrictEqual(yield* Fiber.join(b), { updated: true, seen: ["a", "b", "c"] })
      assert.deepStrictEqual(yield* Fiber.join(missing), { updated: false, seen: ["a", "b", "c"] })
      assert.deepStrictEqual(yield* Fiber.join(second), { updated: true, seen: ["a", "b", "c"] })
    }))

  it.scopedLive("a durable write is answered after the sync that follows its commit; the others at their commit", () =>
    Effect.gen(function*() {
      const { answered, committed, insert, syncs } = yield* setUp(database(), { sync: true })
      const held = yield* syncs.close
      const claim = yield* Effect.fork(insert("claim", true))
      yield* passed(syncs.passes, 1)
      assert.deepStrictEqual(yield* committed, ["claim"], "committed, and the sync is running")
      assert.isTrue(Option.isNone(yield* Fiber.poll(claim)), "the durable write waits for the sync")

      // The writer goes on while a sync runs: a write that need not wait for the disk is answered at its commit.
      const settle = yield* answered(insert("settle")).pipe(Effect.timeout("2 seconds"))
      assert.deepStrictEqual(settle, { updated: true, seen: ["claim", "settle"] })
      assert.isTrue(Option.isNone(yield* Fiber.poll(claim)))

      yield* Deferred.succeed(held, undefined)
      assert.isTrue(yield* Fiber.join(claim))
    }))

  it.scoped("a failed sync fails the durable writes waiting for it, and closing the writer syncs what is left", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const { committed, insert, syncs } = yield* Scope.extend(setUp(database(), { sync: true }), scope)
      const failing = yield* syncs.close
      yield* Deferred.fail(failing, new SqlError({ cause: "disk", message: "the disk is gone" }))
      const error = yield* Effect.flip(insert("lost", true))
      assert.strictEqual(error.message, "the disk is gone")
      assert.deepStrictEqual(yield* committed, ["lost"], "committed, but its caller cannot count on it")

      const open = yield* syncs.close
      yield* Deferred.succeed(open, undefined)
      assert.isTrue(yield* insert("kept", true), "the next sync goes on")
      const before = yield* syncs.passes
      assert.isTrue(yield* insert("settled"))
      assert.strictEqual(yield* syncs.passes, before, "a write that need not wait for the disk starts no sync")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* syncs.passes, before + 1, "it is synced when the writer closes")
    }))
}

describe("GroupCommit on a SQLite file", () => groupCommitContract(() => sqliteFile))

const { install, reason } = findPostgres()

describe.skipIf(install === undefined)(
  `GroupCommit on PostgreSQL${reason === undefined ? "" : ` (skipped: ${reason})`}`,
  () => {
    let server: PostgresServer | undefined
    beforeAll(async () => {
      server = await startPostgres()
    }, 60_000)
    afterAll(async () => server?.stop())
    groupCommitContract(() => postgres(server!.url))
  }
)
