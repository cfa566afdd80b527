/**
 * Tombstones of forgotten people: a salted hash of the user id, so that the ledger can recognise someone it was told
 * to forget without keeping who they are. The salt is the ledger's own (comment_dm_ledger_secrets), made once.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import { storable } from "./storable.js"

export const saltName = "forget_salt"

/** A tombstone's profile (or platform) that stands for every one. */
export const anyProfile = "*"

/** The hash a tombstone keeps of a user id. */
export const hashOf = (salt: string, userId: string): string =>
  Crypto.createHash("sha256").update(salt).update("\u0000").update(storable(userId)).digest("hex")

/** What a forgotten person's id becomes in the rows kept for the counts: unique per person, naming nobody. */
export const pseudonymOf = (hash: string): string => `forgotten:${hash.slice(0, 32)}`

/** The ledger's salt, if a `forget` ever made it. */
export const readSalt = (sql: SqlClient.SqlClient) =>
  Effect.map(
    sql<{ readonly value: string }>`SELECT value FROM comment_dm_ledger_secrets WHERE name = ${saltName}`,
    (rows): string | undefined => rows[0]?.value
  )

/** The ledger's salt, made now when there is none (two processes at once: the first one's is kept). */
export const ensureSalt = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const made = Crypto.randomBytes(32).toString("hex")
    yield* sql`INSERT INTO comment_dm_ledger_secrets (name, value) VALUES (${saltName}, ${made})
      ON CONFLICT (name) DO NOTHING`
    return (yield* readSalt(sql)) ?? made
  })

/** Of these ids, those with a tombstone on the platform and profile (or on every one). */
export const tombstoned = (
  sql: SqlClient.SqlClient,
  salt: string,
  platform: string,
  profile: string,
  userIds: ReadonlyArray<string>,
  batchSize: number
) =>
  Effect.gen(function*() {
    const byHash = new Map(userIds.map((userId) => [hashOf(salt, userId), userId]))
    const found = new Set<string>()
    for (const batch of Arr.chunksOf([...byHash.keys()], batchSize)) {
      const rows = yield* sql<{ readonly user_hash: string }>`SELECT user_hash FROM comment_dm_forgotten
        WHERE platform IN ${sql.in([platform, anyProfile])} AND profile IN ${sql.in([profile, anyProfile])}
          AND user_hash IN ${sql.in(batch)}`
      for (const row of rows) {
        const userId = byHash.get(row.user_hash)
        if (userId !== undefined) found.add(userId)
      }
    }
    return found
  })
