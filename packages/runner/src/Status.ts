/**
 * `status` and `export`: the account of every matching commenter, read from the ledger alone.
 */
import { Campaign, Ledger, ReportData } from "@comment-dm/core"
import type { CampaignSpec } from "@comment-dm/core"
import type { SqlClient } from "@effect/sql"
import { Clock, Effect, Option } from "effect"
import * as StepStatus from "./StepStatus.js"
import { visible } from "./Visible.js"

export interface ReasonCount {
  readonly reason: string
  readonly count: number
}

/** The states a ledger of schema v1 knew, which `counts` always shows. */
type FirstStates = "pending" | "claimed" | "sent" | "refused" | "in_doubt"

/** People per state of their first message: the first five states always, the others when someone is in them. */
export type ReportCounts =
  & Readonly<Record<FirstStates, number>>
  & Readonly<Partial<Record<Ledger.DeliveryState, number>>>

export interface Report {
  readonly campaign: string
  readonly matched: number
  readonly counts: ReportCounts
  /**
   * matched - the people in any state: zero when every person is accounted for. People the ledger could not record
   * are matched and unaccounted.
   */
  readonly unaccounted: number
  /** Why the ledger could not record people, with how many each. */
  readonly unrecorded_reasons: ReadonlyArray<ReasonCount>
  readonly refused_reasons: ReadonlyArray<ReasonCount>
  /** Why people were skipped (`window_closed`, `comment_too_old`, ...), with how many each. */
  readonly skipped_reasons: ReadonlyArray<ReasonCount>
  /** The sent people by the path their first message took (`dm`, `private_reply`). */
  readonly sent_by_path: Readonly<Record<string, number>>
  readonly pending_reasons: ReadonlyArray<ReasonCount>
  readonly in_doubt: ReadonlyArray<
    { readonly user_id: string; readonly username: string | null; readonly reason: string }
  >
  readonly next: string
  /** The steps after the first message that have people (`follow_up`, `public_reply`), each with its own counts. */
  readonly steps: StepStatus.StepReports
  /**
   * How many conversations the last conversations answer read by reconciliation held, and when: an answer that holds
   * few may be cut short, and people it does not show stay in doubt. Null before the first reconciliation.
   */
  readonly last_conversations_read: { readonly conversations: number; readonly read_at: string } | null
  /** Private replies only: of the pending people, how many would miss the 7-day deadline at the campaign's pace. */
  readonly private_reply_forecast?: {
    readonly pending: number
    readonly would_miss: number
    readonly already_expired: number
    readonly per_hour: number
  }
}

const shownInDoubt = 20

/** Reasons with their counts, most people first; equal counts in the order their first person was seen. */
const group = (
  rows: ReadonlyArray<ReportData.Outcome>,
  reasonOf: (row: ReportData.Outcome) => string
): Array<ReasonCount> => {
  const reasons = new Map<string, { count: number; firstSeenAt: number }>()
  for (const row of rows) {
    const reason = reasonOf(row)
    const known = reasons.get(reason)
    reasons.set(reason, {
      count: (known?.count ?? 0) + row.count,
      firstSeenAt: Math.min(known?.firstSeenAt ?? Infinity, row.firstSeenAt)
    })
  }
  return [...reasons].sort(([, a], [, b]) => b.count - a.count || a.firstSeenAt - b.firstSeenAt)
    .map(([reason, { count }]) => ({ reason, count }))
}

const orNone = (row: ReportData.Outcome) => row.reason ?? "(no reason recorded)"

/**
 * The account of a campaign from aggregate queries (people grouped by state, path and reason in the database, the
 * people in doubt and the deadline forecast read from the (state, campaign, step, ...) index), never its rows one by
 * one: a ledger of a million people answers in about a second.
 */
export const report = (
  spec: CampaignSpec.CampaignSpec
): Effect.Effect<Report, Ledger.LedgerError, Ledger.Ledger | SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    // `counts` and `matched` are of the first message, whose base is every matching person.
    const rows = (yield* ReportData.outcomes(spec.name)).filter((row) => row.step === "first_message")
    const ofState = (state: Ledger.DeliveryState) => rows.filter((row) => row.state === state)
    const counts = Ledger.noCounts()
    for (const row of rows) counts[row.state] += row.count
    let matched = rows.reduce((sum, row) => sum + row.count, 0)
    // By path, in the order each path was first taken (as the rows were once read one by one).
    const paths: Record<string, number> = {}
    const sent = ofState("sent").flatMap((row) => row.path === undefined ? [] : [{ ...row, path: row.path }])
    for (const row of [...sent].sort((a, b) => a.firstSeenAt - b.firstSeenAt)) {
      paths[row.path] = (paths[row.path] ?? 0) + row.count
    }
    const repliesInDoubt = ofState("in_doubt").filter((row) => row.path === "private_reply")
      .reduce((sum, row) => sum + row.count, 0)
    const inDoubt = (yield* ReportData.firstInDoubt(spec.name, "first_message", shownInDoubt)).map((person) => ({
      user_id: person.userId,
      username: person.username ?? null,
      reason: person.reason ?? "(no reason recorded)"
    }))
    const unrecorded = yield* ledger.unrecorded(spec.name)
    const conversationsRead = yield* ledger.conversationsRead(spec.name)
    matched += unrecorded.length
    const notRecorded = new Map<string, number>()
    for (const person of unrecorded) notRecorded.set(person.reason, (notRecorded.get(person.reason) ?? 0) + 1)
    const accounted = Object.values(counts).reduce((sum, n) => sum + n, 0)
    const steps = yield* StepStatus.reports(spec.name, {
      sent: counts.sent,
      sentByPrivateReply: paths["private_reply"] ?? 0
    })
    const now = yield* Clock.currentTimeMillis
    const forecast = spec.delivery === "private_reply"
      ? yield* ReportData.deadlineForecast(spec.name, {
        now: new Date(now),
        window: Campaign.privateReplyWindow,
        perHour: spec.pace.perHour
      })
      : undefined
    return {
      ...(forecast === undefined ? {} : {
        private_reply_forecast: {
          pending: forecast.pending,
          would_miss: forecast.wouldMiss,
          already_expired: forecast.alreadyExpired,
          per_hour: spec.pace.perHour
        }
      }),
      campaign: spec.name,
      matched,
      counts: shownCounts(counts),
      unaccounted: matched - accounted,
      unrecorded_reasons: [...notRecorded].map(([reason, count]) => ({ reason, count })).sort((a, b) =>
        b.count - a.count
      ),
      refused_reasons: group(ofState("refused"), orNone),
      skipped_reasons: group(ofState("skipped"), orNone),
      sent_by_path: paths,
      pending_reasons: group(ofState("pending"), (row) => row.reason ?? "not sent yet"),
      in_doubt: inDoubt,
      next: nextStep(matched, counts, repliesInDoubt),
      steps,
      last_conversations_read: Option.match(conversationsRead, {
        onNone: () => null,
        onSome: (read) => ({ conversations: read.conversations, read_at: read.readAt.toISOString() })
      })
    }
  })

const shownCounts = (counts: Ledger.Counts): ReportCounts => {
  const { claimed, in_doubt, pending, refused, sent, ...later } = counts
  return {
    pending,
    claimed,
    sent,
    refused,
    in_doubt,
    ...Object.fromEntries(Object.entries(later).filter(([, n]) => n > 0))
  }
}

const nextStep = (matched: number, counts: Ledger.Counts, repliesInDoubt: number): string => {
  const steps: Array<string> = []
  if (matched === 0) return "`run` will read the posts and send to every matching commenter (nothing recorded yet)"
  if (counts.claimed > 0) {
    steps.push(
      `leave the ${counts.claimed} people claimed by another runner to it (a live runner settles them; the claims ` +
        "of one that died turn to in doubt when their lease runs out, and are reconciled)"
    )
  }
  const dmsInDoubt = counts.in_doubt - repliesInDoubt
  if (dmsInDoubt > 0) {
    steps.push(
      `reconcile ${dmsInDoubt} people in doubt through the conversations endpoint (found -> sent; none, where ` +
        "the answer shows everything sent to them since the claim -> pending; else they stay in doubt)"
    )
  }
  if (repliesInDoubt > 0) {
    steps.push(
      `retry ${repliesInDoubt} private ${
        repliesInDoubt === 1 ? "reply" : "replies"
      } in doubt (the platform refuses a ` +
        "second private reply to one comment: that refusal settles them sent)"
    )
  }
  if (counts.pending > 0) steps.push(`send to ${counts.pending} pending people`)
  steps.push(
    "read the posts again and send only to new matching commenters; sent and refused people are never sent again" +
      (counts.skipped > 0
        ? `, and the ${counts.skipped} skipped are judged again only when they comment again or write to the account`
        : "")
  )
  return `\`run\` will ${steps.join("; then ")}`
}

/** The states beyond the first five, shown when someone is in them. */
const laterStates: ReadonlyArray<Ledger.DeliveryState> = Ledger.DeliveryState.literals.filter((state) =>
  !["pending", "claimed", "sent", "refused", "in_doubt"].includes(state)
)

export const render = (report: Report): string => {
  const c = report.counts
  const lines = [
    `campaign ${report.campaign}: ${report.matched} matching commenters, ${report.unaccounted} unaccounted`,
    `  sent       ${c.sent}`,
    `  refused    ${c.refused}`,
    ...report.refused_reasons.map((r) => `    ${r.count} × ${r.reason}`),
    `  pending    ${c.pending}`,
    ...report.pending_reasons.map((r) => `    ${r.count} × ${r.reason}`),
    `  in doubt   ${c.in_doubt}`,
    ...report.in_doubt.map((p) => `    ${p.username === null ? "" : `@${p.username} `}(${p.user_id}): ${p.reason}`),
    ...laterStates.flatMap((state) => {
      const count = c[state] ?? 0
      if (count === 0) return []
      const reasons = state === "skipped" ? report.skipped_reasons.map((r) => `    ${r.count} × ${r.reason}`) : []
      return [`  ${state.replace("_", " ").padEnd(10)} ${count}`, ...reasons]
    }),
    ...Object.entries(report.sent_by_path).map(([path, count]) => `  sent by ${path.replace("_", " ")}: ${count}`)
  ]
  if (report.unrecorded_reasons.length > 0) {
    lines.push(
      `  not recorded ${report.unrecorded_reasons.reduce((sum, r) => sum + r.count, 0)} (the ledger refused them)`,
      ...report.unrecorded_reasons.map((r) => `    ${r.count} × ${r.reason}`)
    )
  }
  if (c.in_doubt > report.in_doubt.length) lines.push(`    … and ${c.in_doubt - report.in_doubt.length} more`)
  const f = report.private_reply_forecast
  if (f !== undefined && f.pending > 0) {
    lines.push(
      `  private replies: at ${f.per_hour}/hour, ${f.would_miss} of ${f.pending} pending would miss the 7-day ` +
        `window` + (f.already_expired > 0 ? ` (${f.already_expired} already past it)` : "")
    )
  }
  if (c.claimed > 0) lines.push(`  claimed    ${c.claimed} (a runner is sending to them now, or died holding them)`)
  const read = report.last_conversations_read
  if (read !== null) {
    lines.push(`  last conversations answer: ${read.conversations} conversations (read ${read.read_at})`)
  }
  lines.push(...StepStatus.render(report.steps))
  lines.push("", `next: ${report.next}`)
  return lines.map(visible).join("\n")
}

export const csvHeader = [
  "campaign",
  "platform",
  "user_id",
  "username",
  "post_id",
  "comment_id",
  "keyword",
  "state",
  "reason",
  "message_id",
  "attempts",
  "first_seen_at",
  "claimed_at",
  "settled_at",
  "comment_text",
  "message",
  "step",
  "path"
].join(",")

/**
 * A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, tab or CR as a formula, quoted or not: such a cell
 * gets a leading single quote (OWASP's CSV-injection advice), which shows it as text. Such cells, and those holding
 * a quote, comma or line break, are quoted.
 */
export const csvField = (value: string | number | Date | undefined): string => {
  if (value === undefined) return ""
  const text = value instanceof Date ? value.toISOString() : String(value)
  const formula = /^[=+\-@\t\r]/.test(text)
  return formula || /[",\n\r]/.test(text) ? `"${formula ? "'" : ""}${text.replace(/"/g, "\"\"")}"` : text
}

export const csvRow = (entry: Ledger.LedgerEntry): string =>
  [
    entry.campaign,
    entry.platform,
    entry.userId,
    entry.username,
    entry.postId,
    entry.commentId,
    entry.keyword,
    entry.state,
    entry.reason,
    entry.messageId,
    entry.attempts,
    entry.firstSeenAt,
    entry.claimedAt,
    entry.settledAt,
    entry.commentText,
    entry.message,
    entry.step,
    entry.path
  ].map(csvField).join(",")

export const jsonLine = (entry: Ledger.LedgerEntry): string =>
  JSON.stringify({
    campaign: entry.campaign,
    platform: entry.platform,
    user_id: entry.userId,
    username: entry.username ?? null,
    post_id: entry.postId,
    comment_id: entry.commentId,
    keyword: entry.keyword ?? null,
    state: entry.state,
    reason: entry.reason ?? null,
    message_id: entry.messageId ?? null,
    attempts: entry.attempts,
    first_seen_at: entry.firstSeenAt.toISOString(),
    claimed_at: entry.claimedAt?.toISOString() ?? null,
    settled_at: entry.settledAt?.toISOString() ?? null,
    comment_text: entry.commentText,
    message: entry.message ?? null,
    step: entry.step,
    path: entry.path ?? null
  })
