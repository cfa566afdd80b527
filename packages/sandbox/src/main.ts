/**
 * The `sandbox` executable (bundled to build/bin/sandbox.mjs): the command of bin.ts, on its own.
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { command } from "./bin.js"

const cli = Command.run(command, { name: "sandbox", version: "0.1.0" })

cli(process.argv).pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
