/**
 * The real `comment-dm` command in a child process, as a user runs it (`pnpm comment-dm ...`: the bundle
 * build/bin/comment-dm.mjs with plain Node, built by `pnpm build`), measured from the outside (wall time) and from the
 * inside (peak memory and CPU time).
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as NodeProcess from "./internal/NodeProcess.js"
import type { RunningSandbox } from "./SandboxProcess.js"

export const bin = "build/bin/comment-dm.mjs"

/** The command from its TypeScript sources through the tsx loader, for comparison with the bundle. */
export const sourceBin = "packages/runner/src/bin.ts"

/**
 * What internal/resourceUsage.ts does, as a module Node loads without tsx: on exit, the child writes its own
 * `process.resourceUsage()` to the file named by COMMENT_DM_BENCH_USAGE_FILE.
 */
const usagePreload = `--import=data:text/javascript,${
  encodeURIComponent(
    "import { writeFileSync } from \"node:fs\"\n" +
      "const target = process.env.COMMENT_DM_BENCH_USAGE_FILE\n" +
      "if (target !== undefined) process.on(\"exit\", () => writeFileSync(target, JSON.stringify(process.resourceUsage())))"
  )
}`

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

const readUsage = (file: string): NodeProcess.Usage | undefined => {
  if (!Fs.existsSync(file)) return undefined
  const usage: NodeJS.ResourceUsage = JSON.parse(Fs.readFileSync(file, "utf8"))
  return {
    maxRssBytes: usage.maxRSS * 1024,
    userCpuMillis: usage.userCPUTime / 1000,
    systemCpuMillis: usage.systemCPUTime / 1000
  }
}

const missingBundle = Effect.suspend(() =>
  Fs.existsSync(Path.join(NodeProcess.repositoryRoot, bin))
    ? Effect.void
    : Effect.fail(new NodeProcess.ProcessError({ command: bin, reason: "missing: run `pnpm build` first" }))
)

/** Runs the bundle with plain Node; with `measure`, the child reports its peak memory and CPU time. */
export const run = (
  args: ReadonlyArray<string>,
  options: NodeProcess.Options = {}
): Effect.Effect<Result, NodeProcess.ProcessError> =>
  Effect.zipRight(
    missingBundle,
    Effect.acquireUseRelease(
      Effect.sync(() =>
        options.measure === true ? Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-bench-usage-")) : undefined
      ),
      (usageDir) => {
        const usageFile = usageDir === undefined ? undefined : Path.join(usageDir, "usage.json")
        return Effect.map(
          NodeProcess.run(bin, args, {
            ...options,
            plain: true,
            measure: false,
            nodeFlags: [...(options.nodeFlags ?? []), ...(usageFile === undefined ? [] : [usagePreload])],
            env: { ...options.env, ...(usageFile === undefined ? {} : { COMMENT_DM_BENCH_USAGE_FILE: usageFile }) }
          }),
          (finished) => ({
            ...finished,
            usage: usageFile === undefined ? undefined : readUsage(usageFile),
            summary: parseSummary(finished.stdout)
          })
        )
      },
      (usageDir) =>
        Effect.sync(() => {
          if (usageDir !== undefined) Fs.rmSync(usageDir, { recursive: true, force: true })
        })
    )
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
