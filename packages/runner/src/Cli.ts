/**
 * The `comment-dm` command: `run`, `watch`, `status`, `reconcile` and `export` over a campaign file, and the exit code
 * each outcome and failure gives ({@link main}).
 */
import { Campaign, Claimant, DryRun, Ledger, Reconcile, type Run, UploadPost, Watch } from "@comment-dm/core"
import { Args, type CliApp, Command, Options, ValidationError } from "@effect/cli"
import { Cause, Chunk, Config, ConfigError, Console, Duration, Effect, Layer, Option, Predicate, Stream } from "effect"
import * as CampaignFile from "./CampaignFile.js"
import * as Dashboard from "./Dashboard.js"
import * as Display from "./Display.js"
import * as DoctorDisplay from "./DoctorDisplay.js"
import * as ExitCode from "./ExitCode.js"
import { forgetCommand, pruneCommand } from "./ForgetCommand.js"
import * as HelpOutput from "./HelpOutput.js"
import * as Interval from "./Interval.js"
import * as LedgerDatabase from "./LedgerDatabase.js"
import * as PostSharing from "./PostSharing.js"
import * as Report from "./Report.js"
import { command as sandboxCommand } from "./SandboxCommand.js"
import * as Serve from "./Serve.js"
import { Signals } from "./Signals.js"
import * as Status from "./Status.js"
import { command as suppressCommand } from "./SuppressCommand.js"
import { visible, visibleLines } from "./Visible.js"
import * as WatchHealth from "./watch/Health.js"
import * as WatchHttp from "./watch/Http.js"
import * as Paused from "./watch/Paused.js"
import * as Workspace from "./Workspace.js"

// ---------------------------------------------------------------------------------------------------------------
// Subcommands

const campaignFile = Args.text({ name: "campaign-file" }).pipe(
  Args.withDescription("the campaign, as a JSON or YAML file (see the README for its keys)")
)
const db = LedgerDatabase.option
const json = Options.boolean("json").pipe(
  Options.withDescription("print one JSON object as the last line of stdout (log lines go to stderr)")
)

const runCommand = Command.make(
  "run",
  {
    campaignFile,
    db,
    dryRun: Options.boolean("dry-run").pipe(
      Options.withDescription(
        "read the comments and print who would get which message (people on the suppression list count as " +
          "suppressed); send and write nothing"
      )
    ),
    json,
    maxSends: Options.integer("max-sends").pipe(
      Options.filterMap(
        (n) => n >= 0 ? Option.some(n) : Option.none(),
        "--max-sends expects a non-negative integer (0 sends nothing)"
      ),
      Options.withDescription(
        "send at most N messages in this run (overrides max_sends in the campaign); 0 reads the posts and records the " +
          "matching commenters as pending without sending"
      ),
      Options.optional
    )
  },
  (args) =>
    Effect.gen(function*() {
      const spec = yield* CampaignFile.Campaign
      const signals = yield* Signals
      const display = Display.make({ json: args.json })
      yield* signals.stoppable(Effect.gen(function*() {
        const summary = yield* Campaign.ownAccount(spec, display.note).pipe(
          Effect.flatMap((ownAccount) =>
            Campaign.run(spec, { ownAccount, maxSends: Option.getOrUndefined(args.maxSends), onEvent: display.onEvent })
          ),
          (program) =>
            // A dry run sends and writes nothing, and shares no pace or daily limit with the profile's runners.
            args.dryRun
              ? Effect.provide(program, DryRun.layer)
              : Effect.provide(program, LedgerDatabase.sharedPace(spec)),
          Effect.tapError(() => display.close)
        )
        yield* display.summary(summary)
        if (summary.outcome === "interrupted") {
          yield* display.note(`resume with: comment-dm run ${args.campaignFile} (the same ledger)`)
        }
        yield* ExitCode.settle(ExitCode.ofOutcome(summary.outcome))
      }))
    })
).pipe(
  Command.withDescription(
    "Run a campaign: read the comments of its posts, and send each new matching commenter one message (by `delivery`: " +
      "auto, the default, DMs those whose messaging window is open and sends the others a private reply); then, " +
      "when the campaign has them, a public_reply under each comment reached and a follow_up DM to those who write " +
      "back (the conversations are read when the run starts). " +
      "Exit codes: 0 all settled (every step), 2 configuration error, 3 daily DM limit, 4 key or account error, " +
      "5 some people pending or in doubt, 130 interrupted, 1 anything else."
  ),
  (self) =>
    Command.provide(
      self,
      (args) =>
        Workspace.layer(args, args.dryRun ? Workspace.rehearsalUploadPost : Workspace.budgetedUploadPost, {
          readOnlyIntent: args.dryRun
        })
    )
)

const watchCommand = Command.make(
  "watch",
  {
    campaignFile,
    every: Options.text("every").pipe(
      Options.withDescription("time between polls, e.g. 60s, 10s, 2m (default 60s; from 1s to 24h)"),
      Options.withDefault("60s"),
      Options.withSchema(Interval.Interval)
    ),
    db,
    json,
    once: Options.boolean("once").pipe(Options.withDescription("poll once, send, and exit")),
    http: Options.text("http").pipe(
      Options.withDescription("serve /healthz and /metrics (Prometheus) on HOST:PORT, e.g. 127.0.0.1:9464"),
      Options.optional
    )
  },
  (args) =>
    Effect.gen(function*() {
      const spec = yield* CampaignFile.Campaign
      const signals = yield* Signals
      const display = Display.make({ json: args.json, live: false })
      // Several watchers of the campaign on one PostgreSQL ledger share its posts, as `serve` processes do; a single
      // poll (--once, e.g. from cron) reads every post, as `run` does.
      const lease = yield* PostSharing.lease
      const baseUrl = yield* Effect.orElseSucceed(
        Config.string("UPLOAD_POST_BASE_URL"),
        () => UploadPost.defaultBaseUrl
      )
      if (Duration.lessThan(args.every, Duration.seconds(15)) && !UploadPost.isLoopbackUrl(baseUrl)) {
        yield* display.note(
          `warning: polling every ${Duration.format(args.every)}; against the real API an interval under 15s spends ` +
            "the request-rate budget quickly"
        )
      }
      // The watcher's health: its heartbeat in the ledger (for the dashboard), and --http's /healthz and /metrics.
      const health = yield* WatchHealth.make(spec, args.every)
      yield* Effect.forkScoped(WatchHealth.beat(health))
      if (Option.isSome(args.http)) {
        const bound = yield* WatchHttp.serve(yield* Dashboard.parseAddress(args.http.value), health)
        yield* display.note(`serving /healthz and /metrics on ${bound}/`)
      }
      const onEvent = (event: Run.Event) => Effect.zipRight(WatchHealth.observe(health)(event), display.onEvent(event))
      yield* signals.stoppable(Effect.gen(function*() {
        // A paused campaign keeps the watcher up, reading and sending nothing, until its file says active again.
        const watched = args.once ? spec : yield* Paused.untilActive(args.campaignFile, spec, {
          every: args.every,
          note: display.note,
          onPaused: (paused) => WatchHealth.pause(health, paused)
        })
        const summary = yield* Campaign.ownAccount(watched, display.note).pipe(
          Effect.flatMap((ownAccount) =>
            Watch.watch(watched, { ownAccount, every: args.every, once: args.once, onEvent })
          ),
          (watching) => args.once ? watching : PostSharing.sharing(lease)(watching),
          Effect.tapErrorTag("Unauthorized", (error) => WatchHealth.refuseKey(health, error.message)),
          Effect.provide(LedgerDatabase.sharedPace(watched))
        )
        yield* display.summary(summary)
        yield* ExitCode.settle(ExitCode.ofOutcome(summary.outcome))
      }))
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(
    "Follow a campaign's posts: poll every --every, message new matching commenters with the same ledger, pacing and " +
      "guarantees as `run`. Stops paging a post at the first page it has seen before. The daily DM limit pauses " +
      "sends until the campaign's daily_reset, then one real message probes every 15 minutes; rate limits slow the " +
      "polling down. A post whose pages loop is read up to the repeated cursor and reported; with --once that exits " +
      "1. A paused campaign (active: false) keeps the watcher up, reading and sending nothing, until its file says " +
      "active again. Several watchers of a campaign on one PostgreSQL ledger share its posts, each read by one of " +
      "them at a time (docs/several-runners.md; --once reads every post). SIGINT/SIGTERM settle sends in flight and " +
      "exit 130."
  ),
  (self) => Command.provide(self, (args) => Workspace.layer(args, Workspace.budgetedUploadPost))
)

const statusCommand = Command.make("status", { campaignFile, db, json }, (args) =>
  Effect.gen(function*() {
    const report = yield* Effect.flatMap(CampaignFile.Campaign, Status.report)
    yield* Effect.sync(() =>
      process.stdout.write(`${args.json ? visible(JSON.stringify(report)) : Status.render(report)}\n`)
    )
    yield* ExitCode.settle(report.unaccounted === 0 ? ExitCode.ExitCode.Settled : ExitCode.ExitCode.Failure)
  })).pipe(
    Command.withDescription(
      "Account for every matching commenter of a campaign (sent, refused with reasons, pending, in doubt) and say " +
        "what `run` would do next. Reads the ledger only."
    ),
    (self) => Command.provide(self, (args) => Workspace.layer(args, Workspace.noPlatform, { readOnlyIntent: true }))
  )

const reconcileCommand = Command.make("reconcile", { campaignFile, db }, () =>
  Effect.gen(function*() {
    const spec = yield* CampaignFile.Campaign
    yield* Claimant.recoverLeftoverClaims(yield* Ledger.Ledger, spec.name)
    const outcome = yield* Reconcile.run(spec)
    const lines = [
      `${outcome.sent} found sent, ${outcome.pending} not sent (pending: the next run sends them), ` +
      `${outcome.unresolved} still in doubt` +
      (outcome.uncovered > 0
        ? ` (${Display.uncoveredText(outcome.uncovered, Option.getOrUndefined(outcome.conversations))})`
        : "")
    ]
    if (outcome.retried > 0) {
      lines.push(
        `${outcome.retried} private ${outcome.retried === 1 ? "reply" : "replies"} in doubt: the next run retries ` +
          "them (the platform refuses a second private reply to one comment, which settles them sent)"
      )
    }
    if (Option.isSome(outcome.failure)) {
      lines.push(`the conversations could not be read: ${outcome.failure.value.message}`)
      lines.push("people in doubt stay in doubt and are not resent; try `comment-dm reconcile` again later")
    }
    yield* Effect.sync(() => process.stdout.write(`${lines.map(visible).join("\n")}\n`))
    yield* ExitCode.settle(
      outcome.unresolved + outcome.retried === 0 ? ExitCode.ExitCode.Settled : ExitCode.ExitCode.Incomplete
    )
  })).pipe(
    Command.withDescription(
      "Resolve people in doubt (a DM that may have gone out) by reading the conversations endpoint: a message " +
        "found -> sent; none, where the answer lists the person's conversation back to before the claim -> pending; " +
        "otherwise they stay in doubt (the answer may be incomplete). Private replies in doubt are left to `run`, " +
        "which retries them. Runs automatically at the start of every `run`."
    ),
    (self) => Command.provide(self, (args) => Workspace.layer(args, Workspace.budgetedUploadPost))
  )

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
      const spec = yield* CampaignFile.Campaign
      const store = yield* Ledger.Ledger
      yield* store.entries(spec.name).pipe(
        // CSV keeps the data as stored (quoted); a JSON line keeps it too, with controls as JSON escapes.
        Stream.map(args.format === "csv" ? Status.csvRow : (entry) => visible(Status.jsonLine(entry))),
        args.format === "csv" ? Stream.prepend(Chunk.of(Status.csvHeader)) : (self) => self,
        Stream.runForEach((line) => Effect.sync(() => process.stdout.write(`${line}\n`)))
      )
    })
).pipe(
  Command.withDescription(
    "Write the campaign's ledger (one row per matching commenter) as CSV or JSONL. A CSV cell that starts with =, " +
      "+, -, @, a tab or a carriage return gets a leading ' so that a spreadsheet shows it as text, not as a formula."
  ),
  (self) => Command.provide(self, (args) => Workspace.layer(args, Workspace.noPlatform, { readOnlyIntent: true }))
)

const reportCommand = Command.make(
  "report",
  {
    campaignFile,
    db,
    out: Options.text("out").pipe(
      Options.withDescription(
        "the HTML file to write (default report.html); an earlier report there is replaced, any other file is refused"
      ),
      Options.withDefault("report.html"),
      Options.filterMap(
        (path) => path.trim() === "" ? Option.none() : Option.some(path),
        "--out expects the path of the HTML file to write"
      )
    ),
    anonymize: Options.boolean("anonymize").pipe(
      Options.withDescription("hide the commenters' usernames, user ids and comment texts")
    ),
    json
  },
  (args) =>
    Effect.gen(function*() {
      const model = yield* Report.gather(yield* CampaignFile.Campaign, { anonymize: args.anonymize })
      yield* Report.write(args.out, model)
      const done = `report written to ${args.out}: ${model.funnel.matched} matching people, ` +
        `${model.funnel.reached} reached`
      yield* Effect.sync(() => process.stdout.write(`${visible(args.json ? JSON.stringify(model) : done)}\n`))
    })
).pipe(
  Command.withDescription(
    "Write the campaign's report: one self-contained HTML file to send on (no network needed to view it): the " +
      "funnel, outcomes and reasons per step, sends over time, private replies close to their 7-day deadline, the " +
      "keywords that matched, the split between message variants and the settings (never a key). Reads the ledger only."
  ),
  (self) => Command.provide(self, (args) => Workspace.layer(args, Workspace.noPlatform, { readOnlyIntent: true }))
)

const dashboardCommand = Command.make(
  "dashboard",
  {
    db,
    http: Options.text("http").pipe(
      Options.withDescription(
        `the address to serve on, HOST:PORT (default ${Dashboard.defaultAddress}); any address but a loopback one ` +
          "needs a token"
      ),
      Options.withDefault(Dashboard.defaultAddress)
    ),
    tokenFile: Options.file("token-file").pipe(
      Options.withDescription("a file whose first line is the token (default: $COMMENT_DM_DASHBOARD_TOKEN)"),
      Options.optional
    )
  },
  (args) =>
    Effect.gen(function*() {
      const address = yield* Dashboard.parseAddress(args.http)
      const environment = yield* Effect.orElseSucceed(Config.string("COMMENT_DM_DASHBOARD_TOKEN"), () => undefined)
      const token = yield* Dashboard.tokenFrom(environment, Option.getOrUndefined(args.tokenFile))
      yield* Dashboard.serve({
        address,
        location: yield* LedgerDatabase.resolve(args.db),
        token,
        announce: (url) => Effect.sync(() => process.stdout.write(`dashboard: ${url}\n`))
      })
    })
).pipe(
  Command.withDescription(
    "Serve a read-only web page over the ledger: every campaign with the report's views and each profile's health " +
      "(the watchers' heartbeats, the daily-limit pause, rate-limit slow-downs, people in doubt), kept live while " +
      "`run` or `watch` write to the same ledger. Bound to a non-loopback address it asks for the token " +
      "(COMMENT_DM_DASHBOARD_TOKEN or --token-file) once, as ?token= or a header, then keeps a cookie."
  ),
  (self) =>
    Command.provide(self, (args) =>
      Layer.unwrapEffect(
        // Not read-only intent: a dashboard started before the first run shows the ledger that run then writes.
        Effect.map(LedgerDatabase.resolve(args.db), (location) => LedgerDatabase.layer(location))
      ))
)

const doctorCommand = DoctorDisplay.command({ api: Workspace.uploadPost, settle: ExitCode.settle, db })

export const command = Command.make("comment-dm").pipe(
  Command.withDescription(
    "Comment-to-DM campaigns on the Upload-Post API: everyone whose comment matches gets one message (a DM, or a " +
      "private reply to their comment), exactly once. " +
      "Environment: UPLOAD_POST_API_KEY, UPLOAD_POST_BASE_URL (default https://api.upload-post.com/api), " +
      "COMMENT_DM_DB."
  ),
  Command.withSubcommands([
    runCommand,
    watchCommand,
    statusCommand,
    reconcileCommand,
    exportCommand,
    reportCommand,
    // Ctrl-C is how a dashboard ends; it only reads, so it has no claims to speak of either.
    Command.transformHandler(
      dashboardCommand,
      (effect) => Effect.flatMap(Signals, (signals) => signals.withoutClaims(effect))
    ),
    doctorCommand,
    suppressCommand,
    forgetCommand({ db, json }),
    pruneCommand({ db, json }),
    Serve.command({ db }),
    // Ctrl-C stops the sandbox quietly: it holds no claims to speak of.
    Command.transformHandler(
      sandboxCommand,
      (effect) => Effect.flatMap(Signals, (signals) => signals.withoutClaims(effect))
    )
  ])
)

const about = { name: "comment-dm", version: "0.1.0" } as const

export const cli = Command.run(command, about)

// ---------------------------------------------------------------------------------------------------------------
// Exit codes

/** Says why the command stopped, on stderr, and answers `code`. */
const stoppedBy = (code: ExitCode.ExitCode, message: string) =>
  Effect.as(Effect.sync(() => process.stderr.write(`comment-dm: ${message}\n`)), code)

/** A failure's message; any may quote the platform or a setting, so it is made visible. */
const failure = (code: ExitCode.ExitCode) => (error: { readonly message: string }) =>
  stoppedBy(code, visible(error.message))

/**
 * The command line run to its end, answered with its exit code (DESIGN.md, "Command contract"): 0 when everything is
 * settled, the code a subcommand's outcome gives, or the one its failure gives. Only an interruption is left.
 * A help page (asked for, or no arguments at all) is laid out here, from the HelpDoc @effect/cli makes for it.
 */
export const main = (
  argv: ReadonlyArray<string>
): Effect.Effect<ExitCode.ExitCode, never, CliApp.CliApp.Environment | Signals> =>
  HelpOutput.pageFor(command, argv.slice(2), { ...about, environment: { "--db": "COMMENT_DM_DB" } }, {
    suppress: suppressCommand
  }).pipe(
    Effect.flatMap(Option.match({
      onSome: (page) => Effect.as(Console.log(HelpOutput.render(page)), ExitCode.ExitCode.Settled),
      onNone: () => run(argv)
    }))
  )

const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<ExitCode.ExitCode, never, CliApp.CliApp.Environment | Signals> =>
  cli(argv).pipe(
    Effect.as<ExitCode.ExitCode>(ExitCode.ExitCode.Settled),
    // The CLI library has already printed its own usage errors.
    Effect.catchIf(ValidationError.isValidationError, () => Effect.succeed(ExitCode.ExitCode.Configuration)),
    Effect.catchIf(ConfigError.isConfigError, failure(ExitCode.ExitCode.Configuration)),
    Effect.catchTags({
      Unsettled: (unsettled) => Effect.succeed(unsettled.code),
      // Only a campaign file's problems and a suppress command's (one a row or argument, each quoted) come in lines
      // of our making.
      CampaignFileError: (error) => stoppedBy(ExitCode.ExitCode.Configuration, visibleLines(error.message)),
      SuppressUsageError: (error) => stoppedBy(ExitCode.ExitCode.Configuration, visibleLines(error.message)),
      DatabaseUrlError: failure(ExitCode.ExitCode.Configuration),
      // `report --out` names a place that cannot be written.
      ReportFileError: failure(ExitCode.ExitCode.Configuration),
      LedgerLocationError: failure(ExitCode.ExitCode.Configuration),
      // `comment-dm serve` given a folder it cannot list, or an --http address it cannot open.
      FolderError: failure(ExitCode.ExitCode.Configuration),
      EndpointError: failure(ExitCode.ExitCode.Configuration),
      // `dashboard` given an --http address it cannot open (@effect/platform's own error).
      ServeError: failure(ExitCode.ExitCode.Configuration),
      // `dashboard`: an address, or a token, that cannot be used.
      AddressError: failure(ExitCode.ExitCode.Configuration),
      TokenError: failure(ExitCode.ExitCode.Configuration),
      TokenMissing: failure(ExitCode.ExitCode.Configuration),
      // `comment-dm sandbox` given a data set it cannot read.
      DataSetError: failure(ExitCode.ExitCode.Configuration),
      // A read outside a run (the account's identity) answered with the daily limit.
      DailyLimitReached: failure(ExitCode.ExitCode.DailyLimit),
      InvalidRequest: failure(ExitCode.ExitCode.Configuration),
      Unauthorized: failure(ExitCode.ExitCode.Unauthorized),
      // A ledger that a newer version has upgraded: this installation needs upgrading.
      LedgerError: (error) =>
        failure(
          Predicate.isTagged(error.cause, "LedgerSchemaTooNew")
            ? ExitCode.ExitCode.Configuration
            : ExitCode.ExitCode.Failure
        )(error),
      RateLimited: failure(ExitCode.ExitCode.Failure),
      Transient: failure(ExitCode.ExitCode.Failure),
      MalformedResponse: failure(ExitCode.ExitCode.Failure),
      UnrecognisedRefusals: failure(ExitCode.ExitCode.Failure)
    }),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : stoppedBy(
        ExitCode.ExitCode.Failure,
        `unexpected failure\n${visibleLines(Cause.pretty(cause))}`
      )
    )
  )
