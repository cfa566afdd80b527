/**
 * Watch mode: time-to-DM and memory over a long watch, with the real `comment-dm watch` command in a child process
 * against a sandbox in another process.
 *
 * - Time-to-DM: comments asking for the guide are added to the sandbox at random moments (seeded) while a watcher
 *   runs at `--every 10s` and at `--every 2s`; each is measured from just before the control request that adds it to
 *   the `at` the sandbox records for its DM. Target: median at most half the interval plus 1 s.
 * - Memory: the watcher's resident set size, read from the system after each poll of a long watch at `--every 1s`
 *   (a new comment every fifth poll), at the start and at the end; and what a poll costs in comment pages.
 *
 * `npx tsx bench/watch.ts [--quick]` prints the section as Markdown; `bench/run.ts` takes `run` as one benchmark.
 */
import type { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Duration, Effect, Random } from "effect"
import type { Scope } from "effect"
import * as Path from "node:path"
import * as Url from "node:url"
import { parseArgs } from "node:util"
import * as CommandRun from "./CommandRun.js"
import * as TempDir from "./internal/TempDir.js"
import * as Machine from "./Machine.js"
import * as Report from "./Report.js"
import * as SandboxProcess from "./SandboxProcess.js"
import * as Settings from "./Settings.js"
import * as Stats from "./Stats.js"
import * as Watcher from "./watch-watcher.js"

/** Old comments on each measured post: a realistic reel, read in full once, then one page a quiet poll. */
const oldComments = 300
/** The post of the memory run that has more comments than the watcher remembers per post (1,000 ids). */
const bigPostComments = 2_000

const message = "Hi @{{username}}, here is your guide: https://example.com/guide"

const campaignFile = (dir: string, name: string, user: string, posts: ReadonlyArray<string>) =>
  CommandRun.writeCampaign(dir, `${name}.json`, {
    name,
    platform: "instagram",
    user,
    posts,
    match: { keywords: ["guide"] },
    message,
    // DMs, every one accepted (the sandbox runs with open windows): time to DM, not reach.
    delivery: "dm",
    pace: { per_hour: 36_000, concurrency: 4 }
  })

interface TimeToDm {
  readonly everySeconds: number
  readonly commandLine: string
  /** Comment to DM, in milliseconds, for each comment whose DM arrived. */
  readonly latencies: ReadonlyArray<number>
  /** Comments whose DM did not arrive in time. */
  readonly missing: number
  /** Polls while the comments were added and sent. */
  readonly polls: number
}

const timeToDm = (
  sandbox: SandboxProcess.RunningSandbox,
  dir: string,
  options: { readonly everySeconds: number; readonly samples: number; readonly spanIntervals: number }
) =>
  Effect.gen(function*() {
    const { everySeconds, samples, spanIntervals } = options
    const postId = `bench-watch-${everySeconds}s`
    yield* sandbox.control.addPost({ id: postId, generatedComments: oldComments })
    const watcher = yield* Watcher.start({
      sandbox,
      campaign: campaignFile(dir, postId, sandbox.profile, [postId]),
      db: Path.join(dir, `${postId}.sqlite`),
      every: `${everySeconds}s`
    })
    yield* watcher.untilPoll(1, Duration.minutes(2))
    const firstPoll = watcher.heartbeats().at(-1)?.poll ?? 1

    // Random moments over several intervals: their phase against the poll cycle is uniform.
    const random = Random.make(Settings.seed + everySeconds)
    const span = everySeconds * 1000 * spanIntervals
    const moments: Array<number> = []
    for (let i = 0; i < samples; i++) moments.push(yield* random.nextRange(0, span))
    moments.sort((a, b) => a - b)

    const start = Date.now()
    const added: Array<{ readonly recipientId: string; readonly at: number }> = []
    for (const [index, moment] of moments.entries()) {
      const wait = start + moment - Date.now()
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      const recipientId = `1784199${String(everySeconds).padStart(3, "0")}${String(index).padStart(7, "0")}`
      const at = Date.now()
      yield* sandbox.control.addComment({
        postId,
        text: "GUIDE please",
        user: { id: recipientId, username: `bench.watch.${everySeconds}.${index}` }
      })
      added.push({ recipientId, at })
    }

    const deadline = Date.now() + 2 * everySeconds * 1000 + 60_000
    let arrived = new Map<string, number>()
    while (true) {
      const deliveries = yield* sandbox.control.deliveries
      arrived = new Map(deliveries.map((delivery) => [delivery.recipientId, Date.parse(delivery.at)] as const))
      if (added.every((comment) => arrived.has(comment.recipientId)) || Date.now() > deadline) break
      yield* Effect.sleep(Duration.millis(200))
    }
    const latencies = added.flatMap((comment) => {
      const at = arrived.get(comment.recipientId)
      return at === undefined ? [] : [at - comment.at]
    })
    return {
      everySeconds,
      commandLine: watcher.commandLine,
      latencies,
      missing: added.length - latencies.length,
      polls: (watcher.heartbeats().at(-1)?.poll ?? firstPoll) - firstPoll
    } satisfies TimeToDm
  }).pipe(Effect.scoped)

interface MemoryRun {
  readonly commandLine: string
  readonly polls: number
  readonly posts: number
  /** Resident set size after each poll, in bytes. */
  readonly rss: ReadonlyArray<number>
  /** Comment pages read by each poll after the first. */
  readonly pages: ReadonlyArray<number>
}

const memory = (sandbox: SandboxProcess.RunningSandbox, dir: string, polls: number) =>
  Effect.gen(function*() {
    const bigPost = "bench-watch-big"
    yield* sandbox.control.addPost({ id: bigPost, generatedComments: bigPostComments })
    const posts = [...sandbox.postIds, bigPost]
    const watcher = yield* Watcher.start({
      sandbox,
      campaign: campaignFile(dir, "bench-watch-memory", sandbox.profile, posts),
      db: Path.join(dir, "bench-watch-memory.sqlite"),
      every: "1s"
    })
    const rss: Array<number> = []
    for (let poll = 1; poll <= polls; poll++) {
      yield* watcher.untilPoll(poll, Duration.minutes(2))
      const bytes = yield* watcher.rssBytes
      if (bytes !== undefined) rss.push(bytes)
      if (poll % 5 === 0) {
        yield* sandbox.control.addComment({
          postId: posts[0]!,
          text: "guide please",
          user: { id: `17841998${String(poll).padStart(9, "0")}`, username: `bench.memory.${poll}` }
        })
      }
    }
    const pages = watcher.heartbeats().filter((heartbeat) => heartbeat.poll > 1).map((heartbeat) => heartbeat.pages)
    return { commandLine: watcher.commandLine, polls, posts: posts.length, rss, pages } satisfies MemoryRun
  }).pipe(Effect.scoped)

const seconds = (millis: number) => `${(millis / 1000).toFixed(2)} s`

const timeToDmFigures = (result: TimeToDm): Array<Report.Figure> => {
  const every = `--every ${result.everySeconds}s`
  const target = result.everySeconds * 500 + 1000
  const median = Stats.median(result.latencies)
  const missing = result.missing > 0 ? ` (${result.missing} DMs missing)` : ""
  return [
    {
      label: `time to DM at ${every}: median of ${result.latencies.length}`,
      value: `${seconds(median)}${missing}`,
      target: `at most ${seconds(target)} (half the interval + 1 s)`,
      met: result.missing === 0 && median <= target
    },
    {
      label: `time to DM at ${every}: maximum`,
      value: result.latencies.length === 0 ? "none arrived" : seconds(Math.max(...result.latencies))
    }
  ]
}

/** The first, the last, and the indexes at each quarter in between: how memory moved along the run. */
const quarters = (
  length: number
): ReadonlyArray<number> => [...new Set([0, 1, 2, 3, 4].map((quarter) => Math.round((quarter * (length - 1)) / 4)))]

const memoryFigures = (result: MemoryRun): Array<Report.Figure> => {
  const [first] = result.rss
  const last = result.rss.at(-1)
  const warm = result.rss[Math.min(9, result.rss.length - 1)]
  const rssFigures: Array<Report.Figure> = first === undefined || last === undefined || warm === undefined
    ? [{ label: "watcher RSS", value: "not available on this system" }]
    : [
      {
        label: `watcher RSS: poll 1 -> poll ${result.polls}`,
        value: `${Report.megabytes(first)} -> ${Report.megabytes(last)} (peak ${
          Report.megabytes(Math.max(...result.rss))
        })`
      },
      {
        label: `watcher RSS at polls ${quarters(result.rss.length).map((index) => index + 1).join(", ")}`,
        value: quarters(result.rss.length).map((index) => Report.megabytes(result.rss[index]!)).join(" / ")
      },
      {
        label: `watcher RSS growth after warm-up (poll ${Math.min(10, result.rss.length)} -> poll ${result.polls})`,
        value: `${last >= warm ? "+" : "-"}${Report.megabytes(Math.abs(last - warm))}`
      }
    ]
  const quiet = Stats.median(result.pages)
  return [
    ...rssFigures,
    {
      label: `comment pages a poll after the first, ${result.posts} posts (median)`,
      value: String(quiet),
      // Every fifth poll one post has a new comment: that post then costs two pages.
      target: `${result.posts} (one page per quiet post)`,
      met: quiet <= result.posts
    }
  ]
}

/** The benchmark as a section of the results file. */
export const run = (
  mode: Settings.Mode
): Effect.Effect<Report.SectionBody, unknown, Scope.Scope | HttpClient.HttpClient> =>
  Effect.gen(function*() {
    // Each sample's wait is uniform over the interval, so the median of n samples is only good to about
    // interval / (2 sqrt(n)): 1.1 s at 10 s with 20 samples, 0.65 s with 60.
    const samples = Settings.pick(mode, { full: 60, quick: 5 })
    const slowSpan = Settings.pick(mode, { full: 15, quick: 2 })
    const fastSpan = Settings.pick(mode, { full: 30, quick: 3 })
    const polls = Settings.pick(mode, { full: 120, quick: 15 })
    const sandboxSettings: SandboxProcess.Settings = { seed: Settings.seed, dailyLimit: Settings.noDailyLimit }
    const sandbox = yield* SandboxProcess.start(sandboxSettings)
    const dir = yield* TempDir.make("watch")
    const slow = yield* timeToDm(sandbox, dir, {
      everySeconds: 10,
      samples,
      spanIntervals: slowSpan
    })
    const fast = yield* timeToDm(sandbox, dir, {
      everySeconds: 2,
      samples,
      spanIntervals: fastSpan
    })
    const long = yield* memory(sandbox, dir, polls)
    return {
      title: "Watch mode: time to DM and memory",
      settings: [
        `Sandbox: \`${sandbox.commandLine}\` (demo data set, in its own process); the watcher is the real command: ` +
        `\`${slow.commandLine}\`, and the same with \`--every 2s\``,
        `Time to DM: ${samples} comments asking for the guide at seeded random moments over ` +
        `${slowSpan} intervals (10 s) and ${fastSpan} intervals (2 s), on a post with ${oldComments} old ` +
        "comments; per_hour 36,000, concurrency 4",
        `Memory: \`${long.commandLine}\` for ${polls} polls over the demo's 3 posts and one of ` +
        `${Report.count(bigPostComments)} comments, a new comment asking for the guide every fifth poll; RSS read ` +
        "from the system after each poll",
        `Machine: ${Machine.summary(Machine.describe())}`
      ],
      figures: [...timeToDmFigures(slow), ...timeToDmFigures(fast), ...memoryFigures(long)],
      notes: [
        "Time to DM adds up the wait for the next poll (uniform over the interval: half of it on average), the " +
        "poll's comment reads and the send. Polls start `--every` apart (start to start), so the maximum is about " +
        "one interval plus a poll's own time. The median of n such waits is only good to about interval / (2 sqrt(n)) " +
        `(${samples} samples: ${(10 / (2 * Math.sqrt(samples))).toFixed(2)} s at 10 s).`,
        `Polls during the measurement: ${slow.polls} at 10 s, ${fast.polls} at 2 s.`,
        "RSS counts memory V8 has reserved and not yet given back, so it rises while a poll allocates a lot between " +
        "collections (a post read in full each poll does); the watcher's own objects after a forced collection are " +
        "checked by packages/core/test/Watch.test.ts (a thousand polls, heap flat).",
        "Pages a poll: the watcher stops paging a post at the first page that holds nothing new (comments listed " +
        "below the run of ids it remembers count as seen); a post with more comments than the ids it remembers " +
        "(1,000 per post) must still cost one page a quiet poll."
      ]
    }
  })

/** Runs the benchmark and returns its section as Markdown, with the machine and its load. */
export const main = (mode: Settings.Mode): Effect.Effect<string, unknown, HttpClient.HttpClient> =>
  Effect.map(Report.timed(Effect.scoped(run(mode))), render)

const escape = (text: string): string => text.replace(/\|/g, "\\|")

const render = (section: Report.Section): string => {
  const verdict = (figure: Report.Figure) => figure.met === undefined ? "" : figure.met ? "met" : "**missed**"
  return [
    `## ${section.title}`,
    "",
    ...section.settings.map((line) => `- ${line}`),
    `- Load average (1 min) before / after: ${section.load.before.toFixed(2)} / ${section.load.after.toFixed(2)} ` +
    `on ${Machine.describe().cores} cores; section took ${Report.millis(section.wallMillis)}`,
    "",
    "| figure | value | target | |",
    "|---|---|---|---|",
    ...section.figures.map((figure) =>
      `| ${escape(figure.label)} | ${escape(figure.value)} | ${escape(figure.target ?? "")} | ${verdict(figure)} |`
    ),
    ...section.notes.flatMap((note) => ["", note])
  ].join("\n") + "\n"
}

if (process.argv[1] !== undefined && import.meta.url === Url.pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } })
  main(values.quick ? "quick" : "full").pipe(
    Effect.flatMap((markdown) => Effect.sync(() => process.stdout.write(markdown))),
    Effect.provide(NodeHttpClient.layer),
    NodeRuntime.runMain
  )
}
