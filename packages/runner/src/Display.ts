/**
 * What the command shows: a live progress line and a summary table on a terminal, plain log lines in a pipe,
 * and with `--json` one JSON object as the last line of stdout (log lines then go to stderr). Every line is made
 * {@link Visible.visible}: it names people by their platform usernames and quotes the platform's texts.
 */
import type { Campaign } from "@comment-dm/core"
import { Effect } from "effect"
import { visible, visibleLines } from "./Visible.js"

export interface Display {
  readonly onEvent: (event: Campaign.Event) => Effect.Effect<void>
  readonly summary: (summary: Campaign.Summary) => Effect.Effect<void>
  /** A line for the person at the terminal (or the log). */
  readonly note: (line: string) => Effect.Effect<void>
  /** Clears the live line before the process ends. */
  readonly close: Effect.Effect<void>
}

export interface DisplayOptions {
  readonly json: boolean
  /** Defaults to whether stdout is a terminal. */
  readonly live?: boolean
}

const stepName: Readonly<Record<string, string>> = { follow_up: " (follow-up)", public_reply: " (public reply)" }

const person = (event: Campaign.Person) =>
  (event.username === undefined ? `user ${event.userId}` : `@${event.username} (${event.userId})`) +
  (event.step === undefined ? "" : stepName[event.step] ?? "")

const rate = (count: number, millis: number) => millis <= 0 ? 0 : count / (millis / 60_000)

export const make = (options: DisplayOptions): Display => {
  const live = !options.json && (options.live ?? process.stdout.isTTY === true)
  const log = options.json ? process.stderr : process.stdout
  const startedAt = Date.now()
  let liveLine = ""
  let lastDraw = 0

  const clearLive = () => {
    if (live && liveLine.length > 0) {
      process.stdout.write("\r\x1b[2K")
      liveLine = ""
    }
  }
  const line = (text: string) => {
    clearLive()
    log.write(`${visible(text)}\n`)
  }
  const draw = (progress: Campaign.Progress, force = false) => {
    if (!live) return
    const now = Date.now()
    if (!force && now - lastDraw < 100) return
    lastDraw = now
    const done = progress.sent + progress.refused + progress.pending + progress.inDoubt + progress.skipped
    const perMinute = rate(progress.sent, now - startedAt)
    const left = Math.max(0, progress.matched - done)
    const eta = perMinute > 0 && left > 0 ? ` · ETA ${formatDuration((left / perMinute) * 60_000)}` : ""
    liveLine = `${done}/${progress.matched} matched people done · ${progress.sent} sent · ${progress.comments} ` +
      `comments read · ${perMinute.toFixed(1)} DMs/min${eta}`
    process.stdout.write(`\r\x1b[2K${visible(liveLine).slice(0, (process.stdout.columns ?? 120) - 1)}`)
  }

  const onEvent = (event: Campaign.Event): Effect.Effect<void> =>
    Effect.sync(() => {
      if (live && (event._tag === "PageRead" || event._tag === "Sent")) {
        draw(event.progress, event._tag === "Sent")
        return
      }
      const text = describe(event)
      if (text !== undefined) line(text)
    })

  const summary = (result: Campaign.Summary): Effect.Effect<void> =>
    Effect.sync(() => {
      clearLive()
      if (options.json) {
        process.stdout.write(`${visible(JSON.stringify(toJson(result)))}\n`)
        return
      }
      process.stdout.write(`${visibleLines(summaryTable(result))}\n`)
    })

  return {
    onEvent,
    summary,
    note: (text) => Effect.sync(() => line(text)),
    close: Effect.sync(clearLive)
  }
}

/** Why people stay in doubt when the conversations answer may be incomplete. */
export const uncoveredText = (uncovered: number, conversations: number | undefined): string =>
  `${uncovered} of them because the conversations answer` +
  (conversations === undefined ? "" : ` (${conversations} conversations)`) +
  " does not show everything sent to them since the claim: it may be incomplete"

/** An event as one line of the log (not yet made visible); `undefined` for those no line tells. */
export const describe = (event: Campaign.Event): string | undefined => {
  switch (event._tag) {
    case "Started":
      return `campaign ${event.campaign}: reading ${event.posts} post${event.posts === 1 ? "" : "s"}` +
        (event.recovered > 0 ? `; ${event.recovered} claims left by a stopped run are now in doubt` : "")
    case "Reconciled":
      return `reconciled people in doubt: ${event.sent} found sent, ${event.pending} not sent (pending), ` +
        `${event.unresolved} still in doubt` +
        (event.uncovered > 0 ? ` (${uncoveredText(event.uncovered, event.conversations)})` : "") +
        (event.failure === undefined ? "" : ` (the conversations could not be read: ${event.failure})`)
    case "PageRead":
      return `read ${event.comments} comments from post ${event.post} (${event.progress.comments} in all)`
    case "Sent":
      // An empty id: a private reply retried after it was in doubt, which the platform answered "already replied".
      return event.messageId === ""
        ? `sent to ${person(event)}: the platform already had this private reply (an earlier attempt went out)`
        : `sent to ${person(event)}: message ${event.messageId}`
    case "WouldSend":
      return `would send to ${person(event)} (post ${event.post}): ${JSON.stringify(event.message)}`
    case "Refused":
      return `refused ${person(event)}: ${event.reason}`
    case "Skipped":
      return `${event.state} ${person(event)}: ${event.reason}`
    case "Notice":
      return `notice: ${event.detail}`
    case "Postponed":
      return `pending ${person(event)}: ${event.reason}`
    case "InDoubt":
      return `in doubt ${person(event)}: ${event.reason}`
    case "DailyLimit":
      return `daily DM limit reached (${event.detail}): sends pause` +
        (event.resumesAt === undefined ? "" : ` until ${event.resumesAt.toISOString()}`) +
        "; reading goes on and new people are kept pending; sending resumes after one real message is accepted"
    case "DailyLimitLifted":
      return "the daily DM limit is lifted: the platform accepted a message again; sends go on"
    case "Polled":
      return `poll ${event.poll}: ${event.pages} page${event.pages === 1 ? "" : "s"}, ${event.comments} comments, ` +
        `${event.newPeople} new matching people; ${event.progress.sent} sent so far` +
        (event.posts < event.followed ? `; ${event.posts} of ${event.followed} posts read` : "") +
        (event.nextInMillis > 0 ? `; next poll in ${formatDuration(event.nextInMillis)}` : "")
    case "PollFailed":
      return `poll failed: ${event.reason}; next poll in ${formatDuration(event.nextInMillis)}`
    case "Problem":
      return `problem: ${event.detail}`
    case "Stopping":
      return `stopping new sends: ${event.reason}; settling the sends in flight`
  }
}

export const toJson = (summary: Campaign.Summary) => ({
  campaign: summary.campaign,
  outcome: summary.outcome,
  counts: summary.counts,
  ...(Object.keys(summary.steps).length === 0 ? {} : { steps: summary.steps }),
  dropped: summary.dropped,
  skipped_reasons: summary.skipped,
  sent_by_path: summary.paths,
  problems: summary.problems,
  notices: summary.notices,
  elapsed_ms: summary.elapsedMillis
})

const outcomeText: Record<Campaign.Outcome, string> = {
  completed: "completed: every matching commenter is settled",
  incomplete: "incomplete: some people are pending or in doubt; run again to continue",
  daily_limit: "stopped by the daily DM limit; run again later: the next run checks with one real message",
  interrupted: "interrupted; sends in flight were settled; run the same command again to resume",
  dry_run: "dry run: nothing was sent or written",
  failed: "failed: the run went on, but something went wrong that running again will not mend (see the problems)"
}

const stepTitle: Readonly<Record<string, string>> = { follow_up: "follow-ups", public_reply: "public replies" }

const pathName: Readonly<Record<string, string>> = { dm: "DM", private_reply: "private reply" }

export const summaryTable = (summary: Campaign.Summary): string => {
  const c = summary.counts
  const rows: Array<[string, number | string]> = [
    ["comments read", c.comments],
    ["dropped (no usable commenter, own comments, since, forgotten)", c.dropped],
    ...Object.entries(summary.dropped).map(([reason, count]): [string, number] => [`  ${reason}`, count]),
    ["matching people", c.matched],
    ["  new this run", c.new],
    ["  sent this run", c.sent],
    ["  sent earlier", c.already_sent],
    ["  refused", c.refused],
    ["  pending", c.pending],
    ["  in doubt", c.in_doubt]
  ]
  // The skipped, expired and opted-out people, and the paths the sent took, when there are any (`delivery: auto`).
  if (c.skipped > 0) rows.push(["  skipped", c.skipped])
  for (const [reason, count] of Object.entries(summary.skipped)) rows.push([`    ${reason}`, count])
  if (c.expired > 0) rows.push(["  expired", c.expired])
  if (c.suppressed > 0) rows.push(["  opted out (suppressed)", c.suppressed])
  for (const [path, count] of Object.entries(summary.paths)) {
    rows.push([`  sent by ${pathName[path] ?? path} (all runs)`, count])
  }
  if (c.claimed_elsewhere > 0) rows.push(["  claimed by another runner", c.claimed_elsewhere])
  if (c.would_send > 0 || summary.outcome === "dry_run") rows.push(["would send", c.would_send])
  if (c.held_by_cap > 0) rows.push(["held back by max_sends", c.held_by_cap])
  if (c.reconciled > 0) rows.push(["resolved by reconciliation", c.reconciled])
  if (c.unrecorded > 0) rows.push(["  not recorded by the ledger", c.unrecorded])
  for (const [step, counts] of Object.entries(summary.steps)) {
    rows.push([stepTitle[step] ?? step, Object.values(counts).reduce((a, b) => a + b, 0)])
    for (const [state, count] of Object.entries(counts)) if (count > 0) rows.push([`  ${state}`, count])
  }
  rows.push(["elapsed", formatDuration(summary.elapsedMillis)])
  const width = Math.max(...rows.map(([label]) => label.length))
  const body = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${String(value).padStart(8)}`).join("\n")
  const problems = summary.problems.map((problem) => `\n  problem: ${problem}`).join("")
  const notices = summary.notices.map((notice) => `\n  notice: ${notice}`).join("")
  return `\ncampaign ${summary.campaign}: ${outcomeText[summary.outcome]}\n${body}${problems}${notices}`
}

export const formatDuration = (millis: number): string => {
  if (millis < 1000) return `${Math.round(millis)}ms`
  const seconds = Math.round(millis / 1000)
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`
}
