/**
 * Group commit for guarded single-row writes: writes that arrive while a transaction is being committed wait for the
 * next one and are committed together, each still a statement (or a few) of its own. Every caller waits for the commit
 * that holds its write before it goes on, so a write is as durable when answered as if it were committed alone; a
 * database that needs a sync to make a commit durable (see `sync`) pays one per group instead of one per write, and
 * the writer goes on committing the next groups while a sync runs.
 *
 * The statements run straight on a reserved connection in BEGIN/COMMIT, which is the same on SQLite and PostgreSQL.
 *
 * @internal
 */
import type * as SqlConnection from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"

/** A guarded write of one row, in one statement or a few run in order within the group's transaction. */
export interface Write {
  /**
   * Where the row stands among the rows of its group (compared part by part): a group writes its rows in this order,
   * so that two groups of two processes never wait for each other's rows.
   */
  readonly order: ReadonlyArray<string>
  /** Answered only once the commit is durable (after `sync`), not as soon as it is committed. */
  readonly untilDurable: boolean
  readonly statements: ReadonlyArray<Statement.Statement<unknown>>
  /** The statement whose rows answer the caller: whether it returned any. Default the first. */
  readonly answer?: number | undefined
}

export interface Options {
  /** A connection that no other statement uses while the group holds it (`SqlClient.reserve`). */
  readonly reserve: Effect.Effect<SqlConnection.Connection, SqlError, Scope.Scope>
  /**
   * Makes the commits so far durable, when the database does not on each commit; run after a group is committed and
   * before its `untilDurable` writes are answered. Without one, a commit is durable when it returns.
   */
  readonly sync?: Effect.Effect<void, SqlError> | undefined
}

export interface GroupCommit {
  /**
   * Runs the write in the next group commit and waits for that commit (and with `untilDurable` for its sync);
   * succeeds with whether the answering statement returned rows. Fails when the group's transaction or the sync
   * fails. The wait cannot be interrupted: a write that is committed is always reported to its caller.
   */
  readonly write: (write: Write) => Effect.Effect<boolean, SqlError>
}

interface Queued {
  readonly order: ReadonlyArray<string>
  readonly untilDurable: boolean
  /** Compiled by the caller for the client's dialect: the group runs them on its own connection. */
  readonly statements: ReadonlyArray<readonly [text: string, params: ReadonlyArray<unknown>]>
  readonly answer: number
  readonly done: Deferred.Deferred<boolean, SqlError>
}

/** A write committed but not yet synced, with whether its row was updated. */
interface Committed {
  readonly write: Queued
  readonly updated: boolean
}

const byOrder = (a: Queued, b: Queued): number => {
  for (let i = 0; i < Math.max(a.order.length, b.order.length); i++) {
    const x = a.order[i] ?? ""
    const y = b.order[i] ?? ""
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

/**
 * Waits until the event loop has run the callbacks that are ready (answers that arrived during the last commit,
 * whose fibers then write too), so that their writes join the group.
 */
const afterPendingEvents: Effect.Effect<void> = Effect.async((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * Runs a group's statements in one transaction on its connection, and succeeds with each write's answer. Straight on
 * the connection rather than through `sql.withTransaction` and a statement each: a span, a scope and a connection
 * acquisition per statement cost more than the statement itself.
 */
const inTransaction = (connection: SqlConnection.Connection, group: ReadonlyArray<Queued>) =>
  Effect.gen(function*() {
    yield* connection.execute("BEGIN", [], undefined)
    const outcome = yield* Effect.exit(Effect.gen(function*() {
      const updated: Array<boolean> = []
      for (const write of group) {
        let answered = false
        for (const [index, [text, params]] of write.statements.entries()) {
          const rows = yield* connection.execute(text, params, undefined)
          if (index === write.answer) answered = rows.length > 0
        }
        updated.push(answered)
      }
      yield* connection.execute("COMMIT", [], undefined)
      return updated
    }))
    // A failed statement or commit leaves nothing of the group: the transaction is rolled back.
    if (Exit.isFailure(outcome)) yield* Effect.ignore(connection.execute("ROLLBACK", [], undefined))
    return yield* outcome
  })

/** The group-commit writer; it lives as long as the scope, and closing the scope syncs what was committed. */
export const make = (options: Options): Effect.Effect<GroupCommit, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { reserve, sync } = options
    const writes = yield* Queue.unbounded<Queued>()
    /** Committed writes that wait for the next sync (only with a `sync`), with whether each row was updated. */
    const committed = yield* Queue.unbounded<Committed>()
    /** Whether something was committed since the last sync began. */
    let unsynced = false

    /** Commits the writes waiting now, together; a group is never abandoned half-way, even at shutdown. */
    const commitGroup = Effect.gen(function*() {
      const first = yield* Queue.take(writes)
      yield* afterPendingEvents
      const group = [first, ...(yield* Queue.takeAll(writes))].sort(byOrder)
      const outcome = yield* Effect.exit(Effect.scoped(Effect.flatMap(reserve, (c) => inTransaction(c, group))))
        .pipe(Effect.uninterruptible)
      // A failed group is rolled back as a whole: every caller in it fails, and only they.
      if (Exit.isFailure(outcome)) {
        return group.forEach((write) => Deferred.unsafeDone(write.done, Exit.failCause(outcome.cause)))
      }
      unsynced = sync !== undefined
      group.forEach((write, index) => {
        const updated = outcome.value[index] ?? false
        // Committed, not yet durable: answered after the next sync, while the following groups commit.
        if (write.untilDurable && sync !== undefined) return Queue.unsafeOffer(committed, { write, updated })
        Deferred.unsafeDone(write.done, Exit.succeed(updated))
      })
    })

    /**
     * One sync for every write committed before it starts (writes answered at their commit included); when the sync
     * fails, every caller waiting for it fails.
     */
    const syncWrites = (waiting: ReadonlyArray<Committed>, sync: Effect.Effect<void, SqlError>) =>
      Effect.gen(function*() {
        unsynced = false
        const synced = yield* Effect.exit(sync)
        for (const { updated, write } of waiting) Deferred.unsafeDone(write.done, Exit.as(synced, updated))
      })

    yield* Effect.forkScoped(Effect.forever(commitGroup))
    if (sync !== undefined) {
      const syncWaiting = Effect.gen(function*() {
        const waiting = [yield* Queue.take(committed), ...(yield* Queue.takeAll(committed))]
        yield* syncWrites(waiting, sync).pipe(Effect.uninterruptible)
      })
      yield* Effect.forkScoped(Effect.forever(syncWaiting))
    }
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        // Whatever was committed is made durable before the writer closes, and its callers are answered truly.
        const left = Chunk.toArray(yield* Queue.takeAll(committed))
        if (sync !== undefined && (left.length > 0 || unsynced)) yield* syncWrites(left, sync)
        const waiting = yield* Queue.takeAll(writes)
        yield* Effect.forEach(waiting, (write) => Deferred.interrupt(write.done), { discard: true })
      })
    )

    const write = ({ answer = 0, order, statements, untilDurable }: Write) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<boolean, SqlError>()
        const compiled = statements.map((statement) => statement.compile())
        yield* Queue.offer(writes, { order, untilDurable, statements: compiled, answer, done })
        return yield* Deferred.await(done)
      }).pipe(Effect.uninterruptible)

    return { write }
  })
