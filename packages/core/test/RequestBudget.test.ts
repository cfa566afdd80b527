import * as SqlClient from "@effect/sql/SqlClient"
import type { Vitest } from "@effect/vitest"
import { assert, describe, it, layer } from "@effect/vitest"
import { Clock, Context, Effect, Exit, Fiber, Layer, Option, Redacted, Scope, TestClock } from "effect"
import * as Path from "node:path"
import * as PgLedger from "../src/PgLedger.js"
import * as RequestBudget from "../src/RequestBudget.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import { tempDirectory } from "./support/ledgerSuite.js"
import { findPostgres, startPostgres } from "./support/postgres.js"

const minute = 60_000
/**
 * A window as the budget counts it, for requests made at the start of a second: a second longer than it is, and the
 * whole second of each request (the budget counts by the second).
 */
const counted = (window: number) => window + 2_000

const inMemory = (plan: RequestBudget.Plan) =>
  Effect.flatMap(RequestBudget.memoryStore, (store) => RequestBudget.make(store, { plan: Effect.succeed(plan) }))

const read: RequestBudget.Ticket = { priority: "read" }
const send: RequestBudget.Ticket = { priority: "send" }

/** Whether the fiber is still waiting. */
const waiting = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isNone)

/** An answer with the `X-RateLimit-*` headers. */
const answer = (status: number, limit: number, remaining: number, resetMillis: number, extra = {}) => ({
  status,
  headers: {
    "x-ratelimit-limit": String(limit),
    "x-ratelimit-remaining": String(remaining),
    "x-ratelimit-reset": String(Math.ceil(resetMillis / 1000)),
    ...extra
  }
})

describe("RequestBudget in memory", () => {
  it.effect("takes up to the minute's limit at once, then waits for the oldest to leave the window", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({ perMinute: 3, perTenMinutes: 5 })
      yield* Effect.forEach([1, 2, 3], () => budget.take(read))
      const fourth = yield* Effect.fork(budget.take(read))
      yield* TestClock.adjust(counted(minute) - 1)
      assert.isTrue(yield* waiting(fourth))
      yield* TestClock.adjust(1)
      yield* Fiber.join(fourth)
      // The minute has room again, and the 10 minutes one place left.
      yield* budget.take(read)
      const sixth = yield* Effect.fork(budget.take(read))
      yield* TestClock.adjust(counted(10 * minute) - counted(minute) - 1)
      assert.isTrue(yield* waiting(sixth))
      yield* TestClock.adjust(1)
      yield* Fiber.join(sixth)
      const stats = yield* budget.stats
      assert.strictEqual(stats.taken, 6)
      assert.strictEqual(stats.reads, 6)
      assert.strictEqual(stats.waitedMillis, counted(minute) + counted(10 * minute) - counted(minute))
    }))

  it.effect("what the headers say remains lowers the budget to match", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({ perMinute: 10 })
      yield* budget.take(read)
      const now = yield* Clock.currentTimeMillis
      // The API counted 8 in its minute (another program on the key); we made 1.
      yield* budget.observe(read, answer(200, 10, 2, now + 30_000))
      yield* budget.take(read)
      yield* budget.take(read)
      const next = yield* Effect.fork(budget.take(read))
      yield* TestClock.adjust(counted(minute) - 1)
      assert.isTrue(yield* waiting(next))
      yield* TestClock.adjust(1)
      yield* Fiber.join(next)
      assert.strictEqual((yield* budget.stats).heldBack, 7)
    }))

  it.effect("headers that leave more than we counted do not raise the configured plan", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({ perMinute: 2 })
      yield* budget.take(read)
      const now = yield* Clock.currentTimeMillis
      yield* budget.observe(read, answer(200, 500, 499, now + 30_000))
      yield* budget.take(read)
      const third = yield* Effect.fork(budget.take(read))
      yield* TestClock.adjust(counted(minute) - 1)
      assert.isTrue(yield* waiting(third))
      assert.strictEqual((yield* budget.snapshot).limits.perMinute, 2)
    }))

  it.effect("what the headers tell is kept beside a configured plan, and set against it by disagreement", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({ perMinute: 300, perTenMinutes: 1_500 })
      const now = yield* Clock.currentTimeMillis
      assert.deepStrictEqual(yield* budget.told, {})
      yield* budget.observe(read, answer(200, 100, 99, now + 30_000))
      const told = yield* budget.told
      assert.deepStrictEqual(told, { perMinute: 100 })
      // The plan still holds: the warning is the only effect of the difference.
      assert.strictEqual((yield* budget.snapshot).limits.perMinute, 300)
      const text = RequestBudget.disagreement({ perMinute: 300, perTenMinutes: 1_500 }, told)
      assert.include(text, "per_minute 300 but the API's X-RateLimit-Limit tells 100 a minute")
      assert.notInclude(text, "per_10_minutes")
      assert.isUndefined(RequestBudget.disagreement({ perMinute: 100 }, told))
      assert.isUndefined(RequestBudget.disagreement({ perTenMinutes: 500 }, told), "a window not told says nothing")
      assert.isUndefined(RequestBudget.disagreement({}, { perMinute: 100, perTenMinutes: 500 }))
      assert.include(
        RequestBudget.disagreement({ perTenMinutes: 300 }, { perTenMinutes: 500 }),
        "per_10_minutes 300 but the API's X-RateLimit-Limit tells 500 per 10 minutes"
      )
    }))

  it.effect("a request-rate 429 holds the key until its reset; a daily-limit 429 does not", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({ perMinute: 100 })
      yield* budget.take(send)
      yield* budget.observe(send, {
        ...answer(429, 100, 50, 0),
        headers: { "retry-after": "5" },
        text: "Daily DM limit exceeded."
      })
      yield* budget.take(read)
      yield* budget.observe(read, { status: 429, headers: { "retry-after": "20" }, text: "Too many requests" })
      const next = yield* Effect.fork(budget.take(send))
      yield* TestClock.adjust(20_000 - 1)
      assert.isTrue(yield* waiting(next))
      yield* TestClock.adjust(1)
      yield* Fiber.join(next)
      assert.strictEqual((yield* budget.stats).rateLimited, 1)
    }))

  it.effect("a send waiting for the key goes before a read that waited longer", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({ perMinute: 1 })
      yield* budget.take(read)
      const queuedRead = yield* Effect.fork(budget.take(read))
      yield* TestClock.adjust(1_000)
      const queuedSend = yield* Effect.fork(budget.take(send))
      yield* TestClock.adjust(counted(minute) - 1_000)
      yield* Fiber.join(queuedSend)
      assert.isTrue(yield* waiting(queuedRead))
      yield* TestClock.adjust(counted(minute))
      yield* Fiber.join(queuedRead)
      const stats = yield* budget.stats
      assert.deepStrictEqual([stats.sends, stats.reads], [1, 2])
    }))

  it.effect("the per-profile limit holds one profile back and not the others", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({ perMinute: 100, perProfilePerMinute: 2 })
      yield* budget.take({ priority: "read", profile: "a" })
      yield* budget.take({ priority: "send", profile: "a" })
      const third = yield* Effect.fork(budget.take({ priority: "read", profile: "a" }))
      // Other profiles, and requests naming none, go at once.
      yield* budget.take({ priority: "read", profile: "b" })
      yield* budget.take({ priority: "read", profile: "b" })
      yield* budget.take(read)
      yield* TestClock.adjust(counted(minute) - 1)
      assert.isTrue(yield* waiting(third))
      yield* TestClock.adjust(1)
      yield* Fiber.join(third)
    }))

  it.effect("campaigns on one key with different plans get the tightest of them", () =>
    Effect.gen(function*() {
      const plan = RequestBudget.tightest([
        { perMinute: 100, perProfilePerMinute: 3 },
        { perMinute: 50, perTenMinutes: 300 },
        undefined
      ])
      assert.deepStrictEqual(plan, { perMinute: 50, perTenMinutes: 300, perProfilePerMinute: 3 })
      const budget = yield* inMemory(plan)
      assert.strictEqual(yield* budget.sustainablePerMinute, 30)
      yield* Effect.forEach(Array.from({ length: 50 }), () => budget.take(read))
      const next = yield* Effect.fork(budget.take(read))
      yield* TestClock.adjust(counted(minute) - 1)
      assert.isTrue(yield* waiting(next))
    }))

  it.effect("an unconfigured plan starts as the Free plan and learns the minute's limit from the answers", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({})
      assert.deepStrictEqual((yield* budget.snapshot).limits, RequestBudget.cautious)
      assert.strictEqual(yield* budget.sustainablePerMinute, 30)
      yield* budget.take(read)
      const now = yield* Clock.currentTimeMillis
      yield* budget.observe(read, answer(200, 250, 249, now + 40_000))
      const snapshot = yield* budget.snapshot
      assert.deepStrictEqual(snapshot.limits, { perMinute: 250, perTenMinutes: 1250, perProfilePerMinute: undefined })
      assert.strictEqual(snapshot.sustainablePerMinute, 125)
      assert.strictEqual(snapshot.spentLastMinute, 1)
      // A window that resets in more than a minute is the 10 minutes'.
      yield* budget.take(read)
      yield* budget.observe(read, answer(200, 1000, 900, now + 300_000))
      assert.strictEqual(yield* budget.sustainablePerMinute, 100)
      // A per-profile window's smaller limit does not lower the key's.
      yield* budget.take(read)
      yield* budget.observe(read, answer(200, 2, 1, now + 30_000))
      assert.strictEqual((yield* budget.snapshot).limits.perMinute, 250)
      // Nor is one below the smallest documented plan learned first.
      const fresh = yield* inMemory({})
      yield* fresh.take(read)
      yield* fresh.observe(read, answer(200, 12, 11, now + 1_000))
      assert.deepStrictEqual((yield* fresh.snapshot).limits, RequestBudget.cautious)
    }))

  it.effect("a process that has had no answer yet sends one request beyond the Free plan, then holds to what it learns", () =>
    Effect.gen(function*() {
      // Two budgets over one store: an earlier process, which learned a limit of 250, and a new one.
      const store = yield* RequestBudget.memoryStore
      const earlier = yield* RequestBudget.make(store, { plan: Effect.succeed({}) })
      yield* earlier.take(read)
      const now = yield* Clock.currentTimeMillis
      yield* earlier.observe(read, answer(200, 250, 249, now + 40_000))
      yield* Effect.forEach(Array.from({ length: 99 }), () => earlier.take(read))
      const fresh = yield* RequestBudget.make(store, { plan: Effect.succeed({}) })
      // 100 spent this minute: beyond the Free plan's 60, which the new process assumes. One request goes at once ...
      yield* fresh.take(read)
      const second = yield* Effect.fork(fresh.take(read))
      yield* TestClock.adjust(1_000)
      assert.isTrue(yield* waiting(second), "one probe at a time, until an answer")
      // ... and its answer tells the limit: the next goes within it.
      yield* fresh.observe(read, answer(200, 250, 149, now + 40_000))
      yield* TestClock.adjust(100)
      yield* Fiber.join(second)
      // A stated plan is never probed beyond.
      const stated = yield* RequestBudget.make(store, { plan: Effect.succeed({ perMinute: 60 }) })
      const held = yield* Effect.fork(stated.take(read))
      yield* TestClock.adjust(1_000)
      assert.isTrue(yield* waiting(held))
      yield* Fiber.interrupt(held)
    }))

  it.effect("a request paid for ahead (a send at its pace) takes nothing more; the next request does", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({ perMinute: 10 })
      const ok = Effect.succeed({ status: 200, headers: {} })
      const paid = yield* Effect.provideService(RequestBudget.prepay(send), RequestBudget.RequestBudget, budget)
      assert.strictEqual((yield* budget.stats).taken, 1)
      yield* paid(Effect.zipRight(budget.metered(send, ok), budget.metered(send, ok)))
      assert.strictEqual((yield* budget.stats).taken, 2)
      // Without a budget in the context there is nothing to pay.
      yield* (yield* RequestBudget.prepay(send))(budget.metered(send, ok))
      assert.strictEqual((yield* budget.stats).taken, 3)
    }))

  it.effect("headers that are no numbers, or beyond any plan, are not learned; a 429's wait is at most 10 minutes", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({})
      const now = yield* Clock.currentTimeMillis
      for (
        const [limit, remaining, reset] of [
          ["1e30", "0", "1"],
          ["", "", ""],
          ["60\u0000", "1", String(Math.ceil((now + 30_000) / 1000))],
          ["-5", "-5", "-5"],
          ["99999999999999999999", "0", "0"]
        ]
      ) {
        yield* budget.take(read)
        yield* budget.observe(read, {
          status: 200,
          headers: { "x-ratelimit-limit": limit, "x-ratelimit-remaining": remaining, "x-ratelimit-reset": reset }
        })
      }
      assert.deepStrictEqual((yield* budget.snapshot).limits, RequestBudget.cautious)
      assert.strictEqual((yield* budget.stats).heldBack, 0)
      yield* budget.observe(read, { status: 429, headers: { "retry-after": "999999999" } })
      const held = yield* Effect.fork(budget.take(send))
      // The longest window, as counted.
      yield* TestClock.adjust(10 * minute + 1_000 - 1)
      assert.isTrue(yield* waiting(held))
      yield* TestClock.adjust(1)
      yield* Fiber.join(held)
    }))

  it.effect("serve's registry: one budget per key for its campaigns, under the tightest plan while they run", () =>
    Effect.gen(function*() {
      const registry = yield* RequestBudget.makeRegistry(() => RequestBudget.memoryStore)
      const key = Redacted.make("key-a")
      const first = yield* registry.join(key, "spring", { perMinute: 100 })
      assert.isUndefined(first.notice)
      const other = yield* registry.join(Redacted.make("key-b"), "other", { perMinute: 7 })
      assert.strictEqual(yield* other.budget.sustainablePerMinute, 3)
      const scope = yield* Scope.make()
      const second = yield* Scope.extend(registry.join(key, "autumn", { perMinute: 40 }), scope)
      assert.strictEqual(second.budget, first.budget)
      assert.strictEqual(
        second.notice,
        "campaigns spring, autumn share an API key with different api_plan settings: the key's budget holds the " +
          "tightest of them (per_minute 40)"
      )
      assert.notInclude(second.notice ?? "", "key-a")
      assert.strictEqual((yield* first.budget.snapshot).limits.perMinute, 40)
      // The campaign stops: its plan leaves with it.
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* first.budget.snapshot).limits.perMinute, 100)
    }).pipe(Effect.scoped))

  it.effect("a request interrupted while it waits is not counted", () =>
    Effect.gen(function*() {
      const budget = yield* inMemory({ perMinute: 1 })
      yield* budget.take(read)
      const given = yield* Effect.fork(budget.metered(send, Effect.succeed({ status: 200, headers: {} })))
      yield* TestClock.adjust(1_000)
      yield* Fiber.interrupt(given)
      assert.strictEqual((yield* budget.stats).taken, 1)
      assert.strictEqual((yield* budget.snapshot).spentLastMinute, 1)
    }))
})

/** Two connections to one database, as two processes on one ledger hold. */
class Database extends Context.Tag("Database")<Database, {
  readonly first: SqlClient.SqlClient
  readonly second: SqlClient.SqlClient
}>() {}

const twoConnections = <E, R>(connect: Layer.Layer<SqlClient.SqlClient, E, R>) =>
  Effect.all({
    first: Effect.map(Layer.build(connect), Context.get(SqlClient.SqlClient)),
    second: Effect.map(Layer.build(connect), Context.get(SqlClient.SqlClient))
  })

const sqliteDatabase = Layer.scoped(
  Database,
  Effect.flatMap(
    tempDirectory,
    (directory) => twoConnections(SqliteLedger.layerClient({ filename: Path.join(directory, "ledger.sqlite") }))
  )
)

const postgresDatabase = Layer.scoped(
  Database,
  Effect.acquireRelease(Effect.promise(startPostgres), (server) => Effect.promise(server.stop)).pipe(
    Effect.flatMap((server) => twoConnections(PgLedger.layerClient({ url: server.url })))
  )
)

/** The budgets of one key in two processes; each test uses a key of its own, so one database serves them all. */
const twoProcesses = (plan: RequestBudget.Plan) =>
  Effect.flatMap(Database, ({ first, second }) => {
    const key = Redacted.make(`key-${crypto.randomUUID()}`)
    const one = (client: SqlClient.SqlClient) =>
      Effect.provideService(
        Effect.flatMap(
          RequestBudget.ledgerStore(key),
          (store) => RequestBudget.make(store, { plan: Effect.succeed(plan) })
        ),
        SqlClient.SqlClient,
        client
      )
    return Effect.all([one(first), one(second)])
  })

/** Real time for the database to answer, until the condition holds: the TestClock does not wait for I/O. */
const until = (condition: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let tries = 0; tries < 2_000 && !(yield* condition); tries++) {
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
    }
    assert.isTrue(yield* condition, "the database answered in time")
  })

/** Until `count` fibers sleep on the TestClock (a take that found no room has asked when it will). */
const asleep = (count: number) => until(Effect.map(TestClock.sleeps(), (sleeps) => sleeps.length >= count))

const sharedContract = (it: Vitest.MethodsNonLive<Database>) => {
  it.effect("two processes on one ledger share the key's windows", () =>
    Effect.gen(function*() {
      const [first, second] = yield* twoProcesses({ perMinute: 3, perTenMinutes: 4 })
      yield* first.take(read)
      yield* second.take({ priority: "read", profile: "p" })
      yield* first.take(send)
      const waitingFirst = yield* Effect.fork(first.take(read))
      const waitingSecond = yield* Effect.fork(second.take(read))
      yield* asleep(2)
      yield* TestClock.adjust(counted(minute) - 1)
      assert.isTrue(yield* waiting(waitingFirst))
      assert.isTrue(yield* waiting(waitingSecond))
      yield* TestClock.adjust(1)
      // One place left in the 10 minutes: one of them goes, the other waits for the 10 minutes.
      const done = Effect.map(
        Effect.all([waiting(waitingFirst), waiting(waitingSecond)]),
        (still) => still.filter((stillWaiting) => !stillWaiting).length
      )
      yield* until(Effect.map(done, (count) => count === 1))
      yield* asleep(1)
      assert.strictEqual((yield* first.snapshot).spentLastTenMinutes, 4)
      yield* TestClock.adjust(counted(10 * minute))
      // The one left may have gone back to sleep on a look at the database that raced the other's (a wait of a
      // millisecond): the clock moves on a second at a time until it has gone.
      yield* until(Effect.zipRight(
        TestClock.adjust(1_000),
        Effect.map(Effect.all([waiting(waitingFirst), waiting(waitingSecond)]), (still) => !still.includes(true))
      ))
      yield* Fiber.join(waitingFirst)
      yield* Fiber.join(waitingSecond)
    }))

  it.effect("a 429 one process meets holds the other", () =>
    Effect.gen(function*() {
      const [first, second] = yield* twoProcesses({ perMinute: 100 })
      yield* first.take(read)
      yield* first.observe(read, { status: 429, headers: { "retry-after": "30" } })
      const held = yield* Effect.fork(second.take(send))
      yield* asleep(1)
      yield* TestClock.adjust(30_000 - 1)
      assert.isTrue(yield* waiting(held))
      yield* TestClock.adjust(1)
      yield* Fiber.join(held)
    }))

  it.effect("what the API counted beyond ours, seen by one process, holds the other back", () =>
    Effect.gen(function*() {
      const [first, second] = yield* twoProcesses({ perMinute: 10 })
      yield* first.take(read)
      const now = yield* Clock.currentTimeMillis
      yield* first.observe(read, answer(200, 10, 1, now + 20_000))
      yield* second.take(read)
      const next = yield* Effect.fork(second.take(read))
      yield* asleep(1)
      yield* TestClock.adjust(counted(minute) - 1)
      assert.isTrue(yield* waiting(next))
      yield* TestClock.adjust(1)
      yield* Fiber.join(next)
    }))

  it.effect("the rows name the key by a digest, never by itself", () =>
    Effect.gen(function*() {
      const { first } = yield* Database
      const key = Redacted.make("secret-key-that-must-not-be-stored-0123456789")
      const budget = yield* Effect.provideService(
        Effect.flatMap(RequestBudget.ledgerStore(key), (store) =>
          RequestBudget.make(store, { plan: Effect.succeed({}) })),
        SqlClient.SqlClient,
        first
      )
      yield* budget.take(read)
      yield* budget.observe(read, { status: 429, headers: {} })
      const rows = yield* first`SELECT key_digest FROM comment_dm_request_log
        UNION ALL SELECT key_digest FROM comment_dm_request_keys`
      assert.notInclude(JSON.stringify(rows), "secret-key")
      const digest = RequestBudget.keyDigest(key)
      assert.match(digest, /^[0-9a-f]{64}$/)
      // The request taken, and the hold.
      assert.strictEqual(
        rows.filter((row) =>
          row["key_digest"] === digest
        ).length,
        2
      )
    }))
}

layer(sqliteDatabase)("RequestBudget shared on SQLite", (it) => sharedContract(it))

const { install, reason } = findPostgres()

describe.skipIf(install === undefined)(
  `RequestBudget shared on PostgreSQL${install === undefined ? ` (skipped: ${reason})` : ""}`,
  () => {
    layer(postgresDatabase, { timeout: "60 seconds" })((it) => sharedContract(it))
  }
)
