/**
 * `report`: a campaign's account as one self-contained HTML file a creator can send on (see internal/reportPage.ts
 * for the page), gathered from the ledger by aggregate queries (`ReportData`). The same figures as `status`: the
 * first message's counts are status's `counts`.
 */
import { Campaign, CampaignSpec, Ledger, ReportData } from "@comment-dm/core"
import { FileSystem } from "@effect/platform"
import type { SqlClient } from "@effect/sql"
import { Clock, Data, Duration, Effect, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { renderPage } from "./internal/reportPage.js"

/** Pending private replies whose comment is older than this are at risk of the 7-day deadline. */
export const atRiskAfter = Duration.days(5)

/** People listed by name among those at risk; the count covers them all. */
const atRiskListed = 20

export interface ReasonCount {
  readonly reason: string
  readonly count: number
}

export interface StateCount {
  readonly state: Ledger.DeliveryState
  readonly count: number
  /** For the states whose reasons are kinds of outcome (refused, skipped, pending, ...), most people first. */
  readonly reasons: ReadonlyArray<ReasonCount>
}

export interface StepReport {
  readonly step: Ledger.StepKind
  /** The people of the step: its states sum to it. */
  readonly people: number
  readonly states: ReadonlyArray<StateCount>
}

export interface Funnel {
  /** Comments read from the campaign's posts, all runs together; null when the ledger has not counted them. */
  readonly comments_read: number | null
  /** Matching people: the first message's base, with those the ledger could not record. */
  readonly matched: number
  /** People whose first message was sent. */
  readonly reached: number
  readonly dm: number
  readonly private_reply: number
  /** First messages sent before the ledger recorded the path (a ledger of schema v1). */
  readonly unknown_path: number
  readonly follow_up: number
  readonly public_reply: number
}

export interface AtRiskPerson {
  /** `@username`, or `person N` when anonymized or unknown. */
  readonly who: string
  readonly user_id: string | null
  readonly comment: string | null
  readonly comment_time: string
  readonly deadline: string
}

export interface Model {
  readonly campaign: string
  readonly platform: string
  readonly profile: string
  readonly generated_at: string
  readonly anonymized: boolean
  readonly funnel: Funnel
  readonly unrecorded: number
  readonly steps: ReadonlyArray<StepReport>
  readonly sends_over_time: {
    readonly unit: "hour" | "day"
    readonly buckets: ReadonlyArray<{
      readonly start: string
      readonly dm: number
      readonly private_reply: number
      readonly follow_up: number
      readonly public_reply: number
    }>
  }
  /** Null when the campaign sends no private replies (`delivery: dm`). */
  readonly private_replies_at_risk: {
    readonly at_risk: number
    readonly past_deadline: number
    readonly people: ReadonlyArray<AtRiskPerson>
  } | null
  readonly keywords: ReadonlyArray<{ readonly keyword: string | null; readonly matched: number; readonly sent: number }>
  readonly variants: ReadonlyArray<{
    readonly step: Ledger.StepKind
    readonly text: string
    readonly sent: number
  }>
  /** The campaign file as it is now, without any setting that names a key or secret. */
  readonly settings: Readonly<Record<string, unknown>>
}

const Count = Schema.Struct({ reason: Schema.String, count: Schema.Number })
const Bucket = Schema.Struct({
  start: Schema.String,
  dm: Schema.Number,
  private_reply: Schema.Number,
  follow_up: Schema.Number,
  public_reply: Schema.Number
})

/** {@link Model} as `report --json` prints it, read back by the dashboard (which gathers it in another process). */
export const ModelJson = Schema.Struct({
  campaign: Schema.String,
  platform: Schema.String,
  profile: Schema.String,
  generated_at: Schema.String,
  anonymized: Schema.Boolean,
  funnel: Schema.Struct({
    comments_read: Schema.NullOr(Schema.Number),
    matched: Schema.Number,
    reached: Schema.Number,
    dm: Schema.Number,
    private_reply: Schema.Number,
    unknown_path: Schema.Number,
    follow_up: Schema.Number,
    public_reply: Schema.Number
  }),
  unrecorded: Schema.Number,
  steps: Schema.Array(Schema.Struct({
    step: Ledger.StepKind,
    people: Schema.Number,
    states: Schema.Array(
      Schema.Struct({ state: Ledger.DeliveryState, count: Schema.Number, reasons: Schema.Array(Count) })
    )
  })),
  sends_over_time: Schema.Struct({ unit: Schema.Literal("hour", "day"), buckets: Schema.Array(Bucket) }),
  private_replies_at_risk: Schema.NullOr(Schema.Struct({
    at_risk: Schema.Number,
    past_deadline: Schema.Number,
    people: Schema.Array(Schema.Struct({
      who: Schema.String,
      user_id: Schema.NullOr(Schema.String),
      comment: Schema.NullOr(Schema.String),
      comment_time: Schema.String,
      deadline: Schema.String
    }))
  })),
  keywords: Schema.Array(
    Schema.Struct({ keyword: Schema.NullOr(Schema.String), matched: Schema.Number, sent: Schema.Number })
  ),
  variants: Schema.Array(Schema.Struct({ step: Ledger.StepKind, text: Schema.String, sent: Schema.Number })),
  settings: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})

/** The order states are shown in: outcomes first, then what is still open. */
const stateOrder: ReadonlyArray<Ledger.DeliveryState> = [
  "sent",
  "refused",
  "skipped",
  "expired",
  "suppressed",
  "unconfirmed",
  "no_reply",
  "awaiting_reply",
  "pending",
  "in_doubt",
  "claimed"
]

const byCount = (a: { readonly count: number }, b: { readonly count: number }) => b.count - a.count

const stepReport = (step: Ledger.StepKind, rows: ReadonlyArray<ReportData.Outcome>): StepReport => {
  const states = stateOrder.flatMap((state): Array<StateCount> => {
    const ofState = rows.filter((row) => row.state === state)
    if (ofState.length === 0) return []
    const reasons = new Map<string, number>()
    for (const row of ofState) {
      if (!ReportData.reasonStates.includes(state)) continue
      const reason = row.reason ?? (state === "pending" ? "not sent yet" : "(no reason recorded)")
      reasons.set(reason, (reasons.get(reason) ?? 0) + row.count)
    }
    return [{
      state,
      count: ofState.reduce((sum, row) => sum + row.count, 0),
      reasons: [...reasons].map(([reason, count]) => ({ reason, count })).sort(byCount)
    }]
  })
  return { step, people: states.reduce((sum, state) => sum + state.count, 0), states }
}

/** Counts of one step, by path; a path of `null` counts those without a recorded path, none given counts all. */
const total = (
  items: ReadonlyArray<
    { readonly step: Ledger.StepKind; readonly path: Ledger.MessagePath | undefined; readonly count: number }
  >,
  step: Ledger.StepKind,
  path?: Ledger.MessagePath | null
): number =>
  items.filter((item) => item.step === step && (path === undefined || item.path === (path === null ? undefined : path)))
    .reduce((sum, item) => sum + item.count, 0)

/**
 * Settings never shown: `api_key_env` names a variable, not the key, but nothing key-like is shown at all (and
 * `keywords` is not one of them).
 */
const secretKey = /(^|_)key($|_)|secret|token|password/i

const withoutSecrets = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(withoutSecrets)
  if (typeof value !== "object" || value === null) return value
  return Object.fromEntries(
    Object.entries(value).filter(([key]) => !secretKey.test(key)).map(([key, inner]) => [key, withoutSecrets(inner)])
  )
}

const settingsOf = (spec: CampaignSpec.CampaignSpec) =>
  Schema.encode(CampaignSpec.CampaignSpec)(spec).pipe(
    Effect.map((encoded) => withoutSecrets(encoded) as Readonly<Record<string, unknown>>),
    // A campaign that was decoded encodes again; should it not, the report goes without its settings.
    Effect.orElseSucceed((): Readonly<Record<string, unknown>> => ({}))
  )

export interface Options {
  /** Hide usernames, user ids and comment texts. */
  readonly anonymize: boolean
}

/** Everything the report shows, read from the ledger. */
export const gather = (
  spec: CampaignSpec.CampaignSpec,
  options: Options
): Effect.Effect<Model, Ledger.LedgerError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const now = new Date(yield* Clock.currentTimeMillis)
    const rows = yield* ReportData.outcomes(spec.name)
    const unrecorded = yield* ReportData.unrecordedCount(spec.name)
    const commentsRead = yield* ReportData.commentsRead(spec.name)
    const sends = yield* ReportData.sendsOverTime(spec.name)
    const sendsPrivately = CampaignSpec.deliveryOf(spec) !== "dm"
    const atRisk = sendsPrivately
      ? yield* ReportData.privateRepliesAtRisk(spec.name, {
        now,
        window: Campaign.privateReplyWindow,
        after: atRiskAfter,
        limit: atRiskListed
      })
      : undefined
    const keywords = yield* ReportData.keywords(spec.name)
    const variants = yield* ReportData.variantSplit(spec.name, "first_message", spec.messages)
    const settings = yield* settingsOf(spec)
    const steps = Ledger.StepKind.literals
      .map((step) => stepReport(step, rows.filter((row) => row.step === step)))
      .filter((step) => step.people > 0)
    const firstMessages = steps.find((step) => step.step === "first_message")?.people ?? 0
    const sent = rows.filter((row) => row.state === "sent")
    return {
      campaign: spec.name,
      platform: spec.platform,
      profile: spec.user,
      generated_at: now.toISOString(),
      anonymized: options.anonymize,
      funnel: {
        comments_read: commentsRead ?? null,
        matched: firstMessages + unrecorded,
        reached: total(sent, "first_message"),
        dm: total(sent, "first_message", "dm"),
        private_reply: total(sent, "first_message", "private_reply"),
        unknown_path: total(sent, "first_message", null),
        follow_up: total(sent, "follow_up"),
        public_reply: total(sent, "public_reply")
      },
      unrecorded,
      steps,
      sends_over_time: {
        unit: sends.unit,
        buckets: sends.buckets.map((bucket) => ({
          start: bucket.start.toISOString(),
          // A first message sent before its path was recorded is counted with the DMs, the only path v1 had.
          dm: total(bucket.counts, "first_message", "dm") + total(bucket.counts, "first_message", null),
          private_reply: total(bucket.counts, "first_message", "private_reply"),
          follow_up: total(bucket.counts, "follow_up"),
          public_reply: total(bucket.counts, "public_reply")
        }))
      },
      private_replies_at_risk: atRisk === undefined ? null : {
        at_risk: atRisk.count,
        past_deadline: atRisk.pastDeadline,
        people: atRisk.people.map((person, index): AtRiskPerson => ({
          who: options.anonymize || person.username === undefined ? `person ${index + 1}` : `@${person.username}`,
          user_id: options.anonymize ? null : person.userId,
          comment: options.anonymize ? null : person.commentText ?? null,
          comment_time: person.commentTime.toISOString(),
          deadline: person.deadline.toISOString()
        }))
      },
      keywords: keywords.map((k) => ({ keyword: k.keyword ?? null, matched: k.matched, sent: k.sent })),
      variants: variants.map((v) => ({
        step: "first_message" as const,
        text: v.variant.source,
        sent: v.sent
      })),
      settings
    }
  })

/** The report could not be written where `--out` says. */
export class ReportFileError extends Data.TaggedError("ReportFileError")<{
  readonly path: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot write the report to ${this.path}: ${this.detail}`
  }
}

/** Whether the file at `path` begins as an HTML page does (read: its first bytes only, however large the file). */
const startsAsHtml = (path: string): boolean => {
  try {
    const descriptor = Fs.openSync(path, "r")
    try {
      const head = Buffer.alloc(256)
      const read = Fs.readSync(descriptor, head, 0, head.length, 0)
      return read === 0 || /^(\uFEFF)?\s*(<!doctype html|<html)/i.test(head.subarray(0, read).toString("utf8"))
    } finally {
      Fs.closeSync(descriptor)
    }
  } catch {
    // What cannot be read cannot be told to be a report: left as it is.
    return false
  }
}

/**
 * Writes the page next to `path` first and then moves it there, so that a report being written never leaves half a
 * file where a previous one was.
 */
export const write = (path: string, model: Model): Effect.Effect<void, ReportFileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const existing = yield* Effect.option(fs.stat(path))
    if (existing._tag === "Some" && existing.value.type === "Directory") {
      return yield* new ReportFileError({ path, detail: "it is a directory; name the HTML file to write" })
    }
    // Only an earlier report (an HTML page) is replaced: `--out` swapped with `--db` would otherwise overwrite the
    // ledger, and with it the record of who was already messaged.
    if (existing._tag === "Some" && existing.value.type === "File" && !startsAsHtml(path)) {
      return yield* new ReportFileError({
        path,
        detail: "the file there is not a report (an HTML page) and is left as it is; name another file"
      })
    }
    const temporary = Path.join(Path.dirname(path), `.${Path.basename(path)}.${process.pid}.tmp`)
    yield* fs.writeFileString(temporary, renderPage(model)).pipe(
      Effect.zipRight(fs.rename(temporary, path)),
      Effect.tapError(() => Effect.ignore(fs.remove(temporary))),
      Effect.mapError((error) =>
        new ReportFileError({
          path,
          // Not the platform's words: they name the temporary file, which the user never gave.
          detail: error._tag === "SystemError" && error.reason === "NotFound"
            ? "its folder does not exist"
            : error.message
        })
      )
    )
  })
