#!/usr/bin/env node
/**
 * The `comment-dm` executable: runs the CLI, maps every outcome and failure to the documented exit code.
 */
import { NodeContext } from "@effect/platform-node"
import { Cause, Effect, Exit, Option, Ref } from "effect"
import { CampaignFileError } from "./CampaignFile.js"
import { cli, ExitStatus } from "./Cli.js"
import * as ExitCode from "./ExitCode.js"
import * as HelpOutput from "./HelpOutput.js"
import * as Signals from "./Signals.js"
import { visible, visibleLines } from "./Visible.js"

const isCliValidationError = (error: unknown) =>
  typeof error === "object" && error !== null && "_tag" in error &&
  typeof error._tag === "string" &&
  /^(CommandMismatch|CorrectedFlag|HelpRequested|InvalidArgument|InvalidValue|MissingValue|MissingFlag|MultipleValuesDetected|MissingSubcommand|NoBuiltInMatch|UnclusteredFlag)$/
    .test(error._tag)

const main = Effect.gen(function*() {
  const status = yield* Ref.make<ExitCode.ExitCode>(ExitCode.ExitCode.Settled)
  const exit = yield* Effect.exit(
    cli(process.argv).pipe(
      HelpOutput.mended("comment-dm"),
      Effect.provideService(ExitStatus, status),
      Effect.provide(NodeContext.layer)
    )
  )
  if (Exit.isSuccess(exit)) return yield* Ref.get(status)
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    // The CLI library has already printed its own usage errors.
    if (isCliValidationError(error)) return ExitCode.ExitCode.Configuration
    const message = typeof error === "object" && error !== null && "message" in error
      ? String(error.message)
      : String(error)
    // Only a campaign file's problems come in lines of our making; any other message may quote the platform.
    const shown = error instanceof CampaignFileError ? visibleLines(message) : visible(message)
    yield* Effect.sync(() => process.stderr.write(`comment-dm: ${shown}\n`))
    return ExitCode.ofError(error)
  }
  if (Cause.isInterruptedOnly(exit.cause)) return ExitCode.ExitCode.Interrupted
  yield* Effect.sync(() =>
    process.stderr.write(`comment-dm: unexpected failure\n${visibleLines(Cause.pretty(exit.cause))}\n`)
  )
  return ExitCode.ExitCode.Failure
})

// A reader that goes away is not an error of ours: `comment-dm export ... | head` ends quietly, while a run stops new
// sends, settles the sends in flight and exits with the code its outcome gives (never 0 while people are pending).
for (const [name, stream] of [["stdout", process.stdout], ["stderr", process.stderr]] as const) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error
    if (!Signals.outputClosed(name)) process.exit(process.exitCode ?? 0)
  })
}

Signals.install(() => {
  process.stderr.write("\nstopped at once; claims left open are reconciled at the next start\n")
  process.exit(ExitCode.ExitCode.Interrupted)
})

/** Resolves once everything written to the stream so far has been handed to the system (a slow pipe included). */
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write("", () => resolve()))

Effect.runPromise(main).then(async (code) => {
  process.exitCode = code
  // Output still queued for a slow reader (`comment-dm export | gzip`) must arrive whole before any forced exit.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)])
  // Idle keep-alive sockets must not hold the process open once the work is done.
  setTimeout(() => process.exit(code), 1_000).unref()
})
