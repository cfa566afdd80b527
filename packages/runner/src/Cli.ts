/**
 * The `comment-dm` command: `run`, `status`, `reconcile` and `export` over a campaign file.
 */
import {
  Campaign,
  DryRun,
  KeepAliveHttpClient,
  Ledger,
  Reconcile,
  Runner,
  StopSignal,
  UploadPost,
  Watch
} from "@comment-dm/core"
import { Args, Command, Options } from "@effect/cli"
import { Chunk, Config, Context, Data, Duration, Effect, Layer, Option, Ref, Stream } from "effect"
import * as CampaignFile from "./CampaignFile.js"
import * as Display from "./Display.js"
import * as ExitCode from "./ExitCode.js"
import * as LedgerDatabase from "./LedgerDatabase.js"
import * as Signals from "./Signals.js"
import * as Status from "./Status.js"
import { visible } from "./Visible.js"

/** The exit code the process ends with; handlers set it, errors are mapped by `ExitCode.ofError`. */
export class ExitStatus
  extends Context.Tag("@comment-dm/runner/ExitStatus")<ExitStatus, Ref.Ref<ExitCode.ExitCode>>()
{}

const setExit = (code: ExitCode.ExitCode) => Effect.flatMap(ExitStatus, (ref) => Ref.set(ref, code))

const campaignFile = Args.text({ name: "campaign-file" }).pipe(
  Args.withDescription("the campaign, as a JSON or YAML file (see the README for its keys)")
)
const db = Options.text("db").pipe(
  Options.withDescription(
    `the ledger: a SQLite file path or a postgres:// URL shared by several runners ` +
      `(default: $COMMENT_DM_DB, else ./${LedgerDatabase.defaultPath})`
  ),
  Options.optional
)
const json = Options.boolean("json").pipe(
  Options.withDescription("print one JSON object as the last line of stdout (log lines go to stderr)")
)

// Straight over Node's http / https with connections kept alive and reused (KeepAliveHttpClient). Notices about the
// settings go to stderr, so that `--json` keeps stdout to the summary.
const apiLayer = UploadPost.UploadPost.Default.pipe(
  Layer.provide(UploadPost.UploadPostConfig.fromEnvWith({
    notice: (text) => Effect.sync(() => process.stderr.write(`comment-dm: ${text}\n`))
  })),
  Layer.provide(KeepAliveHttpClient.layer())
)

const loadCampaign = (path: string) => CampaignFile.load(path)

const ledgerFor = (flag: Option.Option<string>, options?: LedgerDatabase.LayerOptions) =>
  Effect.map(LedgerDatabase.resolve(flag), (location) => LedgerDatabase.layer(location, options))

const runCommand = Command.make(
  "run",
  {
    campaignFile,
    db,
    dryRun: Options.boolean("dry-run").pipe(
      Options.withDescription("read the comments and print who would get which message; send and write nothing")
    ),
    json,
    maxSends: Options.integer("max-sends").pipe(
      Options.filterMap(
        (n) => n >= 0 ? Option.some(n) : Option.none(),
        "--max-sends expects a non-negative integer (0 sends nothing)"
      ),
      Options.withDescription(
        "send at most N DMs in this run (overrides max_sends in the campaign); 0 reads the posts and records the " +
          "matching commenters as pending without sending"
      ),
      Options.optional
    )
  },
  (args) =>
    Effect.gen(function*() {
      const spec = yield* loadCampaign(args.campaignFile)
      const display = Display.make({ json: args.json })
      const ledger = yield* ledgerFor(args.db, { readOnlyIntent: args.dryRun })
      const stop = yield* Signals.stopRequests
      const stopLayer = StopSignal.layer({ interrupt: stop.interrupt, wrapUp: stop.outputClosed })
      const summary = yield* Campaign.run(spec, {
        maxSends: Option.getOrUndefined(args.maxSends),
        onEvent: display.onEvent
      }).pipe(
        Effect.provide(stopLayer),
        (program) =>
          // A dry run sends and writes nothing, and shares no pace or daily limit with the profile's runners.
          args.dryRun
            ? Effect.provide(program, DryRun.layer)
            : Effect.provide(program, LedgerDatabase.sharedPace(spec)),
        Effect.provide(Layer.merge(apiLayer, ledger)),
        Effect.tapError(() => display.close)
      )
      yield* display.summary(summary)
      if (summary.outcome === "interrupted") {
        yield* display.note(`resume with: comment-dm run ${args.campaignFile} (the same ledger)`)
      }
      yield* setExit(ExitCode.ofOutcome(summary.outcome))
    })
).pipe(Command.withDescription(
  "Run a campaign: read the comments of its posts, and send one DM to each new matching commenter. " +
    "Exit codes: 0 all settled, 2 configuration error, 3 daily DM limit, 4 key or account error, " +
    "5 some people pending or in doubt, 130 interrupted, 1 anything else."
))

const watchCommand = Command.make(
  "watch",
  {
    campaignFile,
    every: Options.text("every").pipe(
      Options.withDescription("time between polls, e.g. 60s, 10s, 2m (default 60s; at least 1s)"),
      Options.withDefault("60s")
    ),
    db,
    json,
    once: Options.boolean("once").pipe(Options.withDescription("poll once, send, and exit"))
  },
  (args) =>
    Effect.gen(function*() {
      const spec = yield* loadCampaign(args.campaignFile)
      const every = yield* parseInterval(args.every)
      const display = Display.make({ json: args.json, live: false })
      const baseUrl = yield* Effect.orElseSucceed(
        Config.string("UPLOAD_POST_BASE_URL"),
        () => UploadPost.defaultBaseUrl
      )
      if (Duration.lessThan(every, Duration.seconds(15)) && !UploadPost.isLoopbackUrl(baseUrl)) {
        yield* display.note(
          `warning: polling every ${Duration.format(every)}; against the real API an interval under 15s spends the ` +
            "request-rate budget quickly"
        )
      }
      const ledger = yield* ledgerFor(args.db)
      const stop = yield* Signals.stopRequests
      const summary = yield* Watch.watch(spec, { every, once: args.once, onEvent: display.onEvent }).pipe(
        Effect.provide(Layer.merge(
          StopSignal.layer({ interrupt: stop.interrupt, wrapUp: stop.outputClosed }),
          LedgerDatabase.sharedPace(spec)
        )),
        Effect.provide(Layer.merge(apiLayer, ledger))
      )
      yield* display.summary(summary)
      yield* setExit(ExitCode.ofOutcome(summary.outcome))
    })
).pipe(Command.withDescription(
  "Follow a campaign's posts: poll every --every, DM new matching commenters with the same ledger, pacing and " +
    "guarantees as `run`. Stops paging a post at the first page it has seen before. The daily DM limit pauses sends " +
    "until the campaign's daily_reset, then one real message probes every 15 minutes; rate limits slow the polling " +
    "down. A post whose pages loop is read up to the repeated cursor and reported; with --once that exits 1. " +
    "SIGINT/SIGTERM settle sends in flight and exit 130."
))

class IntervalError extends Data.TaggedError("InvalidData")<{ readonly text: string }> {
  override get message() {
    return `--every "${this.text}": expected a duration of at least 1 second, such as 60s, 10s, 2m or 1h`
  }
}

const parseInterval = (text: string): Effect.Effect<Duration.Duration, IntervalError> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (match === null) return Effect.fail(new IntervalError({ text }))
  const value = Number(match[1])
  const unit = match[2] ?? "s"
  const millis = value * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[unit as "ms" | "s" | "m" | "h"]
  return millis >= 1000 ? Effect.succeed(Duration.millis(millis)) : Effect.fail(new IntervalError({ text }))
}

const statusCommand = Command.make("status", { campaignFile, db, json }, (args) =>
  Effect.gen(function*() {
    const spec = yield* loadCampaign(args.campaignFile)
    const ledger = yield* ledgerFor(args.db, { readOnlyIntent: true })
    const report = yield* Status.report(spec).pipe(Effect.provide(ledger))
    yield* Effect.sync(() =>
      process.stdout.write(`${args.json ? visible(JSON.stringify(report)) : Status.render(report)}\n`)
    )
    yield* setExit(report.unaccounted === 0 ? ExitCode.ExitCode.Settled : ExitCode.ExitCode.Failure)
  })).pipe(Command.withDescription(
    "Account for every matching commenter of a campaign (sent, refused with reasons, pending, in doubt) and say " +
      "what `run` would do next. Reads the ledger only."
  ))

const reconcileCommand = Command.make("reconcile", { campaignFile, db }, (args) =>
  Effect.gen(function*() {
    const spec = yield* loadCampaign(args.campaignFile)
    const ledger = yield* ledgerFor(args.db)
    const result = yield* Effect.gen(function*() {
      const store = yield* Ledger.Ledger
      const recovered = yield* Runner.recoverLeftoverClaims(store, spec.name)
      const outcome = yield* Reconcile.run(spec)
      return { recovered, outcome }
    }).pipe(Effect.provide(Layer.merge(apiLayer, ledger)))
    const { outcome } = result
    const lines = [
      `${outcome.sent} found sent, ${outcome.pending} not sent (pending: the next run sends them), ` +
      `${outcome.unresolved} still in doubt` +
      (outcome.uncovered > 0
        ? ` (${Display.uncoveredText(outcome.uncovered, Option.getOrUndefined(outcome.conversations))})`
        : "")
    ]
    if (Option.isSome(outcome.failure)) {
      lines.push(`the conversations could not be read: ${outcome.failure.value.message}`)
      lines.push("people in doubt stay in doubt and are not resent; try `comment-dm reconcile` again later")
    }
    yield* Effect.sync(() => process.stdout.write(`${lines.map(visible).join("\n")}\n`))
    yield* setExit(outcome.unresolved === 0 ? ExitCode.ExitCode.Settled : ExitCode.ExitCode.Incomplete)
  })).pipe(Command.withDescription(
    "Resolve people in doubt (a send that may have gone out) by reading the conversations endpoint: a message found " +
      "-> sent; none, where the answer lists the person's conversation back to before the claim -> pending; " +
      "otherwise they stay in doubt (the answer may be incomplete). Runs automatically at the start of every `run`."
  ))

const exportCommand = Command.make(
  "export",
  {
    campaignFile,
    db,
    format: Options.choice("format", ["csv", "jsonl"]).pipe(
      Options.withDescription("csv (default) or jsonl, written to stdout"),
      Options.withDefault("csv" as const)
    )
  },
  (args) =>
    Effect.gen(function*() {
      const spec = yield* loadCampaign(args.campaignFile)
      const ledger = yield* ledgerFor(args.db, { readOnlyIntent: true })
      yield* Effect.flatMap(Ledger.Ledger, (store) =>
        store.entries(spec.name).pipe(
          // CSV keeps the data as stored (quoted); a JSON line keeps it too, with controls as JSON escapes.
          Stream.map(args.format === "csv" ? Status.csvRow : (entry) => visible(Status.jsonLine(entry))),
          args.format === "csv" ? Stream.prepend(Chunk.of(Status.csvHeader)) : (self) => self,
          Stream.runForEach((line) => Effect.sync(() => process.stdout.write(`${line}\n`)))
        )).pipe(Effect.provide(ledger))
      yield* setExit(ExitCode.ExitCode.Settled)
    })
).pipe(Command.withDescription(
  "Write the campaign's ledger (one row per matching commenter) as CSV or JSONL. A CSV cell that starts with =, +, " +
    "-, @, a tab or a carriage return gets a leading ' so that a spreadsheet shows it as text, not as a formula."
))

export const command = Command.make("comment-dm").pipe(
  Command.withDescription(
    "Comment-to-DM campaigns on the Upload-Post API: everyone whose comment matches gets one DM, exactly once. " +
      "Environment: UPLOAD_POST_API_KEY, UPLOAD_POST_BASE_URL (default https://api.upload-post.com/api), " +
      "COMMENT_DM_DB."
  ),
  Command.withSubcommands([runCommand, watchCommand, statusCommand, reconcileCommand, exportCommand])
)

export const cli = Command.run(command, { name: "comment-dm", version: "0.1.0" })
