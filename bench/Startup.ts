/**
 * Start-up: the wall time of `comment-dm --help` and of a run over a post without comments (fresh ledger each time),
 * median of several runs, beside the floor (Node alone) and the same `--help` run from the TypeScript sources with
 * tsx, which is what the bundle saves.
 */
import { Effect } from "effect"
import * as Path from "node:path"
import * as BenchError from "./BenchError.js"
import * as CommandRun from "./CommandRun.js"
import * as NodeProcess from "./internal/NodeProcess.js"
import * as TempDir from "./internal/TempDir.js"
import * as Report from "./Report.js"
import * as SandboxProcess from "./SandboxProcess.js"
import * as Settings from "./Settings.js"
import * as Stats from "./Stats.js"

const emptyPost = "bench-empty-post"
const quietPost = "bench-quiet-post"

interface Timed {
  readonly label: string
  readonly command: string
  readonly walls: ReadonlyArray<number>
  /** User + system CPU time: less disturbed than wall time by other work on the machine. */
  readonly cpus: ReadonlyArray<number>
  /** Why a run failed, if one did. */
  readonly failure: string | undefined
}

export const run = (mode: Settings.Mode) =>
  Effect.gen(function*() {
    const repeats = Settings.pick(mode, { full: 7, quick: 3 })
    const sandbox = yield* SandboxProcess.start({ seed: Settings.seed })
    yield* sandbox.control.addPost({ id: emptyPost, comments: [] })
    yield* sandbox.control.addPost({
      id: quietPost,
      comments: [{
        id: "bench-quiet-comment",
        text: "love this",
        timestamp: new Date().toISOString(),
        user: { id: "17841400000000001", username: "quiet.viewer" }
      }]
    })
    const dir = yield* TempDir.make("startup")
    const campaignFor = (post: string) =>
      CommandRun.writeCampaign(dir, `${post}.json`, {
        name: `startup-${post}`,
        platform: "instagram",
        user: sandbox.profile,
        posts: [post],
        match: { keywords: ["guide"] },
        message: "Hi @{{username}}, here is your guide: https://example.com/guide"
      })

    const time = (
      label: string,
      command: string,
      once: (index: number) => Effect.Effect<NodeProcess.Finished, NodeProcess.ProcessError>
    ) =>
      Effect.gen(function*() {
        const walls: Array<number> = []
        const cpus: Array<number> = []
        let failure: string | undefined
        for (let index = 0; index < repeats; index++) {
          const result = yield* once(index)
          walls.push(result.wallMillis)
          cpus.push(result.usage === undefined ? Number.NaN : result.usage.userCpuMillis + result.usage.systemCpuMillis)
          if (result.code !== 0 && failure === undefined) failure = CommandRun.failure(result)
        }
        return { label, command, walls, cpus, failure } satisfies Timed
      })

    const runOver = (post: string) => {
      const campaign = campaignFor(post)
      return (index: number) =>
        CommandRun.run(["run", campaign, "--db", Path.join(dir, `${post}-${index}.sqlite`), "--json"], {
          env: CommandRun.environment(sandbox),
          measure: true
        })
    }

    const node = yield* time("Node alone", "node -e 0", () => NodeProcess.run("-e", ["0"], { plain: true }))
    const source = yield* time(
      "comment-dm --help from the sources",
      `node --import tsx ${CommandRun.sourceBin} --help`,
      () => NodeProcess.run(CommandRun.sourceBin, ["--help"], { measure: true })
    )
    const help = yield* time("comment-dm --help", `node ${CommandRun.bin} --help`, () =>
      CommandRun.run(["--help"], { measure: true }))
    const empty = yield* time(
      "comment-dm run, post without comments",
      `node ${CommandRun.bin} run campaign.json --db fresh.sqlite --json`,
      runOver(emptyPost)
    )
    const quiet = yield* time(
      "comment-dm run, post with one comment that does not match",
      "the same, on a post with one comment",
      runOver(quietPost)
    )
    const floor = Stats.median(node.walls)
    const figureOf = (entry: Timed): Report.Figure => {
      const middle = Stats.median(entry.walls)
      return {
        label: entry.label,
        value: `${Report.millis(middle)} median (${entry.walls.map(Report.millis).join(", ")})` +
          (entry.cpus.some(Number.isNaN) ? "" : `, CPU ${Report.millis(Stats.median(entry.cpus))}`) +
          (entry === node ? "" : `; ${Report.millis(middle - floor)} above Node alone`) +
          (entry.failure === undefined ? "" : `; FAILED: ${entry.failure}`),
        ...(entry === help || entry === empty
          ? { target: "exits 0 (time measured, no target)", met: entry.failure === undefined }
          : {})
      }
    }

    return {
      title: "Start-up",
      settings: [
        `Sandbox (own process): \`${sandbox.commandLine}\`, demo data plus a post without comments and a post ` +
        "with one comment added through its control API",
        ...[node, source, help, empty, quiet].map((entry) =>
          `${entry.label}: \`${entry.command}\``
        ),
        `Median of ${repeats} runs each; every \`run\` gets a fresh ledger file`
      ],
      figures: [node, source, help, empty, quiet].map(figureOf),
      notes: []
    }
  }).pipe(BenchError.within("startup"))
