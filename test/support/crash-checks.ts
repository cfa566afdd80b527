/**
 * The checks behind the delivery promise, shared by the crash, fault, bad-input and secret suites: the sandbox's
 * deliveries are the ground truth for what was sent, the ledger (read through the same layer the command uses) for
 * what the tool believes, and every output of every process is searched for the API key.
 */
import { Ledger } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import type { Delivery } from "@comment-dm/sandbox"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { assert } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as Fs from "node:fs"
import type { World } from "./crash-world.js"

/** Every row the ledger holds for a campaign, in first-seen order. Open it only while no run is writing. */
export const ledgerEntries = (
  filename: string,
  campaign: string
): Effect.Effect<ReadonlyArray<Ledger.LedgerEntry>, Ledger.LedgerError> =>
  Effect.flatMap(Ledger.Ledger, (ledger) => Stream.runCollect(ledger.entries(campaign))).pipe(
    Effect.map(Chunk.toReadonlyArray),
    Effect.provide(SqliteLedger.layer({ filename }))
  )

export const byUser = (entries: ReadonlyArray<Ledger.LedgerEntry>): ReadonlyMap<string, Ledger.LedgerEntry> =>
  new Map(entries.map((entry) => [entry.userId, entry]))

/**
 * No recipient got two messages. Returns the single delivery of each recipient; a failure names the people who got
 * more than one.
 */
export const assertOncePerPerson = (
  deliveries: ReadonlyArray<Delivery.Delivery>,
  context: string
): ReadonlyMap<string, Delivery.Delivery> => {
  const byRecipient = new Map<string, Delivery.Delivery>()
  const repeated = new Set<string>()
  for (const delivery of deliveries) {
    if (byRecipient.has(delivery.recipientId)) repeated.add(delivery.recipientId)
    byRecipient.set(delivery.recipientId, delivery)
  }
  assert.deepStrictEqual([...repeated], [], `${context}: these people got more than one DM`)
  return byRecipient
}

/** What a kill interrupted, read from the ledger and the deliveries right after it. */
export interface KillSnapshot {
  /** People the ledger knows: fewer than the world's matching people while pages were still being read. */
  readonly known: number
  /** Claims left open by the killed process. */
  readonly claimed: number
  /** Of those, people the sandbox had already delivered to: killed between send and settle. */
  readonly deliveredUnsettled: number
}

/**
 * The invariants that hold at any instant, even right after a SIGKILL: nobody was sent twice, the ledger only knows
 * matching people, every delivered person is recorded as sent, in doubt or still claimed (never pending or refused,
 * which would let a later run send again), and nobody is recorded as sent who was not delivered, with the message
 * id the platform gave.
 */
export const assertConsistent = (
  world: World,
  entries: ReadonlyArray<Ledger.LedgerEntry>,
  deliveries: ReadonlyArray<Delivery.Delivery>,
  context: string
): KillSnapshot => {
  const delivered = assertOncePerPerson(deliveries, context)
  const rows = byUser(entries)
  const strangers = entries.filter((entry) => !world.matching.has(entry.userId)).map((entry) => entry.userId)
  assert.deepStrictEqual(strangers, [], `${context}: the ledger holds people who never asked for the guide`)
  for (const [recipient, delivery] of delivered) {
    const state = rows.get(recipient)?.state
    assert.isTrue(
      state === "sent" || state === "in_doubt" || state === "claimed",
      `${context}: ${recipient} was delivered but the ledger says ${state ?? "nothing"}`
    )
    if (state === "sent") {
      assert.strictEqual(rows.get(recipient)?.messageId, delivery.messageId, `${context}: message id of ${recipient}`)
    }
  }
  for (const entry of entries) {
    if (entry.state === "sent") {
      assert.isTrue(delivered.has(entry.userId), `${context}: ${entry.userId} is recorded as sent but got nothing`)
    }
    if (entry.state === "refused") {
      assert.include(world.refused, entry.userId, `${context}: ${entry.userId} refused without a refusal`)
    }
  }
  const claimed = entries.filter((entry) => entry.state === "claimed")
  return {
    known: entries.length,
    claimed: claimed.length,
    deliveredUnsettled: claimed.filter((entry) => delivered.has(entry.userId)).length
  }
}

/** Every matching person has a row, in a state `status` accounts for, and the ledger holds nobody else. */
export const assertAccounted = (
  world: World,
  entries: ReadonlyArray<Ledger.LedgerEntry>,
  deliveries: ReadonlyArray<Delivery.Delivery>,
  context: string
): void => {
  assertConsistent(world, entries, deliveries, context)
  assert.deepStrictEqual(
    entries.map((entry) => entry.userId).sort(),
    [...world.matching].sort(),
    `${context}: the ledger must hold exactly the matching people`
  )
  const open = entries.filter((entry) => entry.state === "claimed").map((entry) => entry.userId)
  assert.deepStrictEqual(open, [], `${context}: claims left open after a run that ended`)
}

/**
 * The end state: every matching person was sent exactly one DM or refused, the refused ones are exactly those the
 * platform refuses, and every DM the sandbox delivered went to a matching person who is recorded as sent.
 */
export const assertSettled = (
  world: World,
  entries: ReadonlyArray<Ledger.LedgerEntry>,
  deliveries: ReadonlyArray<Delivery.Delivery>,
  context: string
): void => {
  assertAccounted(world, entries, deliveries, context)
  const unsettled = entries.filter((entry) => entry.state !== "sent" && entry.state !== "refused")
  assert.deepStrictEqual(
    unsettled.map((entry) => `${entry.userId}: ${entry.state} (${entry.reason ?? "no reason"})`),
    [],
    `${context}: everyone must be sent or refused`
  )
  const refused = entries.filter((entry) => entry.state === "refused").map((entry) => entry.userId).sort()
  assert.deepStrictEqual(refused, [...world.refused].sort(), `${context}: refused people`)
  const expected = [...world.matching].filter((id) => !world.refused.includes(id)).sort()
  assert.deepStrictEqual(deliveries.map((delivery) => delivery.recipientId).sort(), expected, `${context}: deliveries`)
}

/**
 * As if the UTC day had turned for the ledger: moves today's record of the profile's sends and of the daily DM limit
 * to yesterday, so that the next run no longer pauses for the day. Only while no run is writing.
 */
export const turnTheDay = (filename: string): Effect.Effect<void, Ledger.LedgerError | SqlError> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = Date.now()
    const today = new Date(now).toISOString().slice(0, 10)
    const yesterday = new Date(now - 86_400_000).toISOString().slice(0, 10)
    yield* sql`UPDATE comment_dm_profile_budget SET day = ${yesterday} WHERE day = ${today}`
  }).pipe(Effect.provide(SqliteLedger.layerClient({ filename })))

/** The ledger file and the journal files SQLite keeps beside it, those that exist. */
export const ledgerFiles = (filename: string): ReadonlyArray<string> =>
  [filename, `${filename}-wal`, `${filename}-shm`, `${filename}-journal`].filter((path) => Fs.existsSync(path))

/** Each text or file content must not contain `secret`; a failure names the outputs that do. */
export const assertNoSecret = (secret: string, outputs: Readonly<Record<string, string | Uint8Array>>): void => {
  const leaks = Object.entries(outputs)
    .filter(([, content]) =>
      typeof content === "string" ? content.includes(secret) : Buffer.from(content).includes(secret)
    )
    .map(([name]) => name)
  assert.deepStrictEqual(leaks, [], "the API key appears in these outputs")
  assert.isAbove(Object.keys(outputs).length, 0, "no output was searched")
}

/** The ledger's files as named outputs for {@link assertNoSecret}. */
export const ledgerOutputs = (filename: string): Record<string, Uint8Array> =>
  Object.fromEntries(ledgerFiles(filename).map((path) => [path, Fs.readFileSync(path)]))

/** Only the owner may read or write the ledger and its journals: it names people and what they were sent. */
export const assertPrivate = (filename: string): void => {
  for (const path of ledgerFiles(filename)) {
    const mode = Fs.statSync(path).mode & 0o777
    assert.strictEqual(mode & 0o077, 0, `${path} has mode ${mode.toString(8)}; expected 600`)
  }
}
