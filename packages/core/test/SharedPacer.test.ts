import * as SqlClient from "@effect/sql/SqlClient"
import type { Vitest } from "@effect/vitest"
import { assert, describe, layer } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Fiber, Layer, Option, Random, TestClock, TestServices } from "effect"
import * as Path from "node:path"
import * as PgLedger from "../src/PgLedger.js"
import * as SharedPacer from "../src/SharedPacer.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import { tempDirectory } from "./support/ledgerSuite.js"
import { findPostgres, startPostgres } from "./support/postgres.js"

/** Two connections to one database, as the processes of two runners would hold. */
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

/** Every test uses a profile of its own, so that one database serves the whole suite. */
const newProfile = (label: string): string => `${label}-${crypto.randomUUID()}`

/** Two runners of the same profile, each on its own connection. */
const twoRunners = (options: SharedPacer.Options) =>
  Effect.flatMap(Database, ({ first, second }) =>
    Effect.all([
      Effect.provideService(SharedPacer.make(options), SqlClient.SqlClient, first),
      Effect.provideService(SharedPacer.make(options), SqlClient.SqlClient, second)
    ]))

/** Another runner, on the first connection. */
const runner = (options: SharedPacer.Options) =>
  Effect.flatMap(Database, ({ first }) => Effect.provideService(SharedPacer.make(options), SqlClient.SqlClient, first))

const gaps = (times: ReadonlyArray<number>): Array<number> => {
  const sorted = [...times].sort((a, b) => a - b)
  return sorted.slice(1).map((time, i) => time - sorted[i]!)
}

const day = Duration.toMillis(Duration.days(1))

const sharedPacerContract = (it: Vitest.MethodsNonLive<Database>) => {
  it.scoped("two runners of a profile are never handed slots closer than the spacing", () =>
    TestServices.provideLive(Effect.gen(function*() {
      // 50 per second: one slot every 20 ms.
      const [first, second] = yield* twoRunners({
        profile: newProfile("pace"),
        platform: "instagram",
        count: 50,
        per: "1 second"
      })
      // Random pauses let real time catch up with the reserved slots now and then, as between real sends.
      const reserveMany = (pacer: SharedPacer.SharedPacer) =>
        Effect.forEach(
          Array.from({ length: 15 }),
          () => Effect.zipLeft(pacer.reserve, Effect.flatMap(Random.nextIntBetween(0, 30), (ms) => Effect.sleep(ms))),
          { concurrency: 3 }
        )
      const [byFirst, bySecond] = yield* Effect.all([reserveMany(first), reserveMany(second)], {
        concurrency: "unbounded"
      })
      const slotGaps = gaps([...byFirst, ...bySecond])
      assert.strictEqual(slotGaps.length, 29)
      for (const gap of slotGaps) assert.isAtLeast(gap, 20)
    })))

  it.scoped("the takes of two runners wait for their own slots in real time", () =>
    TestServices.provideLive(Effect.gen(function*() {
      const [first, second] = yield* twoRunners({
        profile: newProfile("take"),
        platform: "instagram",
        count: 50,
        per: "1 second"
      })
      const started = yield* Clock.currentTimeMillis
      const takeFour = (pacer: SharedPacer.SharedPacer) => Effect.forEach(Array.from({ length: 4 }), () => pacer.take)
      yield* Effect.all([takeFour(first), takeFour(second)], { concurrency: "unbounded" })
      // Eight slots 20 ms apart: the last one is at least seven spacings after the start.
      assert.isAtLeast((yield* Clock.currentTimeMillis) - started, 7 * 20 - 1)
    })))

  it.scoped("a runner waits for the slot after those another runner reserved", () =>
    Effect.gen(function*() {
      // 200 per hour: one slot every 18 seconds.
      const spacing = 18_000
      const [first, second] = yield* twoRunners({ profile: newProfile("wait"), platform: "instagram", count: 200 })
      const start = yield* Clock.currentTimeMillis
      const reserved = yield* Effect.forEach(Array.from({ length: 3 }), () => first.reserve)
      assert.deepStrictEqual(reserved, [start, start + spacing, start + 2 * spacing])

      const waiting = yield* Effect.fork(second.take)
      yield* TestClock.adjust(3 * spacing - 1)
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
      yield* TestClock.adjust(1)
      yield* Fiber.join(waiting)
      assert.strictEqual(yield* Clock.currentTimeMillis, start + 3 * spacing)
      assert.strictEqual(yield* first.reserve, start + 4 * spacing)
    }))

  it.scoped("a daily limit marked by one runner is seen by the other until the UTC day ends", () =>
    Effect.gen(function*() {
      const profile = newProfile("limit")
      const [first, second] = yield* twoRunners({ profile, platform: "instagram", count: 200 })
      const otherProfile = yield* runner({ profile: newProfile("other"), platform: "instagram", count: 200 })
      const otherPlatform = yield* runner({ profile, platform: "tiktok", count: 200 })
      assert.isFalse(yield* second.dailyLimitReached)

      yield* first.markDailyLimit()
      yield* first.markDailyLimit()
      assert.isTrue(yield* second.dailyLimitReached)
      assert.isFalse(yield* otherProfile.dailyLimitReached)
      assert.isFalse(yield* otherPlatform.dailyLimitReached)

      yield* TestClock.adjust(day)
      assert.isFalse(yield* second.dailyLimitReached)
      // A mark for a day given explicitly, e.g. the day of the refused request.
      yield* second.markDailyLimit(SharedPacer.utcDay(yield* Clock.currentTimeMillis))
      assert.isTrue(yield* first.dailyLimitReached)
    }))

  it.scoped("sends recorded by both runners count against the profile's daily limit", () =>
    Effect.gen(function*() {
      const profile = newProfile("count")
      const [first, second] = yield* twoRunners({ profile, platform: "instagram", count: 200, dailyLimit: 25 })
      const uncapped = yield* runner({ profile, platform: "instagram", count: 200 })
      const recordTen = (pacer: SharedPacer.SharedPacer) =>
        Effect.forEach(Array.from({ length: 10 }), () => pacer.recordSent, { concurrency: 4 })
      const [byFirst, bySecond] = yield* Effect.all([recordTen(first), recordTen(second)], { concurrency: 2 })
      // Every increment is atomic: the counts returned are 1 to 20, each once.
      assert.deepStrictEqual(
        [...byFirst, ...bySecond].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 1)
      )
      assert.strictEqual(yield* second.sentToday, 20)
      assert.isFalse(yield* second.dailyLimitReached)

      yield* Effect.forEach(Array.from({ length: 5 }), () => first.recordSent)
      assert.isTrue(yield* second.dailyLimitReached)
      assert.isFalse(yield* uncapped.dailyLimitReached)

      yield* TestClock.adjust(day)
      assert.strictEqual(yield* first.sentToday, 0)
      assert.isFalse(yield* second.dailyLimitReached)
    }))

  it.scoped("a campaign's budget counts its sends and says when the count reaches the profile's limit", () =>
    Effect.gen(function*() {
      const profile = newProfile("budget")
      const [first, second] = yield* twoRunners({ profile, platform: "instagram", count: 200, dailyLimit: 3 })
      const uncapped = yield* runner({ profile, platform: "instagram", count: 200 })
      const capReached = (pacer: SharedPacer.SharedPacer) => Effect.map(pacer.budget.status, (s) => s.capReached)
      assert.deepStrictEqual([yield* first.budget.recordSent, yield* second.budget.recordSent], [false, false])
      assert.isFalse(yield* capReached(second))
      assert.isTrue(yield* first.budget.recordSent)
      assert.isTrue(yield* capReached(second))
      // A runner without a limit of its own counts, and pauses only when the platform says so.
      assert.isFalse(yield* uncapped.budget.recordSent)
      assert.deepStrictEqual(yield* uncapped.budget.status, { capReached: false, limitReachedAt: undefined })
      const markedAt = yield* Clock.currentTimeMillis
      yield* uncapped.budget.markExhausted
      assert.deepStrictEqual(yield* uncapped.budget.status, { capReached: false, limitReachedAt: new Date(markedAt) })
      assert.strictEqual(yield* uncapped.sentToday, 4)

      // The mark holds across the UTC day (the campaign's daily_reset decides when it is over) until a send is
      // accepted again: then it is lifted for every runner.
      yield* TestClock.adjust(Duration.days(1))
      assert.deepStrictEqual((yield* second.budget.status).limitReachedAt, new Date(markedAt))
      yield* first.budget.markLifted
      assert.deepStrictEqual((yield* uncapped.budget.status).limitReachedAt, undefined)
      // Two days on, an old mark no longer counts.
      yield* uncapped.markDailyLimit(SharedPacer.utcDay(markedAt - 3 * 86_400_000))
      assert.deepStrictEqual((yield* uncapped.budget.status).limitReachedAt, undefined)
    }))
}

layer(sqliteDatabase)("SharedPacer on SQLite", (it) => sharedPacerContract(it))

const { install, reason } = findPostgres()

describe.skipIf(install === undefined)(
  `SharedPacer on PostgreSQL${reason === undefined ? "" : ` (skipped: ${reason})`}`,
  () => {
    layer(postgresDatabase, { timeout: "60 seconds" })((it) => sharedPacerContract(it))
  }
)
