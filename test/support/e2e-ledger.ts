/**
 * Reads a campaign's ledger file in the test process, once the command that wrote it has exited.
 */
import { Ledger } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import type { Delivery } from "@comment-dm/sandbox"
import { Chunk, Effect, Stream } from "effect"

export const ledgerEntries = (filename: string, campaign: string): Promise<ReadonlyArray<Ledger.LedgerEntry>> =>
  Effect.runPromise(
    Effect.flatMap(Ledger.Ledger, (ledger) => Stream.runCollect(ledger.entries(campaign))).pipe(
      Effect.map(Chunk.toReadonlyArray),
      Effect.provide(SqliteLedger.layer({ filename }))
    )
  )

/** Ledger rows by user id. */
export const byUser = (entries: ReadonlyArray<Ledger.LedgerEntry>): ReadonlyMap<string, Ledger.LedgerEntry> =>
  new Map(entries.map((entry) => [entry.userId, entry]))

/** How many deliveries each recipient got. */
export const deliveriesPerRecipient = (deliveries: ReadonlyArray<Delivery.Delivery>): ReadonlyMap<string, number> => {
  const counts = new Map<string, number>()
  for (const delivery of deliveries) counts.set(delivery.recipientId, (counts.get(delivery.recipientId) ?? 0) + 1)
  return counts
}

/** The recipients that got more than one delivery: always empty when the promise holds. */
export const duplicates = (deliveries: ReadonlyArray<Delivery.Delivery>): ReadonlyArray<string> =>
  [...deliveriesPerRecipient(deliveries)].filter(([, count]) => count > 1).map(([recipient]) => recipient)
