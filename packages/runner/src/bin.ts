#!/usr/bin/env node
/**
 * The `comment-dm` executable: runs the command line and ends the process with its exit code.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { main } from "./Cli.js"
import * as ExitCode from "./ExitCode.js"
import * as HelpOutput from "./HelpOutput.js"
import { Signals } from "./Signals.js"

main(process.argv).pipe(
  // Help and usage errors without colour codes in a pipe or under NO_COLOR, and usage lines that name the command.
  HelpOutput.mended("comment-dm"),
  Effect.flatMap((code) => Effect.sync(() => (process.exitCode = code))),
  Effect.provide(Layer.merge(NodeContext.layer, Signals.Default)),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true, teardown: ExitCode.teardown })
)
