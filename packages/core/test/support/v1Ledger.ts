/**
 * The schema v1 ledger fixture (test/fixtures/v1-ledger, built by its make.ts with the v1 ledger code): the SQLite
 * file as v1 left it, and its rows as portable INSERTs for a database that has only the v1 migrations.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Schema } from "effect"
import * as Fs from "node:fs"
import * as Url from "node:url"
import { migrations, migrationsTable } from "../../src/internal/ledgerMigrations.js"
import { DeliveryState } from "../../src/Ledger.js"

const fixture = (name: string) => Url.fileURLToPath(new URL(`../fixtures/v1-ledger/${name}`, import.meta.url))

/** The SQLite ledger as schema v1 left it; copy it before opening it, which upgrades it. */
export const v1SqliteFile = fixture("v1-ledger.sqlite")

/** The fixture's rows, one INSERT per line. */
export const v1Statements = (): Array<string> =>
  Fs.readFileSync(fixture("v1-ledger.sql"), "utf8").split("\n").filter((line) => line.startsWith("INSERT "))

/** Creates the v1 tables (migrations 0001-0005 only) and fills them with the fixture's rows. */
export const applyV1: Effect.Effect<void, unknown, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const v1 = Object.fromEntries(Object.entries(migrations).filter(([name]) => Number.parseInt(name, 10) <= 5))
  yield* Migrator.make({})({ loader: Migrator.fromRecord(v1), table: migrationsTable })
  for (const statement of v1Statements()) yield* sql.unsafe(statement)
})

const Integer = Schema.Union(Schema.Number, Schema.NumberFromString)
const NullOrInteger = Schema.NullOr(Integer)

/** A v1 `recipients` row, with its integers as numbers on both dialects. */
export const V1Row = Schema.Struct({
  campaign: Schema.String,
  platform: Schema.String,
  user_id: Schema.String,
  username: Schema.NullOr(Schema.String),
  post_id: Schema.String,
  comment_id: Schema.String,
  comment_text: Schema.String,
  comment_time: NullOrInteger,
  keyword: Schema.NullOr(Schema.String),
  state: DeliveryState,
  reason: Schema.NullOr(Schema.String),
  message: Schema.NullOr(Schema.String),
  message_id: Schema.NullOr(Schema.String),
  attempts: Integer,
  claimed_at: NullOrInteger,
  claimed_by: Schema.NullOr(Schema.String),
  lease_until: NullOrInteger,
  settled_at: NullOrInteger,
  first_seen_at: Integer,
  updated_at: Integer
})
export type V1Row = typeof V1Row.Type

/** Every v1 `recipients` row, before the upgrade. */
export const v1Rows = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql.unsafe("SELECT * FROM recipients ORDER BY campaign, user_id")
  return yield* Schema.decodeUnknown(Schema.Array(V1Row))(rows)
})
