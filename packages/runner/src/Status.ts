/**
 * `status` and `export`: the account of every matching commenter, read from the ledger alone.
 */
import { Campaign, Ledger } from "@comment-dm/core"
import type { CampaignSpec } from "@comment-dm/core"
import { Clock, Duration, Effect, Option, Stream } from "effect"
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

const group = (reasons: Map<string, number>): Array<ReasonCount> =>
  [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count)

export const report = (spec: CampaignSpec.CampaignSpec): Effect.Effect<Report, Ledger.LedgerError, Ledger.Ledger> =>
  Effect.gen(function*() {
    const ledger = yield* Ledger.Ledger
    const refused = new Map<string, number>()
    const skipped = new Map<string, number>()
    const paths: Record<string, number> = {}
    const pending = new Map<string, number>()
    const inDoubt: Array<Report["in_doubt"][number]> = []
    const counts = Ledger.noCounts()
    let matched = 0
    let repliesInDoubt = 0
    const pendingCommentTimes: Array<number> = []
    // `counts` and `matched` are of the first message, whose base is every matching person.
    const firstMessages = Stream.filter(ledger.entries(spec.name), (entry) => entry.step === "first_message")
    yield* Stream.runForEach(firstMessages, (entry) =>
      Effect.sync(() => {
        matched++
        if (entry.state === "pending" && entry.commentTime !== undefined) {
          pendingCommentTimes.push(entry.commentTime.getTime())
        }
        counts[entry.state]++
        const reason = entry.reason ?? "(no reason recorded)"
        if (entry.state === "refused") refused.set(reason, (refused.get(reason) ?? 0) + 1)
        if (entry.state === "skipped") skipped.set(reason, (skipped.get(reason) ?? 0) + 1)
        if (entry.state === "sent" && entry.path !== undefined) paths[entry.path] = (paths[entry.path] ?? 0) + 1
        if (entry.state === "pending") {
          pending.set(entry.reason ?? "not sent yet", (pending.get(entry.reason ?? "not sent yet") ?? 0) + 1)
        }
        if (entry.state === "in_doubt" && entry.path === "private_reply") repliesInDoubt++
        if (entry.state === "in_doubt" && inDoubt.length < shownInDoubt) {
          inDoubt.push({ user_id: entry.userId, username: entry.username ?? null, reason })
        }
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
    return {
      ...(spec.delivery === "private_reply"
        ? { private_reply_forecast: forecast(pendingCommentTimes, spec.pace.perHour, now) }
        : {}),
      campaign: spec.name,
      matched,
      counts: shownCounts(counts),
      unaccounted: matched - accounted,
      unrecorded_reasons: group(notRecorded),
      refused_reasons: group(refused),
      skipped_reasons: group(skipped),
      sent_by_path: paths,
      pending_reasons: group(pending),
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

/**
 * Sends go oldest comment first, one every hour / per_hour: the i-th pending person is reached at
 * now + i x spacing, and misses the private-reply window if that is past their comment + 7 days.
 */
export const forecast = (commentTimes: Array<number>, perHour: number, now: number) => {
  const spacing = 3_600_000 / perHour
  const window = Duration.toMillis(Campaign.privateReplyWindow)
  const sorted = [...commentTimes].sort((a, b) => a - b)
  let wouldMiss = 0
  let alreadyExpired = 0
  sorted.forEach((commentTime, index) => {
    if (commentTime + window <= now) alreadyExpired++
    else if (now + index * spacing > commentTime + window) wouldMiss++
  })
  return { pending: sorted.length, would_miss: wouldMiss, already_expired: alreadyExpired, per_hour: perHour }
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
