/**
 * Dashboard: the time `comment-dm dashboard` takes to answer a campaign's page on a ledger of 1,000 people and on one
 * of 1,000,000 (quick: 20,000), in the same run, the ratio between them, and the first answer (which gathers the
 * figures). The ledgers are written straight into SQLite (states, reasons, paths, keywords and send times spread as a
 * campaign's are); the dashboard runs as the real command in its own process and is asked over HTTP. The query plans
 * of the run's page reads are checked on the large ledger: they must stay on their indexes. `comment-dm status --json`
 * is timed on both ledgers too (its counts are the database's aggregates, as the dashboard's are).
 */
import { CampaignSpec } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import { SqlClient, type Statement } from "@effect/sql"
import { Effect, Schema } from "effect"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import * as BenchError from "./BenchError.js"
import * as CommandRun from "./CommandRun.js"
import * as TempDir from "./internal/TempDir.js"
import * as Report from "./Report.js"
import * as Settings from "./Settings.js"
import * as Stats from "./Stats.js"

const campaign = "bench-dashboard"
const pageLimitMillis = 200
const requests = 20
/** Runs of `comment-dm status --json` per ledger (wall time of the whole command). */
const statusRuns = 3

const spec = {
  name: campaign,
  platform: "instagram",
  user: "studio",
  posts: ["17900000000000001"],
  match: { keywords: ["guide", "link", "price"] },
  message: ["Hi @{{username}}: https://example.com/g", "Here you go @{{username}}: https://example.com/g"]
}

/** Writes a ledger of `people` first messages of one campaign, in one statement (a recursive count). */
export const buildLedger = (file: string, people: number) =>
  Effect.gen(function*() {
    const encoded = yield* Schema.decodeUnknown(CampaignSpec.CampaignSpec)(spec).pipe(
      Effect.flatMap(Schema.encode(CampaignSpec.CampaignSpec))
    )
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const now = Date.now()
    const month = 30 * 86_400_000
    yield* sql`INSERT INTO comment_dm_campaigns (name, platform, profile_user, posts, created_at, updated_at)
      VALUES (${campaign}, 'instagram', 'studio', '[]', ${now}, ${now})`
    yield* sql`INSERT INTO comment_dm_campaign_versions (campaign, version, fingerprint, spec, created_at)
      VALUES (${campaign}, 1, 'f', ${JSON.stringify(encoded)}, ${now})`
    // i % 100: 60 sent (DM or private reply), 20 pending, 10 refused (3 reasons), 8 skipped, 2 in doubt.
    yield* sql`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${people}),
      p AS (SELECT i, i % 100 AS roll, ${now - month} + (i * ${month}) / ${people} AS seen,
        CASE WHEN i % 100 < 60 THEN 'sent' WHEN i % 100 < 80 THEN 'pending' WHEN i % 100 < 90 THEN 'refused'
          WHEN i % 100 < 98 THEN 'skipped' ELSE 'in_doubt' END AS state FROM n)
      INSERT INTO comment_dm_recipients (campaign, platform, user_id, step, path, username, post_id, comment_id,
        comment_text, comment_time, keyword, state, reason, settled_at, first_seen_at, updated_at)
      SELECT ${campaign}, 'instagram', CAST(17841400000000000 + i AS TEXT), 'first_message',
        CASE WHEN state = 'sent' THEN CASE WHEN i % 2 = 0 THEN 'dm' ELSE 'private_reply' END END,
        'person.' || i, '17900000000000001', CAST(17858893260000000 + i AS TEXT), 'guide', seen - 60000,
        CASE i % 3 WHEN 0 THEN 'guide' WHEN 1 THEN 'link' ELSE 'price' END, state,
        CASE state WHEN 'refused' THEN CASE i % 3 WHEN 0 THEN 'recipient unreachable'
            WHEN 1 THEN 'user has blocked messages' ELSE 'account restricted' END
          WHEN 'skipped' THEN 'window_closed' WHEN 'in_doubt' THEN 'claimed by bench ' || i END,
        CASE WHEN state IN ('sent', 'refused', 'skipped') THEN seen + 1000 END, seen, seen + 1000
      FROM p`
  }).pipe(Effect.provide(SqliteLedger.layerClient({ filename: file })))

/** The index each of the run's page reads uses, from SQLite's plan. */
const plans = (file: string) =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const plan = (statement: Statement.Statement<unknown>) =>
      Effect.map(
        sql`EXPLAIN QUERY PLAN ${statement}`,
        (rows) => rows.map((row) => String((row as { detail?: unknown }).detail)).join("; ")
      )
    return {
      "run's pending page": yield* plan(
        sql`SELECT * FROM comment_dm_recipients WHERE campaign = ${campaign} AND state = 'pending'
        AND step = 'first_message' AND (first_seen_at, platform, user_id, step) > (0, '', '', '')
        ORDER BY first_seen_at, platform, user_id, step LIMIT 500`
      ),
      "export page": yield* plan(
        sql`SELECT * FROM comment_dm_recipients WHERE campaign = ${campaign}
        ORDER BY first_seen_at, platform, user_id, step LIMIT 500`
      ),
      "people in doubt": yield* plan(
        sql`SELECT * FROM comment_dm_recipients WHERE campaign = ${campaign} AND state = 'in_doubt'
        ORDER BY first_seen_at, platform, user_id, step`
      ),
      "dashboard's change mark": yield* plan(
        sql`SELECT MAX(updated_at) AS changed FROM comment_dm_recipients WHERE campaign = ${campaign}`
      )
    } as Readonly<Record<string, string>>
  }).pipe(Effect.provide(SqliteLedger.layerClient({ filename: file })))

interface Served {
  readonly url: string
  /** When the process was started (performance.now()). */
  readonly spawnedAt: number
  readonly stop: () => void
}

/** The dashboard over `file`, as the real command in its own process. */
const serve = (file: string) =>
  Effect.acquireRelease(
    Effect.async<Served, BenchError.BenchError>((resume) => {
      const spawnedAt = performance.now()
      const child = spawn(process.execPath, [CommandRun.bin, "dashboard", "--db", file, "--http", "127.0.0.1:0"], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      const take = (chunk: string) => {
        output += chunk
        const url = /dashboard: (http:\/\/\S+\/)/.exec(output)?.[1]
        if (url !== undefined) resume(Effect.succeed({ url, spawnedAt, stop: () => child.kill("SIGTERM") }))
      }
      child.stdout.setEncoding("utf8").on("data", take)
      child.stderr.setEncoding("utf8").on("data", take)
      child.on("close", (code) =>
        resume(Effect.fail(new BenchError.BenchError({ benchmark: "dashboard", reason: `exited ${code}: ${output}` }))))
    }),
    (served) =>
      Effect.sync(served.stop)
  )

/** A GET's text; a failure says why (the fetch's cause). */
const getText = (url: string) =>
  Effect.tryPromise({
    try: () => fetch(url).then((response) => response.text()),
    catch: (error) =>
      new BenchError.BenchError({
        benchmark: "dashboard",
        reason: `GET ${url}: ${String(error)} ${String((error as { cause?: unknown }).cause ?? "")}`
      })
  })

const timedGet = (url: string) =>
  Effect.tryPromise(async () => {
    const started = performance.now()
    const response = await fetch(url)
    await response.text()
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`)
    return performance.now() - started
  })

/** One pending person (the 61st: i % 100 = 60) is sent now: the page's reached count goes up by one once regathered. */
const sendOne = (file: string) =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const now = Date.now()
    yield* sql`UPDATE comment_dm_recipients SET state = 'sent', path = 'dm', settled_at = ${now}, updated_at = ${now}
      WHERE campaign = ${campaign} AND user_id = '17841400000000060' AND state = 'pending'`
  }).pipe(Effect.provide(SqliteLedger.layerClient({ filename: file })))

/** The number a tile of the page shows. */
const tile = (text: string, key: string): string | undefined =>
  new RegExp(`data-key="${key}"><span class="label muted">[^<]*</span><span class="value">([\\d,]+)`).exec(text)?.[1]

interface Measured {
  readonly people: number
  /** Page times while the dashboard gathers the figures again after a write. */
  readonly duringGather: ReadonlyArray<number>
  /** How long after the write the page showed it. */
  readonly shownAfter: number
  readonly build: number
  readonly first: number
  readonly pages: ReadonlyArray<number>
  readonly live: ReadonlyArray<number>
  readonly plans: Readonly<Record<string, string>> | undefined
  /** Wall times of `comment-dm status --json`. */
  readonly status: ReadonlyArray<number>
}

/**
 * `comment-dm status --json` on the ledger, `statusRuns` times; it must count every person of the ledger, or its times
 * mean nothing.
 */
const timeStatus = (dir: string, file: string, people: number) =>
  Effect.gen(function*() {
    const campaignFile = CommandRun.writeCampaign(dir, "campaign.json", spec)
    const times: Array<number> = []
    for (let i = 0; i < statusRuns; i++) {
      const result = yield* CommandRun.run(["status", campaignFile, "--db", file, "--json"])
      const matched = (JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as { matched?: unknown }).matched
      if (result.code !== 0 || matched !== people) {
        return yield* new BenchError.BenchError({
          benchmark: "dashboard",
          reason: `status counted ${String(matched)} of ${people} people: ${CommandRun.failure(result)}`
        })
      }
      times.push(result.wallMillis)
    }
    return times
  }).pipe(
    Effect.catchTag("ProcessError", (error) =>
      Effect.fail(new BenchError.BenchError({ benchmark: "dashboard", reason: error.message })))
  )

const measure = (dir: string, people: number, withPlans: boolean) =>
  Effect.gen(function*() {
    const file = Path.join(dir, `ledger-${people}.sqlite`)
    const started = performance.now()
    yield* buildLedger(file, people)
    const build = performance.now() - started
    const queryPlans = withPlans ? yield* plans(file) : undefined
    const status = yield* timeStatus(dir, file, people)
    return yield* Effect.scoped(Effect.gen(function*() {
      const served = yield* serve(file)
      const page = `${served.url}campaign?name=${campaign}`
      yield* timedGet(page)
      const first = performance.now() - served.spawnedAt
      // The page counts every person of the ledger, or its times mean nothing.
      const text = yield* getText(page)
      const matched = tile(text, "matched")
      if (matched !== people.toLocaleString("en-US")) {
        return yield* new BenchError.BenchError({
          benchmark: "dashboard",
          reason: `the page shows ${matched} matching people of ${people}`
        })
      }
      const reached = Number(tile(text, "reached")?.replaceAll(",", ""))
      const pages: Array<number> = []
      const live: Array<number> = []
      for (let i = 0; i < requests; i++) {
        pages.push(yield* timedGet(page))
        live.push(yield* timedGet(`${served.url}campaign/live?name=${campaign}`))
      }
      // A send written to the ledger, then a page every 100 ms until one shows it (the dashboard gathered the
      // figures again meanwhile), and a second more: the pages answered while it gathered.
      yield* sendOne(file)
      const sentAt = performance.now()
      const duringGather: Array<number> = []
      const deadline = performance.now() + 15 * first + 5_000
      let shownAt: number | undefined
      while (shownAt === undefined || performance.now() < shownAt + 1_000) {
        const started = performance.now()
        const answer = yield* getText(page)
        duringGather.push(performance.now() - started)
        if (shownAt === undefined && tile(answer, "reached") === (reached + 1).toLocaleString("en-US")) {
          shownAt = performance.now()
        }
        if (performance.now() > deadline) {
          return yield* new BenchError.BenchError({ benchmark: "dashboard", reason: "the new send never showed" })
        }
        yield* Effect.sleep("100 millis")
      }
      return {
        people,
        build,
        first,
        pages,
        live,
        duringGather,
        shownAfter: (shownAt ?? 0) - sentAt,
        plans: queryPlans,
        status
      } satisfies Measured
    }))
  })

export const run = (mode: Settings.Mode) =>
  Effect.gen(function*() {
    const dir = yield* TempDir.make("dashboard")
    const large = Settings.pick(mode, { full: 1_000_000, quick: 20_000 })
    const small = yield* measure(dir, 1_000, false)
    const big = yield* measure(dir, large, true)
    const median = (m: Measured) => Stats.median(m.pages)
    const ratio = median(big) / median(small)
    const pendingPlan = big.plans?.["run's pending page"] ?? ""
    const onIndex = pendingPlan.includes("comment_dm_recipients_state_campaign")
    return {
      title: "Dashboard",
      settings: [
        `one campaign of ${Report.count(small.people)} and of ${Report.count(big.people)} people (60% sent, 20% ` +
        "pending, 10% refused by 3 reasons, 8% skipped, 2% in doubt; 3 keywords; sends over 30 days), SQLite",
        `\`comment-dm dashboard\` in its own process; ${requests} GETs of the campaign page and of its live JSON ` +
        "after the first",
        `\`comment-dm status --json\` ${statusRuns} times on each ledger before the dashboard starts (wall time of the ` +
        "command, start-up included)"
      ],
      figures: [
        {
          label: `campaign page, median, ${Report.count(big.people)} people`,
          value: Report.millis(median(big)),
          target: `under ${pageLimitMillis} ms`,
          met: median(big) < pageLimitMillis
        },
        {
          label: `campaign page, p95, ${Report.count(big.people)} people`,
          value: Report.millis(Stats.quantile(big.pages, 0.95))
        },
        { label: "campaign page, median, 1,000 people", value: Report.millis(median(small)) },
        { label: `page time ${Report.count(big.people)} / 1,000 people`, value: Report.ratio(ratio) },
        {
          label: `live JSON, median, ${Report.count(big.people)} / 1,000 people`,
          value: `${Report.millis(Stats.median(big.live))} / ${Report.millis(Stats.median(small.live))}`
        },
        {
          label: `first answer, from the process's start, ${Report.count(big.people)} / 1,000 people`,
          value: `${Report.millis(big.first)} / ${Report.millis(small.first)}`
        },
        {
          label: `campaign page while the figures are gathered again after a write, p95 / max, ${
            Report.count(big.people)
          } people`,
          value: `${Report.millis(Stats.quantile(big.duringGather, 0.95))} / ${
            Report.millis(Math.max(...big.duringGather))
          }`,
          target: `max under ${pageLimitMillis} ms`,
          met: Math.max(...big.duringGather) < pageLimitMillis
        },
        {
          label: `a write shows on the page after, ${Report.count(big.people)} / 1,000 people`,
          value: `${Report.millis(big.shownAfter)} / ${Report.millis(small.shownAfter)}`
        },
        {
          label: "campaign page while the figures are gathered again, p95 / max, 1,000 people",
          value: `${Report.millis(Stats.quantile(small.duringGather, 0.95))} / ${
            Report.millis(Math.max(...small.duringGather))
          }`
        },
        {
          label: `\`status --json\`, median of ${statusRuns}, ${Report.count(big.people)} / 1,000 people`,
          value: `${Report.millis(Stats.median(big.status))} / ${Report.millis(Stats.median(small.status))} (${
            Report.ratio(Stats.median(big.status) / Stats.median(small.status))
          })`
        },
        {
          label: "the run's pending page stays on its index",
          value: onIndex ? "yes" : "no",
          target: "comment_dm_recipients_state_campaign",
          met: onIndex
        }
      ],
      notes: [
        "A page answers from the figures the dashboard gathered last; it gathers them again (the report's aggregate " +
        "queries) only when the campaign's newest write changed, looked up on the (campaign, updated_at) index. The " +
        "first answer waits for the first gathering, which runs as `comment-dm report --json` in a process of its own " +
        "(SQLite's driver would hold up the thread that serves the pages for seconds on a million people), no sooner " +
        "than the last gathering took after it: the figure \"while the figures are gathered again\" shows what a page " +
        "waits then, and \"a write shows on the page after\" how soon a send appears.",
        `Query plans on the ${Report.count(big.people)}-people ledger:`,
        "",
        ...Object.entries(big.plans ?? {}).map(([query, plan]) => `- ${query}: \`${plan}\``)
      ]
    } satisfies Report.SectionBody
  }).pipe(BenchError.within("dashboard"))
