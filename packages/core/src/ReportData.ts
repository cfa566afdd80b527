/**
 * What the campaign report (and later the dashboard) shows, read from the ledger's tables over `@effect/sql`: counts
 * grouped in the database, never the rows of a campaign held in memory, so that a ledger of a million people answers
 * with a few dozen rows. Read-only, in SQL that runs on SQLite and PostgreSQL alike.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { EpochMillis, Integer } from "./internal/ledgerRow.js"
import { DeliveryState, LedgerError, MessagePath, StepKind } from "./Ledger.js"
import { pickIndex } from "./Template.js"

/** People of one step in one state, by the first message's path and, where the state has one, by reason. */
export interface Outcome {
  readonly step: StepKind
  readonly state: DeliveryState
  readonly path: MessagePath | undefined
  /** Grouped only for the states whose reasons are few (see {@link reasonStates}); undefined for the others. */
  readonly reason: string | undefined
  readonly count: number
  /** The earliest first sighting of its people (epoch millis): `status` lists groups of equal count in that order. */
  readonly firstSeenAt: number
}

/**
 * The states whose reason names a kind of outcome (the platform's refusal, a skip, why a send is postponed). The
 * reason of a person in doubt or claimed names the runner and the time, one per person: those are not grouped.
 */
export const reasonStates: ReadonlyArray<DeliveryState> = [
  "refused",
  "skipped",
  "expired",
  "pending",
  "suppressed",
  "unconfirmed"
]

const OutcomeRow = Schema.Struct({
  step: StepKind,
  state: DeliveryState,
  path: Schema.NullOr(MessagePath),
  reason: Schema.NullOr(Schema.String),
  n: Integer,
  first_seen_at: Integer
})

const failWith = (operation: string) =>
  Effect.mapError((cause: SqlError | ParseResult.ParseError) => new LedgerError({ operation, cause }))

const sqlClient = Effect.map(SqlClient.SqlClient, (sql) => sql.withoutTransforms())

/**
 * Every step's people by state, path and reason: what the funnel and the outcome tables are drawn from. Grouped by
 * the columns' places: PostgreSQL would not take an expression with parameters as the one selected.
 */
export const outcomes = (campaign: string): Effect.Effect<ReadonlyArray<Outcome>, LedgerError, SqlClient.SqlClient> =>
  Effect.flatMap(
    sqlClient,
    (sql) =>
      sql`SELECT step, state, path, CASE WHEN state IN ${sql.in(reasonStates)} THEN reason END AS reason, COUNT(*) AS n,
        MIN(first_seen_at) AS first_seen_at
      FROM comment_dm_recipients
      WHERE state IN ${sql.in(DeliveryState.literals)} AND campaign = ${campaign}
      GROUP BY 1, 2, 3, 4`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(OutcomeRow))),
        Effect.map((rows) =>
          rows.map((row): Outcome => ({
            step: row.step,
            state: row.state,
            path: row.path ?? undefined,
            reason: row.reason ?? undefined,
            count: row.n,
            firstSeenAt: row.first_seen_at
          }))
        ),
        failWith(`count the people of campaign ${campaign} by step, state and reason`)
      )
  )

const CountRow = Schema.Struct({ n: Integer })

/** How many matching people the database refused to record and has not recorded since (as `Ledger.unrecorded`). */
export const unrecordedCount = (campaign: string): Effect.Effect<number, LedgerError, SqlClient.SqlClient> =>
  Effect.flatMap(
    sqlClient,
    (sql) =>
      sql`SELECT COUNT(*) AS n FROM comment_dm_unrecorded u WHERE u.campaign = ${campaign}
      AND NOT EXISTS (SELECT 1 FROM comment_dm_recipients r
        WHERE r.campaign = u.campaign AND r.platform = u.platform AND r.user_id = u.user_id)`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(CountRow))),
        Effect.map((rows) => rows[0]?.n ?? 0),
        failWith(`count the people campaign ${campaign} could not record`)
      )
  )

const CommentsReadRow = Schema.Struct({
  posts: Integer,
  comments: Schema.NullOr(Integer),
  uncounted: Schema.NullOr(Integer)
})

/**
 * How many comments the campaign has read, over the read marks of its posts (each counts the comments of every read
 * of its post); undefined before a post was read to its end, or when a mark was written before it was counted.
 */
export const commentsRead = (campaign: string): Effect.Effect<number | undefined, LedgerError, SqlClient.SqlClient> =>
  Effect.flatMap(sqlClient, (sql) =>
    sql`SELECT COUNT(*) AS posts, SUM(comments) AS comments,
        SUM(CASE WHEN comments IS NULL THEN 1 ELSE 0 END) AS uncounted
      FROM comment_dm_post_reads WHERE campaign = ${campaign}`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(CommentsReadRow))),
      Effect.map(([row]) =>
        row === undefined || row.posts === 0 || (row.uncounted ?? 0) > 0 ? undefined : row.comments ?? 0
      ),
      failWith(`count the comments campaign ${campaign} has read`)
    ))

/** Sends in one hour or day, by step (and, for the first message, by path). */
export interface SendBucket {
  readonly start: Date
  readonly counts: ReadonlyArray<
    { readonly step: StepKind; readonly path: MessagePath | undefined; readonly count: number }
  >
}

export interface SendsOverTime {
  /** Hours when the sends span up to {@link hourlyUpTo}, else days (UTC). */
  readonly unit: "hour" | "day"
  /** Every hour or day from the first send's to the last's, those without sends too. */
  readonly buckets: ReadonlyArray<SendBucket>
}

/** Sends spread over up to this long are counted by the hour; longer, by the day. */
export const hourlyUpTo = Duration.hours(48)

const SpanRow = Schema.Struct({ first: Schema.NullOr(Integer), last: Schema.NullOr(Integer) })
const BucketRow = Schema.Struct({ bucket: Integer, step: StepKind, path: Schema.NullOr(MessagePath), n: Integer })

/** The sent people of every step by the hour or day their send was accepted (`settled_at`). */
export const sendsOverTime = (
  campaign: string
): Effect.Effect<SendsOverTime, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* sqlClient
    const sent = sql`campaign = ${campaign} AND state = 'sent' AND settled_at IS NOT NULL`
    const [span] = yield* sql`SELECT MIN(settled_at) AS first, MAX(settled_at) AS last FROM comment_dm_recipients
      WHERE ${sent}`.pipe(Effect.flatMap(Schema.decodeUnknown(Schema.Array(SpanRow))))
    if (span === undefined || span.first === null || span.last === null) return { unit: "hour" as const, buckets: [] }
    const unit: SendsOverTime["unit"] = span.last - span.first <= Duration.toMillis(hourlyUpTo) ? "hour" : "day"
    const size = unit === "hour" ? 3_600_000 : 86_400_000
    const origin = Math.floor(span.first / size) * size
    const rows = yield* sql`SELECT CAST((settled_at - ${origin}) / ${size} AS BIGINT) AS bucket, step, path,
        COUNT(*) AS n
      FROM comment_dm_recipients WHERE ${sent}
      GROUP BY 1, 2, 3`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(BucketRow)))
    )
    const count = Math.floor((span.last - origin) / size) + 1
    const buckets = Array.from({ length: count }, (_, index) => ({
      start: new Date(origin + index * size),
      counts: [] as Array<SendBucket["counts"][number]>
    }))
    for (const row of rows) {
      buckets[row.bucket]?.counts.push({ step: row.step, path: row.path ?? undefined, count: row.n })
    }
    return { unit, buckets }
  }).pipe(failWith(`count the sends of campaign ${campaign} over time`))

/** A pending person whom a private reply would reach, close to the 7-day deadline of their comment. */
export interface AtRisk {
  readonly userId: string
  readonly username: string | undefined
  readonly commentText: string | undefined
  readonly commentTime: Date
  readonly deadline: Date
}

export interface PrivateRepliesAtRisk {
  /** Pending people whose comment is older than `after` and still within the deadline. */
  readonly count: number
  /** The first of them by deadline, at most `limit`. */
  readonly people: ReadonlyArray<AtRisk>
  /** Pending people whose comment is already past the deadline: no private reply reaches them any more. */
  readonly pastDeadline: number
}

export interface AtRiskOptions {
  readonly now: Date
  /** The private-reply deadline after the comment (7 days on Instagram). */
  readonly window: Duration.DurationInput
  /** A comment older than this is at risk. */
  readonly after: Duration.DurationInput
  readonly limit: number
}

const AtRiskRow = Schema.Struct({
  user_id: Schema.String,
  username: Schema.NullOr(Schema.String),
  comment_text: Schema.NullOr(Schema.String),
  comment_time: EpochMillis
})
const RiskCountRow = Schema.Struct({ at_risk: Schema.NullOr(Integer), past: Schema.NullOr(Integer) })

/**
 * The pending first messages that a private reply would carry (none recorded yet, or a private reply), whose comment
 * is older than `after`: the deadline comes before the campaign may get to them.
 */
export const privateRepliesAtRisk = (
  campaign: string,
  options: AtRiskOptions
): Effect.Effect<PrivateRepliesAtRisk, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* sqlClient
    const now = options.now.getTime()
    const window = Duration.toMillis(options.window)
    const deadlineAfter = now - window
    const riskFrom = now - Duration.toMillis(options.after)
    const pending = sql`campaign = ${campaign} AND state = 'pending' AND step = 'first_message'
      AND (path IS NULL OR path = 'private_reply') AND comment_time IS NOT NULL`
    const [counted] = yield* sql`SELECT
        SUM(CASE WHEN comment_time > ${deadlineAfter} AND comment_time <= ${riskFrom} THEN 1 ELSE 0 END) AS at_risk,
        SUM(CASE WHEN comment_time <= ${deadlineAfter} THEN 1 ELSE 0 END) AS past
      FROM comment_dm_recipients WHERE ${pending}`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(RiskCountRow)))
    )
    const people = yield* sql`SELECT user_id, username, comment_text, comment_time FROM comment_dm_recipients
      WHERE ${pending} AND comment_time > ${deadlineAfter} AND comment_time <= ${riskFrom}
      ORDER BY comment_time, user_id LIMIT ${options.limit}`.pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(AtRiskRow)))
    )
    return {
      count: counted?.at_risk ?? 0,
      pastDeadline: counted?.past ?? 0,
      people: people.map((row) => ({
        userId: row.user_id,
        username: row.username ?? undefined,
        commentText: row.comment_text ?? undefined,
        commentTime: row.comment_time,
        deadline: new Date(row.comment_time.getTime() + window)
      }))
    }
  }).pipe(failWith(`find the private replies of campaign ${campaign} close to their deadline`))

/** The matching people of a keyword (their first message's), and how many of them were reached. */
export interface KeywordCount {
  /** Undefined when the campaign matches every commenter (no keyword). */
  readonly keyword: string | undefined
  readonly matched: number
  readonly sent: number
}

const KeywordRow = Schema.Struct({ keyword: Schema.NullOr(Schema.String), n: Integer, sent: Schema.NullOr(Integer) })

/** The keywords that matched, most people first. */
export const keywords = (
  campaign: string
): Effect.Effect<ReadonlyArray<KeywordCount>, LedgerError, SqlClient.SqlClient> =>
  Effect.flatMap(
    sqlClient,
    (sql) =>
      sql`SELECT keyword, COUNT(*) AS n, SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) AS sent
      FROM comment_dm_recipients WHERE campaign = ${campaign} AND step = 'first_message'
      GROUP BY keyword ORDER BY COUNT(*) DESC, keyword`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(KeywordRow))),
        Effect.map((rows) =>
          rows.map((row): KeywordCount => ({ keyword: row.keyword ?? undefined, matched: row.n, sent: row.sent ?? 0 }))
        ),
        failWith(`count the keywords that matched in campaign ${campaign}`)
      )
  )

/** The sent people of a step who got one variant. */
export interface VariantCount<A> {
  readonly variant: A
  readonly sent: number
}

const SentRow = Schema.Struct({ first_seen_at: Integer, platform: Schema.String, user_id: Schema.String })

/** Ids read per statement by {@link variantSplit}. */
const idPage = 5_000

/**
 * The split between a step's message variants among its sent people: each person gets the variant `Template.pick`
 * gives them, so the split is counted from their ids, read page by page from the (state, campaign, step) index, not
 * from the texts. Variants are the campaign file's as it is now.
 */
export const variantSplit = <A>(
  campaign: string,
  step: StepKind,
  variants: NonEmptyReadonlyArray<A>
): Effect.Effect<ReadonlyArray<VariantCount<A>>, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* sqlClient
    const sent = variants.map(() => 0)
    let after: typeof SentRow.Type | undefined
    for (;;) {
      const cursor = after === undefined
        ? sql`1 = 1`
        : sql`(first_seen_at, platform, user_id) > (${after.first_seen_at}, ${after.platform}, ${after.user_id})`
      const rows = yield* sql`SELECT first_seen_at, platform, user_id FROM comment_dm_recipients
        WHERE state = 'sent' AND campaign = ${campaign} AND step = ${step} AND ${cursor}
        ORDER BY first_seen_at, platform, user_id LIMIT ${idPage}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(SentRow)))
      )
      for (const row of rows) sent[pickIndex(variants.length, campaign, row.user_id)]!++
      after = rows[rows.length - 1]
      if (rows.length < idPage || after === undefined) break
    }
    return variants.map((variant, index) => ({ variant, sent: sent[index]! }))
  }).pipe(failWith(`count the message variants of campaign ${campaign}`))

/** A campaign of the ledger, with the campaign file of its latest recorded version (JSON, as encoded). */
export interface LedgerCampaign {
  readonly name: string
  readonly platform: string
  readonly profile: string
  /** Undefined for a campaign last run by a version of comment-dm that did not record its file. */
  readonly spec: unknown
}

const CampaignRow = Schema.Struct({
  name: Schema.String,
  platform: Schema.String,
  profile_user: Schema.String,
  spec: Schema.NullOr(Schema.String)
})

/** Every campaign of the ledger, by name. */
export const campaigns: Effect.Effect<ReadonlyArray<LedgerCampaign>, LedgerError, SqlClient.SqlClient> = Effect
  .flatMap(
    sqlClient,
    (sql) =>
      sql`SELECT c.name, c.platform, c.profile_user, v.spec FROM comment_dm_campaigns c
      LEFT JOIN comment_dm_campaign_versions v ON v.campaign = c.name
        AND v.version = (SELECT MAX(version) FROM comment_dm_campaign_versions w WHERE w.campaign = c.name)
      ORDER BY c.name`
  ).pipe(
    Effect.flatMap(Schema.decodeUnknown(Schema.Array(CampaignRow))),
    Effect.map((rows) =>
      rows.map((row): LedgerCampaign => ({
        name: row.name,
        platform: row.platform,
        profile: row.profile_user,
        spec: row.spec === null ? undefined : JSON.parse(row.spec)
      }))
    ),
    failWith("list the campaigns of the ledger")
  )

const ChangeRow = Schema.Struct({ changed: Schema.NullOr(Integer), people: Integer })

/**
 * A mark that changes whenever a person of the campaign is written, a post read or a person left unrecorded: the
 * newest write is read from the (campaign, updated_at) index in a few steps, so that a page kept live recomputes its
 * figures only then. (Rows deleted by `forget` without another write go unnoticed until the next write.)
 */
export const lastChange = (campaign: string): Effect.Effect<string, LedgerError, SqlClient.SqlClient> =>
  Effect.flatMap(sqlClient, (sql) =>
    Effect.all([
      sql`SELECT MAX(updated_at) AS changed, 0 AS people FROM comment_dm_recipients WHERE campaign = ${campaign}`,
      sql`SELECT COUNT(*) AS changed, COALESCE(SUM(comments), 0) AS people FROM comment_dm_post_reads
        WHERE campaign = ${campaign}`,
      sql`SELECT COUNT(*) AS changed, 0 AS people FROM comment_dm_unrecorded WHERE campaign = ${campaign}`
    ])).pipe(
      Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Array(ChangeRow)))),
      Effect.map((results) => results.map(([row]) => `${row?.changed ?? ""}/${row?.people ?? ""}`).join(":")),
      failWith(`read when campaign ${campaign} last changed`)
    )

/** A person in doubt: a send that may have gone out, which `reconcile` resolves. */
export interface InDoubt {
  readonly userId: string
  readonly username: string | undefined
  readonly step: StepKind
  readonly reason: string | undefined
}

const InDoubtRow = Schema.Struct({
  user_id: Schema.String,
  username: Schema.NullOr(Schema.String),
  step: StepKind,
  reason: Schema.NullOr(Schema.String)
})

const decodeInDoubt = (campaign: string) => <R>(query: Effect.Effect<ReadonlyArray<unknown>, SqlError, R>) =>
  query.pipe(
    Effect.flatMap(Schema.decodeUnknown(Schema.Array(InDoubtRow))),
    Effect.map((rows) =>
      rows.map((row): InDoubt => ({
        userId: row.user_id,
        username: row.username ?? undefined,
        step: row.step,
        reason: row.reason ?? undefined
      }))
    ),
    failWith(`list the people in doubt of campaign ${campaign}`)
  )

/** The first `limit` people in doubt of the campaign, longest in doubt first (from the (state, campaign) index). */
export const inDoubt = (
  campaign: string,
  limit: number
): Effect.Effect<ReadonlyArray<InDoubt>, LedgerError, SqlClient.SqlClient> =>
  Effect.flatMap(sqlClient, (sql) =>
    sql`SELECT user_id, username, step, reason FROM comment_dm_recipients
      WHERE state = 'in_doubt' AND campaign = ${campaign} ORDER BY updated_at, user_id LIMIT ${limit}`).pipe(
      decodeInDoubt(campaign)
    )

/**
 * The first `limit` people in doubt of one step, in the ledger's first-seen order (as `Ledger.entries` reads them),
 * from the (state, campaign, step, first_seen_at, platform, user_id) index: what `status` names.
 */
export const firstInDoubt = (
  campaign: string,
  step: StepKind,
  limit: number
): Effect.Effect<ReadonlyArray<InDoubt>, LedgerError, SqlClient.SqlClient> =>
  Effect.flatMap(sqlClient, (sql) =>
    sql`SELECT user_id, username, step, reason FROM comment_dm_recipients
      WHERE state = 'in_doubt' AND campaign = ${campaign} AND step = ${step}
      ORDER BY first_seen_at, platform, user_id LIMIT ${limit}`).pipe(
      decodeInDoubt(campaign)
    )

/** Of the pending first messages with a comment time, how many would miss the private-reply deadline. */
export interface DeadlineForecast {
  readonly pending: number
  /** Reached after their deadline at the pace: the i-th oldest comment is sent at now + i x (1 hour / perHour). */
  readonly wouldMiss: number
  /** Already past the deadline. */
  readonly alreadyExpired: number
}

const ForecastRow = Schema.Struct({
  pending: Integer,
  would_miss: Schema.NullOr(Integer),
  expired: Schema.NullOr(Integer)
})

/**
 * {@link DeadlineForecast} counted in the database: each pending person's place in comment-time order comes from a
 * window function, so no comment time is read out. Compared in whole milliseconds x per hour (no fractions, which
 * PostgreSQL would not take as a parameter beside a BIGINT).
 */
export const deadlineForecast = (
  campaign: string,
  options: { readonly now: Date; readonly window: Duration.DurationInput; readonly perHour: number }
): Effect.Effect<DeadlineForecast, LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* sqlClient
    const now = options.now.getTime()
    const window = Duration.toMillis(options.window)
    const [row] = yield* sql`SELECT COUNT(*) AS pending,
        SUM(CASE WHEN comment_time + ${window} <= ${now} THEN 1 ELSE 0 END) AS expired,
        SUM(CASE WHEN comment_time + ${window} > ${now}
          AND (place - 1) * 3600000 > (comment_time + ${window} - ${now}) * ${options.perHour} THEN 1 ELSE 0 END)
          AS would_miss
      FROM (SELECT comment_time, ROW_NUMBER() OVER (ORDER BY comment_time) AS place FROM comment_dm_recipients
        WHERE state = 'pending' AND campaign = ${campaign} AND step = 'first_message' AND comment_time IS NOT NULL) p`
      .pipe(Effect.flatMap(Schema.decodeUnknown(Schema.Array(ForecastRow))))
    return { pending: row?.pending ?? 0, wouldMiss: row?.would_miss ?? 0, alreadyExpired: row?.expired ?? 0 }
  }).pipe(failWith(`forecast the private replies of campaign ${campaign} against their deadline`))
