/**
 * A ledger of schema v1, upgraded by the real `comment-dm` command and resumed: the committed v1 fixture (one campaign
 * with people in every v1 state: sent, refused, pending, in doubt, claimed by a runner that died, and one the database
 * refused to record) as a SQLite file, and as rows on a fresh PostgreSQL database. The sandbox serves the same post and
 * comments; its deliveries are the ground truth of what was sent.
 */
import type { DataSet, Sandbox } from "@comment-dm/sandbox"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, type TestContext } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import type { CliResult } from "./support/cli.js"
import { jsonSummary } from "./support/cli.js"
import { deliveriesPerRecipient } from "./support/e2e-ledger.js"
import { serverForBlock } from "./support/e2e-postgres.js"
import * as Slots from "./support/e2e-slots.js"
import * as Studio from "./support/e2e-studio.js"
import { findPostgres } from "./support/postgres.js"
import { control } from "./support/sandbox.js"
import { applyV1, v1SqliteFile } from "./support/v1-ledger.js"

const slots = Slots.make(1)
const post = "17900000000000001"
const message = (username: string) => `Hi @${username}, here is your guide: https://example.com/g`

/** The fixture's people (see packages/core/test/fixtures/v1-ledger/make.ts), each with the comment v1 recorded. */
const names = ["anna", "ben", "carl", "dora", "emil", "fay", "gus", "hal", "ivy"] as const
const id = (name: string) => `v1-${name}`

const data: DataSet.Listed = {
  _tag: "Listed",
  profile: "demo",
  posts: [{
    id: post,
    platform: "instagram",
    caption: "Comment GUIDE for the guide",
    timestamp: "2026-11-20T08:00:00+0000",
    comments: names.map((name, i) => ({
      id: `1800000000000000${i + 1}`,
      text: "GUIDE please",
      timestamp: `2026-11-20T09:5${i}:00+0000`,
      user: { id: id(name), username: name }
    })).reverse()
  }]
}

const campaignFile = {
  name: "spring-guide",
  platform: "instagram",
  user: "demo",
  posts: [post],
  match: { keywords: ["guide"] },
  message: "Hi @{{username}}, here is your guide: https://example.com/g",
  delivery: "dm",
  pace: { per_hour: 360000, concurrency: 4 }
}

// Open windows: these tests expect every matching commenter to be reachable by DM, refused people aside.
const studio = (context: TestContext, options: Sandbox.SandboxOptions = {}) =>
  Studio.make(context, slots, { data, seed: 1, windows: "open", ...options })

const exitOf = (result: CliResult) => `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

/**
 * Runs the campaign on the upgraded ledger at `db` and checks what was sent and what `status` says. Fay's DM went out
 * in v1 though its answer was lost: the sandbox holds it, so reconciliation finds it.
 */
const resume = async (s: Studio.Studio, db: string) => {
  const fay = await fetch(`${s.sandbox.baseUrl}/uploadposts/dms/send`, {
    method: "POST",
    headers: { authorization: `Apikey ${s.sandbox.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ platform: "instagram", user: "demo", recipient_id: id("fay"), message: message("fay") })
  })
  assert.strictEqual(fay.status, 200)
  const campaign = s.file(campaignFile)

  const run = await s.cli(["run", campaign, "--db", db, "--json"])
  // Gus and Hal stay in doubt: no conversation shows what became of their DM, so they are not sent again.
  assert.strictEqual(run.code, 5, exitOf(run))
  const sent = deliveriesPerRecipient(await control(s.sandbox.handle.deliveries))
  assert.deepStrictEqual(
    [...sent].sort(),
    [[id("dora"), 1], [id("emil"), 1], [id("fay"), 1], [id("ivy"), 1]],
    "the pending and the unrecorded are sent; nobody sent, refused or in doubt is sent again"
  )
  assert.deepInclude(jsonSummary(run).counts, { matched: 9, sent: 3, already_sent: 3, refused: 1, in_doubt: 2 })

  const again = await s.cli(["run", campaign, "--db", db, "--json"])
  assert.strictEqual(again.code, 5, exitOf(again))
  assert.strictEqual(jsonSummary(again).counts["sent"], 0)

  const status = await s.cli(["status", campaign, "--db", db, "--json"])
  assert.strictEqual(status.code, 0, exitOf(status))
  const report = JSON.parse(status.stdout.trim().split("\n").at(-1) ?? "")
  assert.strictEqual(report.matched, 9)
  assert.strictEqual(report.unaccounted, 0)
  assert.deepStrictEqual(report.counts, { pending: 0, claimed: 0, sent: 6, refused: 1, in_doubt: 2 })
  assert.sameMembers(report.in_doubt.map((person: { user_id: string }) => person.user_id), [id("gus"), id("hal")])

  const exported = await s.cli(["export", campaign, "--db", db, "--format", "jsonl"])
  assert.strictEqual(exported.code, 0, exitOf(exported))
  const rows = exported.stdout.trim().split("\n").map((line) => JSON.parse(line))
  // v1 did not record whether a message went as a DM or a private reply: the people it settled keep that unknown;
  // those this run claimed carry the path it used.
  assert.sameMembers(rows.map((row) => `${row.user_id}:${row.state}:${row.step}:${row.path}`), [
    "v1-anna:sent:first_message:null",
    "v1-ben:sent:first_message:null",
    "v1-carl:refused:first_message:null",
    "v1-dora:sent:first_message:dm",
    "v1-emil:sent:first_message:dm",
    "v1-fay:sent:first_message:null",
    "v1-gus:in_doubt:first_message:null",
    "v1-hal:in_doubt:first_message:null",
    "v1-ivy:sent:first_message:dm"
  ])
  // Anna's and Ben's v1 message ids are kept: they were not sent again.
  assert.strictEqual(rows.find((row) => row.user_id === id("anna")).message_id, "mid.v1-anna")
}

describe("a schema v1 ledger, upgraded and resumed", () => {
  it.live("on the committed SQLite file", (context) =>
    Effect.promise(async () => {
      const s = await studio(context)
      Fs.copyFileSync(v1SqliteFile, s.db)
      await resume(s, s.db)
    }), { timeout: 120_000 })
})

const postgres = findPostgres()

describe.skipIf(postgres.install === undefined)("a schema v1 ledger on PostgreSQL, upgraded and resumed", () => {
  const serverUrl = serverForBlock()

  /** A fresh database with the v1 tables and the fixture's rows in them. */
  const v1Database = async (): Promise<string> => {
    const url = new URL(serverUrl())
    const name = `upgrade_${Crypto.randomBytes(6).toString("hex")}`
    await Effect.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (admin) => admin.unsafe(`CREATE DATABASE ${name}`)).pipe(
        Effect.provide(PgClient.layer({ url: Redacted.make(url.toString()) }))
      )
    )
    url.pathname = `/${name}`
    await Effect.runPromise(applyV1.pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url.toString()) }))))
    return url.toString()
  }

  it.live("on the fixture's rows", (context) =>
    Effect.promise(async () => {
      const s = await studio(context)
      await resume(s, await v1Database())
    }), { timeout: 120_000 })
})
