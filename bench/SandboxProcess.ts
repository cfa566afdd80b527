/**
 * The sandbox in its own process (the bundle of `packages/sandbox/src/main.ts` that `pnpm build` writes, with plain
 * Node), so that its work never shares an event loop with the client being measured. Driven through its control API
 * over HTTP.
 */
import { Control } from "@comment-dm/sandbox"
import type { HttpClient } from "@effect/platform"
import { Duration, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as NodeProcess from "./internal/NodeProcess.js"
import * as BenchSettings from "./Settings.js"

export interface Settings {
  /** Comments per generated post; absent: the demo data set. */
  readonly comments?: number
  readonly posts?: number
  readonly people?: number
  readonly matchRatio?: number
  /** Latency of every API answer, in ms. */
  readonly latencyMs?: number
  readonly dailyLimit?: number
  readonly seed?: number
}

export interface RunningSandbox {
  readonly baseUrl: string
  readonly apiKey: string
  readonly profile: string
  readonly postIds: ReadonlyArray<string>
  readonly control: Control.SandboxControl<Control.ControlRequestFailed>
  /** The command line that started it, for the results file. */
  readonly commandLine: string
}

const script = "build/bin/sandbox.mjs"

/** The benchmarks measure sending, not the messaging window: every person can be DMed (`--open-windows`). */
export const flags = (settings: Settings): Array<string> => [
  "--port",
  "0",
  "--open-windows",
  "--seed",
  String(settings.seed ?? 1),
  ...(settings.comments === undefined ? [] : ["--comments", String(settings.comments)]),
  ...(settings.posts === undefined ? [] : ["--posts", String(settings.posts)]),
  ...(settings.people === undefined ? [] : ["--people", String(settings.people)]),
  ...(settings.matchRatio === undefined ? [] : ["--match-ratio", String(settings.matchRatio)]),
  ...(settings.latencyMs === undefined ? [] : ["--latency", String(settings.latencyMs)]),
  ...(settings.dailyLimit === undefined ? [] : ["--daily-limit", String(settings.dailyLimit)])
]

/**
 * One generated post of `comments` comments from half as many people, 40% of them asking for the guide, with every
 * answer `latencyMs` late: the data set of the throughput, overhead and pacing benchmarks.
 */
export const guidePost = (comments: number, latencyMs: number): Settings => ({
  comments,
  people: comments / 2,
  matchRatio: 0.4,
  latencyMs,
  dailyLimit: BenchSettings.noDailyLimit,
  seed: BenchSettings.seed
})

/** Starts a sandbox for the lifetime of the scope and waits until it serves. */
export const start = (
  settings: Settings
): Effect.Effect<RunningSandbox, NodeProcess.ProcessError, Scope.Scope | HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const args = flags(settings)
    if (!Fs.existsSync(Path.join(NodeProcess.repositoryRoot, script))) {
      return yield* new NodeProcess.ProcessError({ command: script, reason: "missing: run `pnpm build` first" })
    }
    const running = yield* NodeProcess.serve(script, args, { plain: true })
    const expectedPosts = settings.comments === undefined ? 3 : settings.posts ?? 1
    // The sandbox prints its base URL, its profile and its post ids once it listens.
    const settled = () => running.lines().length >= 2 + expectedPosts || running.child.exitCode !== null
    yield* Effect.sync(settled).pipe(
      Effect.repeat({ until: (done) => done, schedule: Schedule.spaced(Duration.millis(50)) }),
      Effect.timeoutFail({
        duration: Duration.seconds(60),
        onTimeout: () => new NodeProcess.ProcessError({ command: script, reason: "did not start within 60 s" })
      })
    )
    const lines = running.lines()
    if (lines.length < 2 + expectedPosts) {
      return yield* new NodeProcess.ProcessError({ command: script, reason: "exited before serving" })
    }
    const [baseUrl = "", profile = "", ...postIds] = lines
    const apiKey = "sandbox-key"
    const control = yield* Control.remote({ baseUrl, apiKey })
    return { baseUrl, apiKey, profile, postIds, control, commandLine: `pnpm sandbox ${args.join(" ")}` }
  })
