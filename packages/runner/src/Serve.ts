/**
 * `comment-dm serve <folder>`: every campaign file of a folder watched in one process, on one ledger (see
 * serve/Supervisor.ts), with a log of one line per happening (serve/Log.ts) and, with `--http`, `/healthz` and
 * `/metrics` (serve/Http.ts). It ends only on SIGINT/SIGTERM (sends in flight settled first, exit 130) or for the
 * process's own failures: the ledger failing (exit 1), a bad flag or a folder that does not exist (exit 2).
 */
import { KeepAliveHttpClient, UploadPost } from "@comment-dm/core"
import { Args, Command, Options } from "@effect/cli"
import { Config, Data, Duration, Effect, Option } from "effect"
import * as ExitCode from "./ExitCode.js"
import * as Interval from "./Interval.js"
import * as LedgerDatabase from "./LedgerDatabase.js"
import * as PostSharing from "./PostSharing.js"
import * as Folder from "./serve/Folder.js"
import * as Health from "./serve/Health.js"
import * as Http from "./serve/Http.js"
import * as Log from "./serve/Log.js"
import * as Supervisor from "./serve/Supervisor.js"
import { Signals } from "./Signals.js"

/** The HTTP endpoint could not be opened (the port taken, the address not this machine's). */
export class EndpointError extends Data.TaggedError("EndpointError")<{ readonly detail: string }> {
  override get message() {
    return this.detail
  }
}

/** How often the folder is listed for added, edited and removed files. */
const rescan = Duration.seconds(2)

export const command = (options: {
  readonly db: Options.Options<Option.Option<LedgerDatabase.Given>>
}) =>
  Command.make(
    "serve",
    {
      folder: Args.text({ name: "folder" }).pipe(
        Args.withDescription("the folder of campaign files (*.yaml, *.yml, *.json; subfolders are not read)")
      ),
      db: options.db,
      http: Options.text("http").pipe(
        Options.withDescription("serve /healthz and /metrics on HOST:PORT, e.g. 127.0.0.1:8642 (0 for a free port)"),
        Options.withSchema(Http.AddressFromText),
        Options.optional
      ),
      every: Options.text("every").pipe(
        Options.withDescription("time between polls of each campaign, e.g. 60s, 2m (default 60s; at least 1s)"),
        Options.withDefault("60s"),
        Options.withSchema(Interval.Interval)
      ),
      logFormat: Options.choice("log-format", ["text", "json"]).pipe(
        Options.withDescription("text (default) or json: one JSON object a line, with campaign, profile and person"),
        Options.withDefault("text" as const)
      ),
      retryParked: Options.text("retry-parked").pipe(
        Options.withDescription(
          "how long a parked campaign (its key or account refused, or the campaign called invalid) waits before it " +
            "tries again (default 15m)"
        ),
        Options.withDefault("15m"),
        Options.withSchema(Interval.forFlag("--retry-parked"))
      )
    },
    (args) =>
      Effect.gen(function*() {
        const signals = yield* Signals
        const log = Log.make(args.logFormat)
        // What the process cannot run without is checked before anything starts.
        yield* Folder.check(args.folder)
        const location = yield* LedgerDatabase.resolve(args.db)
        // Several processes on one PostgreSQL ledger share each campaign's posts; a SQLite ledger is one machine's.
        const lease = yield* PostSharing.lease
        const baseUrl = yield* Config.string("UPLOAD_POST_BASE_URL").pipe(
          Config.withDefault(UploadPost.defaultBaseUrl),
          Effect.flatMap((url) => UploadPost.checkBaseUrl(url, "UPLOAD_POST_BASE_URL"))
        )
        if (Duration.lessThan(args.every, Duration.seconds(15)) && !UploadPost.isLoopbackUrl(baseUrl)) {
          yield* log.write(
            "warn",
            `polling every ${Duration.format(args.every)}; against the real API an interval under 15s spends the ` +
              "request-rate budget quickly, and every campaign of a profile draws on the same budget"
          )
        }
        const board = new Health.Board()
        yield* signals.stoppable(
          Effect.gen(function*() {
            if (Option.isSome(args.http)) {
              const address = yield* Http.serve(args.http.value, board).pipe(
                Effect.mapError((error) =>
                  new EndpointError({
                    detail: `--http ${
                      args.http.pipe(
                        Option.map(Http.format),
                        Option.getOrElse(() => "")
                      )
                    }: ${error.message}`
                  })
                )
              )
              yield* log.write("info", `health on ${address}/healthz, metrics on ${address}/metrics`, {
                event: "Listening"
              })
            }
            yield* log.write("info", `serving the campaign files of ${args.folder}`, { event: "Serving" })
            const ending = yield* Supervisor.run({
              folder: args.folder,
              every: args.every,
              retryParked: args.retryParked,
              rescan,
              log,
              board
            })
            yield* log.write("info", "stopped: every campaign's sends in flight are settled", { event: "Stopped" })
            yield* ExitCode.settle(ending === "interrupted" ? ExitCode.ExitCode.Interrupted : ExitCode.ExitCode.Failure)
          }).pipe(
            Effect.scoped,
            PostSharing.sharing(lease),
            Effect.provide(LedgerDatabase.layer(location)),
            Effect.provide(KeepAliveHttpClient.layer())
          )
        )
      })
  ).pipe(Command.withDescription(
    "Watch every campaign file of a folder in one process, on one ledger: files added, edited or removed are " +
      "picked up while it runs (an edited campaign restarts once its sends in flight settle; a file that breaks is " +
      "reported and its campaign keeps its last good version; two files with one name are both refused). Each " +
      "campaign's key is the variable its api_key_env names (default UPLOAD_POST_API_KEY); a profile's pace and " +
      "daily limit are shared by its campaigns. Several serve processes on one PostgreSQL ledger share the posts: " +
      "each post is read by one of them at a time (docs/several-runners.md). A campaign whose key, account or file the platform refuses is " +
      "parked and tried again every --retry-parked; the others go on. Exits only on SIGINT/SIGTERM (130, sends in " +
      "flight settled), a ledger failure (1), or a bad flag or folder (2)."
  ))
