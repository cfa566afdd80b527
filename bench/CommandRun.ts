/**
 * The real `comment-dm` command in a child process, as a user runs it (`pnpm comment-dm ...`), measured from the
 * outside (wall time) and from the inside (peak memory and CPU time).
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as NodeProcess from "./internal/NodeProcess.js"
import type { RunningSandbox } from "./SandboxProcess.js"

export const bin = "packages/runner/src/bin.ts"

/** The `--json` summary, the last line of stdout. */
export interface JsonSummary {
  readonly outcome: string
  readonly counts: Readonly<Record<string, number>>
  readonly elapsed_ms: number
}

export interface Result extends NodeProcess.Finished {
  readonly summary: JsonSummary | undefined
}

export const environment = (sandbox: RunningSandbox): Record<string, string> => ({
  UPLOAD_POST_BASE_URL: sandbox.baseUrl,
  UPLOAD_POST_API_KEY: sandbox.apiKey
})

const parseSummary = (stdout: string): JsonSummary | undefined => {
  const last = stdout.trim().split("\n").at(-1)
  if (last === undefined || !last.startsWith("{")) return undefined
  try {
    return JSON.parse(last)
  } catch {
    return undefined
  }
}

export const run = (
  args: ReadonlyArray<string>,
  options: NodeProcess.Options = {}
): Effect.Effect<Result, NodeProcess.ProcessError> =>
  Effect.map(
    NodeProcess.run(bin, args, options),
    (finished) => ({ ...finished, summary: parseSummary(finished.stdout) })
  )

/** Writes a campaign file (JSON, which is also YAML) into `dir` and returns its path. */
export const writeCampaign = (dir: string, name: string, campaign: object): string => {
  const path = Path.join(dir, name)
  Fs.writeFileSync(path, JSON.stringify(campaign, null, 2))
  return path
}

/** The start of a failed command's error output, for the results file. */
export const failure = (result: NodeProcess.Finished): string =>
  `exit ${result.code}: ${result.stderr.trim().split("\n").slice(0, 2).join(" ").slice(0, 200)}`
