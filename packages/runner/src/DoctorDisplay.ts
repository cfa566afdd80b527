/**
 * `comment-dm doctor`: the command, and how its report is shown: one line per check with its fix under it, the
 * preview's first people, and a verdict; with `--json`, the report as one JSON line. Every line is made
 * {@link visible}: the report quotes usernames and the platform's texts.
 */
import { type CampaignSpec, Ledger, type UploadPost } from "@comment-dm/core"
import { Args, Command, Options } from "@effect/cli"
import { ConfigError, Effect, type Layer, type Option } from "effect"
import * as CampaignFile from "./CampaignFile.js"
import * as Doctor from "./Doctor.js"
import type { ExitCode } from "./ExitCode.js"
import * as LedgerDatabase from "./LedgerDatabase.js"
import { visible } from "./Visible.js"

const label: Record<Doctor.CheckStatus, string> = {
  ok: "ok",
  warning: "warning",
  problem: "PROBLEM",
  skipped: "skipped"
}

const personText = (person: Doctor.PreviewPerson): string => {
  const who = person.username === null ? `user ${person.user_id}` : `@${person.username} (${person.user_id})`
  const path = person.path === "skipped"
    ? `skipped: ${person.reason ?? "no reason"}`
    : person.path === "suppressed"
    ? "suppressed (on the suppression list or forgotten): never messaged"
    : `${person.path === "dm" ? "DM" : "private reply"}${person.until === null ? "" : ` (until ${person.until})`}`
  return `${who} on post ${person.post}: ${path}`
}

export const render = (report: Doctor.Report): string => {
  const lines = [`doctor: campaign ${report.campaign} (${report.platform}, profile ${report.user})`]
  for (const check of report.checks) {
    const name = check.subject === null ? check.name : `${check.name} ${check.subject}`
    lines.push(`  ${label[check.status].padEnd(8)} ${name}: ${check.detail}`)
    if (check.fix !== null && check.status !== "ok" && check.status !== "skipped") {
      lines.push(`           fix: ${check.fix}`)
    }
  }
  if (report.preview !== null && report.preview.sample.length > 0) {
    lines.push("  first matching people:", ...report.preview.sample.map((person) => `    ${personText(person)}`))
  }
  const problems = report.checks.filter((check) => check.status === "problem").length
  const warnings = report.checks.filter((check) => check.status === "warning").length
  lines.push(
    report.ok
      ? `result: a run can proceed${warnings > 0 ? ` (${warnings} warning${warnings === 1 ? "" : "s"})` : ""}; ` +
        "nothing was sent"
      : `result: ${problems} problem${problems === 1 ? "" : "s"}: fix ${problems === 1 ? "it" : "them"} before a ` +
        `run (exit ${report.exit_code}); nothing was sent`
  )
  return lines.map(visible).join("\n")
}

/**
 * The people of the profile a run would message none of, by the ledger: on the suppression list, or forgotten. The
 * ledger is only read: where there is none yet, nobody.
 */
const excludedBy = (spec: CampaignSpec.CampaignSpec) => (people: Parameters<Doctor.Excluded>[0]) =>
  Effect.flatMap(Ledger.Ledger, (ledger) =>
    Effect.zipWith(
      ledger.listed({ platform: spec.platform, profile: spec.user }, people),
      ledger.forgotten(spec.platform, spec.user, people.map((person) => person.userId)),
      (listed, forgotten) => new Set([...listed, ...forgotten])
    ))

/** The `doctor` subcommand: `api` reaches Upload-Post, `settle` ends the command with the report's exit code. */
export const command = <E>(options: {
  readonly api: (spec: CampaignSpec.CampaignSpec) => Layer.Layer<UploadPost.UploadPost, ConfigError.ConfigError>
  readonly settle: (code: ExitCode) => Effect.Effect<void, E>
  readonly db: Options.Options<Option.Option<LedgerDatabase.Given>>
}) =>
  Command.make(
    "doctor",
    {
      campaignFile: Args.text({ name: "campaign-file" }).pipe(
        Args.withDescription("the campaign, as a JSON or YAML file")
      ),
      db: options.db,
      json: Options.boolean("json").pipe(
        Options.withDescription("print the report as one JSON object on stdout (its shape is in the README)")
      )
    },
    (args) =>
      Effect.gen(function*() {
        const spec = yield* CampaignFile.load(args.campaignFile)
        // Read only: a doctor writes no ledger, and one that does not exist yet lists nobody.
        const location = yield* LedgerDatabase.resolve(args.db, { readOnlyIntent: true })
        const excluded: Doctor.Excluded = (people) =>
          Effect.provide(excludedBy(spec)(people), LedgerDatabase.layer(location, { readOnlyIntent: true }))
        const report = yield* Doctor.diagnose(spec, excluded).pipe(
          Effect.provide(options.api(spec)),
          Effect.catchIf(
            ConfigError.isConfigError,
            (error) => Effect.succeed(Doctor.unconfigured(spec, error.message))
          )
        )
        yield* Effect.sync(() =>
          process.stdout.write(`${args.json ? visible(JSON.stringify(report)) : render(report)}\n`)
        )
        yield* options.settle(report.exit_code)
      })
  ).pipe(Command.withDescription(
    "Check a campaign before its first real run, sending nothing: the key (and its plan), the profile and its " +
      "account, every post (a post_url must be among the profile's recent posts), the conversations, the plan's " +
      "request limit and daily DM cap against pace, and what `auto` would do for the first page of commenters. " +
      "Each problem is named with its fix. Exit codes: 0 a run can proceed, 2 configuration (campaign, profile, " +
      "posts, pace), 4 key or account, 3 the daily limit answered, 1 anything else (the API failing)."
  ))
