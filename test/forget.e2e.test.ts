/**
 * `comment-dm forget` and `comment-dm prune`, the real command on a real SQLite ledger file against the sandbox: the
 * forgotten person's bytes are gone from the database's files (read raw, with the WAL file), the counts still add up,
 * and a later run that meets the person's comment again neither records nor messages them.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import { jsonSummary } from "./support/cli.js"
import { commentsNow, exitOf, recipients, withStudio } from "./support/consent-data.js"
import { byUser, ledgerEntries } from "./support/e2e-ledger.js"

const anna = {
  id: "17841499999990001",
  username: "zq_forget_anna",
  text: "guide please, xyzzy-anna-comment"
}
const li = { id: "17841499999990002", username: "li_stays", text: "GUIDE for li-keeps-this" }

/** What the campaign sent Anna: the template with her username and comment. */
const annaMessage = `Hi @${anna.username}, here is your guide: https://example.com/g (${anna.text})`

/** The database file and its WAL file, as bytes (the -shm file holds page numbers only). */
const rawBytes = (db: string): Buffer =>
  Buffer.concat([db, `${db}-wal`].filter((path) => Fs.existsSync(path)).map((path) => Fs.readFileSync(path)))

const holds = (bytes: Buffer, text: string): boolean =>
  bytes.includes(Buffer.from(text, "utf8")) || bytes.includes(Buffer.from(text, "utf16le"))

const forgottenBytes = [anna.id, anna.username, anna.text, annaMessage, "xyzzy-anna"]

const execute = (filename: string, statement: string) =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
      Effect.provide(SqliteClient.layer({ filename })),
      Effect.orDie
    )
  )

describe("comment-dm forget", () => {
  it(
    "by id: none of the person's bytes stay in the ledger's files, status still adds up, and a later run that " +
      "matches them again neither records nor messages them",
    withStudio([anna, li], async (studio) => {
      const file = studio.write()
      const first = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.strictEqual(first.code, 0, exitOf(first))
      assert.deepStrictEqual(await recipients(studio), [anna.id, li.id].sort())
      // The check can fail: before forgetting, every one of these is in the files.
      const before = rawBytes(studio.db)
      for (const text of forgottenBytes) assert.isTrue(holds(before, text), `before forget: ${text}`)

      const forgot = await studio.cli(["forget", anna.id, "--db", studio.db, "--json"])
      assert.strictEqual(forgot.code, 0, exitOf(forgot))
      const answer = JSON.parse(forgot.stdout.trim())
      assert.strictEqual(answer.rows, 1)
      assert.isTrue(answer.scrubbed)

      const after = rawBytes(studio.db)
      for (const text of forgottenBytes) assert.isFalse(holds(after, text), `after forget: ${text} is still there`)
      assert.isTrue(holds(after, li.username) && holds(after, li.text), "the others are kept")
      assert.isFalse(Fs.existsSync(`${studio.db}-wal`) && Fs.statSync(`${studio.db}-wal`).size > 0, "WAL emptied")

      const status = await studio.cli(["status", file, "--db", studio.db, "--json"])
      assert.strictEqual(status.code, 0, exitOf(status))
      const report = JSON.parse(status.stdout)
      assert.strictEqual(report.matched, 2)
      assert.strictEqual(report.unaccounted, 0)
      assert.strictEqual(report.counts.sent, 2)

      // Anna comments again: a run meets her, drops her, and messages nobody.
      await commentsNow(studio, "c-901-again", anna, "guide again please")
      const again = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.strictEqual(again.code, 0, exitOf(again))
      const summary = JSON.parse(again.stdout.trim().split("\n").at(-1)!)
      assert.strictEqual(summary.counts.sent, 0)
      assert.strictEqual(summary.dropped["a forgotten person (comment-dm forget)"], 1)
      assert.deepStrictEqual(await recipients(studio), [anna.id, li.id].sort(), "nobody messaged again")
      const rows = byUser(await ledgerEntries(studio.db, "consent-data"))
      assert.isFalse(rows.has(anna.id), "not recorded again")
      for (const text of [anna.id, anna.username]) assert.isFalse(holds(rawBytes(studio.db), text), text)
    }),
    120_000
  )

  it(
    "a person waiting to be messaged is stopped (suppressed), never sent, even by a campaign of another folder",
    withStudio([anna, li], async (studio) => {
      const file = studio.write()
      const held = await studio.cli(["run", file, "--db", studio.db, "--max-sends", "0", "--json"])
      assert.strictEqual(held.code, 5, exitOf(held))
      const forgot = await studio.cli(["forget", anna.id, "--db", studio.db])
      assert.strictEqual(forgot.code, 0, exitOf(forgot))
      assert.include(forgot.stdout, "1 waiting now suppressed")
      const run = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.strictEqual(run.code, 0, exitOf(run))
      assert.strictEqual(jsonSummary(run).counts.suppressed, 1)
      assert.deepStrictEqual(await recipients(studio), [li.id])
    }),
    120_000
  )

  it(
    "another process reading the ledger keeps the files from being rewritten: it says so (exit 1), and the same " +
      "forget run again later finishes the job",
    withStudio([anna, li], async (studio) => {
      const file = studio.write()
      const first = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.strictEqual(first.code, 0, exitOf(first))
      // A reader holding a snapshot of the ledger while forget runs.
      const held = await Effect.runPromise(
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql.withTransaction(
            Effect.zipRight(
              sql`SELECT COUNT(*) AS n FROM comment_dm_recipients`,
              Effect.promise(() => studio.cli(["forget", anna.id, "--db", studio.db]))
            )
          )).pipe(Effect.provide(SqliteClient.layer({ filename: studio.db })), Effect.orDie)
      )
      assert.strictEqual(held.code, 1, exitOf(held))
      assert.include(held.stderr, "the ledger's files could not be rewritten")
      assert.include(held.stderr, "run the same forget again when no runner uses the ledger")
      assert.include(held.stdout, `forgot user ${anna.id}`)

      const again = await studio.cli(["forget", anna.id, "--db", studio.db, "--json"])
      assert.strictEqual(again.code, 0, exitOf(again))
      const after = rawBytes(studio.db)
      for (const text of forgottenBytes) assert.isFalse(holds(after, text), `after the second forget: ${text}`)
    }),
    120_000
  )

  it(
    "settles a person in doubt first: unconfirmed, their texts gone, never sent again, nothing left to reconcile",
    withStudio([anna, li], async (studio) => {
      const file = studio.write()
      await studio.cli(["run", file, "--db", studio.db, "--max-sends", "0"])
      await execute(studio.db, `UPDATE comment_dm_recipients SET state = 'in_doubt' WHERE user_id = '${anna.id}'`)
      const forgot = await studio.cli(["forget", anna.id, "--db", studio.db, "--json"])
      assert.strictEqual(forgot.code, 0, exitOf(forgot))
      assert.deepInclude(JSON.parse(forgot.stdout.trim()), { rows: 1, settled: 1, stopped: 0 })
      const rows = await ledgerEntries(studio.db, "consent-data")
      assert.isFalse(byUser(rows).has(anna.id))
      const settled = rows.find((row) => row.userId.startsWith("forgotten:"))
      assert.deepStrictEqual([settled?.state, settled?.message, settled?.username], [
        "unconfirmed",
        undefined,
        undefined
      ])
      for (const text of forgottenBytes) assert.isFalse(holds(rawBytes(studio.db), text), text)

      const run = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.strictEqual(run.code, 0, exitOf(run))
      assert.deepStrictEqual(await recipients(studio), [li.id], "Anna is never sent")
      const reconcile = await studio.cli(["reconcile", file, "--db", studio.db])
      assert.strictEqual(reconcile.code, 0, exitOf(reconcile))
      assert.include(reconcile.stdout, "0 still in doubt")
    }),
    120_000
  )

  it(
    "by username: matches only the ledger's rows, asks for confirmation, refuses without a terminal or --yes",
    withStudio([anna, li], async (studio) => {
      const file = studio.write()
      const run = await studio.cli(["run", file, "--db", studio.db, "--json"])
      assert.strictEqual(run.code, 0, exitOf(run))

      const unconfirmed = await studio.cli(["forget", "@li_stays", "--db", studio.db])
      assert.strictEqual(unconfirmed.code, 2, exitOf(unconfirmed))
      assert.include(unconfirmed.stderr, "needs confirmation")
      assert.include(unconfirmed.stderr, `user ${li.id}`, "the id it would forget is shown")
      assert.isTrue(byUser(await ledgerEntries(studio.db, "consent-data")).has(li.id), "nothing forgotten")

      const nobody = await studio.cli(["forget", "@someone_else", "--db", studio.db, "--yes"])
      assert.strictEqual(nobody.code, 2, exitOf(nobody))
      assert.include(nobody.stderr, "no row of the ledger names @someone_else")

      for (const bad of ["", "   ", "@", "li\u001b[2J"]) {
        const result = await studio.cli(["forget", bad, "--db", studio.db, "--yes"])
        assert.strictEqual(result.code, 2, `${JSON.stringify(bad)}: ${exitOf(result)}`)
        assert.notInclude(result.stderr, "\u001b")
      }

      const confirmed = await studio.cli(["forget", "@LI_Stays", "--db", studio.db, "--yes", "--json"])
      assert.strictEqual(confirmed.code, 0, exitOf(confirmed))
      assert.deepStrictEqual(JSON.parse(confirmed.stdout.trim()).forgotten, [li.id])
      assert.isFalse(holds(rawBytes(studio.db), li.username))
      assert.isTrue(holds(rawBytes(studio.db), anna.username), "Anna is kept")
    }),
    120_000
  )

  it(
    "--help says what forget and prune do",
    withStudio([anna, li], async (studio) => {
      for (const command of ["forget", "prune"]) {
        const help = await studio.cli([command, "--help"])
        assert.strictEqual(help.code, 0, exitOf(help))
        assert.include(help.stdout, "--json")
        assert.include(help.stdout, "--db")
      }
    }),
    60_000
  )
})

describe("comment-dm prune", () => {
  it(
    "drops the texts and usernames of people settled before the retention period, keeps the others and the counts",
    withStudio([anna, li], async (studio) => {
      const file = studio.write()
      const held = await studio.cli(["run", file, "--db", studio.db, "--max-sends", "1", "--json"])
      assert.strictEqual(held.code, 5, exitOf(held))
      const settled = [...(await ledgerEntries(studio.db, "consent-data"))].find((entry) => entry.state === "sent")!
      const pending = [...(await ledgerEntries(studio.db, "consent-data"))].find((entry) => entry.state === "pending")!
      // The sent person was settled 100 days ago.
      await execute(
        studio.db,
        `UPDATE comment_dm_recipients SET settled_at = ${Date.now() - 100 * 86_400_000} WHERE state = 'sent'`
      )
      const bad = await studio.cli(["prune", "--older-than", "90", "--db", studio.db])
      assert.strictEqual(bad.code, 2, exitOf(bad))

      const pruned = await studio.cli(["prune", "--older-than", "90d", "--db", studio.db, "--json"])
      assert.strictEqual(pruned.code, 0, exitOf(pruned))
      assert.strictEqual(JSON.parse(pruned.stdout.trim()).rows, 1)
      const rows = byUser(await ledgerEntries(studio.db, "consent-data"))
      const kept = rows.get(settled.userId)!
      assert.strictEqual(kept.state, "sent")
      assert.isUndefined(kept.username)
      assert.isUndefined(kept.commentText)
      assert.isUndefined(kept.message)
      assert.strictEqual(rows.get(pending.userId)?.commentText, pending.commentText, "pending people keep theirs")
      assert.isFalse(holds(rawBytes(studio.db), settled.commentText!))

      const status = await studio.cli(["status", file, "--db", studio.db, "--json"])
      assert.strictEqual(JSON.parse(status.stdout).unaccounted, 0, exitOf(status))
    }),
    120_000
  )
})
