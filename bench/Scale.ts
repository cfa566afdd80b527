/**
 * Scale: a viral post, read and sent to by the real command in its own process, the sandbox in another. The peak
 * memory of the comment-dm process must stay under 300 MB, and a resume after everything was sent must take under
 * 10 s and send nothing. Full runs measure two sizes, so that growth shows as a ratio.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as BenchError from "./BenchError.js"
import * as CommandRun from "./CommandRun.js"
import type * as NodeProcess from "./internal/NodeProcess.js"
import * as TempDir from "./internal/TempDir.js"
import * as Profile from "./profile.js"
import * as Report from "./Report.js"
import * as SandboxProcess from "./SandboxProcess.js"
import * as Settings from "./Settings.js"

const memoryLimitBytes = 300 * 2 ** 20
const resumeLimitMillis = 10_000
const concurrency = 8
/** High enough that pacing never waits: this measures the tool, not the pace. */
const perHour = 100_000_000

export interface Size {
  readonly comments: number
  readonly people: number
  readonly matchRatio: number
}

interface Measured {
  readonly size: Size
  /** With `--profile`: where the time of the first run and of the resume went. */
  readonly profiles: ReadonlyArray<string>
  readonly sandbox: string
  readonly first: CommandRun.Result
  readonly firstDelivered: number
  readonly resume: CommandRun.Result
  readonly resumeDelivered: number
}

const sizes = (mode: Settings.Mode): ReadonlyArray<Size> => {
  const smoke = { comments: 20_000, people: 4_000, matchRatio: 0.1 }
  const tenth = { comments: 100_000, people: 20_000, matchRatio: 0.1 }
  const viral = { comments: 1_000_000, people: 200_000, matchRatio: 0.1 }
  return Settings.pick(mode, { full: [tenth, viral], quick: [smoke] })
}

/** The main thread's profile in a `--cpu-prof-dir`, summarised by package. */
const profileSummary = (dir: string, label: string): string => {
  const main = Fs.readdirSync(dir).find((file) => file.split(".")[4] === "0" && file.endsWith(".cpuprofile"))
  if (main === undefined) return `${label}: no profile written`
  const summary = Profile.read(Path.join(dir, main))
  const top = summary.packages.slice(0, 6).map((entry) => `${entry.name} ${Report.percent(entry.share)}`)
  const frames = summary.self.slice(0, 3).map((entry) => `${entry.name} ${Report.percent(entry.share)}`)
  return `${label} (\`${Path.join(dir, main)}\`): self time by package: ${top.join(", ")}; top functions: ${
    frames.join("; ")
  }`
}

const measure = (size: Size, profileDir: string | undefined) =>
  Effect.scoped(Effect.gen(function*() {
    const sandbox = yield* SandboxProcess.start({
      ...size,
      latencyMs: 0,
      dailyLimit: Settings.noDailyLimit,
      seed: Settings.seed
    })
    const dir = yield* TempDir.make("scale")
    const campaign = CommandRun.writeCampaign(dir, "campaign.json", {
      name: "viral-guide",
      platform: "instagram",
      user: sandbox.profile,
      posts: sandbox.postIds,
      match: { keywords: ["guide"], mode: "word" },
      message: "Hi @{{username}}, here is your guide: https://example.com/guide",
      // DMs, every one accepted (the sandbox runs with open windows): the scale of the engine, not of reach.
      delivery: "dm",
      pace: { per_hour: perHour, concurrency }
    })
    const args = ["run", campaign, "--db", Path.join(dir, "ledger.sqlite"), "--json"]
    const delivered = Effect.map(sandbox.control.stats, (stats) => stats.deliveries)
    const profiles: Array<string> = []
    const once = (pass: string) =>
      Effect.gen(function*() {
        const cpuProfDir = profileDir === undefined ? undefined : Path.join(profileDir, `${size.comments}-${pass}`)
        const result = yield* CommandRun.run(args, {
          env: CommandRun.environment(sandbox),
          measure: true,
          timeoutMillis: 3 * 3_600_000,
          ...(cpuProfDir === undefined ? {} : { nodeFlags: ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] })
        })
        if (cpuProfDir !== undefined) {
          profiles.push(profileSummary(cpuProfDir, `${Report.count(size.comments)} comments, ${pass}`))
        }
        return result
      })

    const first = yield* once("first")
    const firstDelivered = yield* delivered
    const resume = yield* once("resume")
    const resumeDelivered = (yield* delivered) - firstDelivered
    return { size, profiles, sandbox: sandbox.commandLine, first, firstDelivered, resume, resumeDelivered }
  }))

const rss = (result: NodeProcess.Finished): number => result.usage?.maxRssBytes ?? Number.NaN

const cpu = (result: NodeProcess.Finished): number =>
  result.usage === undefined ? Number.NaN : result.usage.userCpuMillis + result.usage.systemCpuMillis

const describeRun = (result: CommandRun.Result): string =>
  result.summary === undefined
    ? CommandRun.failure(result)
    : `${Report.millis(result.wallMillis)} wall, ${Report.millis(cpu(result))} CPU, peak ${
      Report.megabytes(rss(result))
    }, outcome ${result.summary.outcome}`

export const run = (mode: Settings.Mode, profileDir?: string) =>
  Effect.gen(function*() {
    const help = yield* CommandRun.run(["--help"], { measure: true })
    const measured: Array<Measured> = []
    for (const size of sizes(mode)) measured.push(yield* measure(size, profileDir))
    const largest = measured[measured.length - 1]
    if (largest === undefined) {
      return yield* new BenchError.BenchError({ benchmark: "scale", reason: "no size to measure" })
    }

    const figuresOf = (entry: Measured, judged: boolean): Array<Report.Figure> => {
      const label = `${Report.count(entry.size.comments)} comments`
      const counts = entry.first.summary?.counts
      const resumeCounts = entry.resume.summary?.counts
      const peak = Math.max(rss(entry.first), rss(entry.resume))
      return [
        {
          label: `${label}: first run`,
          value: `${describeRun(entry.first)}; ${Report.count(counts?.comments ?? 0)} comments read, ${
            Report.count(counts?.sent ?? 0)
          } sent (sandbox delivered ${Report.count(entry.firstDelivered)}); ${
            Report.rate(((counts?.sent ?? 0) / entry.first.wallMillis) * 1000)
          }`
        },
        {
          label: `${label}: peak memory of the comment-dm process`,
          value: `${Report.megabytes(peak)} (${Report.ratio(peak / rss(help))} the ${
            Report.megabytes(rss(help))
          } of \`comment-dm --help\`)`,
          ...(judged ? { target: "< 300 MB", met: peak < memoryLimitBytes } : {})
        },
        {
          label: `${label}: resume with everything sent`,
          value: `${describeRun(entry.resume)}; ${Report.count(resumeCounts?.sent ?? 0)} sent, ${
            Report.count(resumeCounts?.already_sent ?? 0)
          } already sent (sandbox delivered ${Report.count(entry.resumeDelivered)}); ${
            Report.percent(entry.resume.wallMillis / entry.first.wallMillis)
          } of the first run`,
          ...(judged ?
            {
              target: "< 10 s, 0 sends",
              met: entry.resume.code === 0 && entry.resume.wallMillis < resumeLimitMillis &&
                entry.resumeDelivered === 0 && resumeCounts?.sent === 0
            } :
            {})
        }
      ]
    }

    const growth: Array<Report.Figure> = []
    const smallest = measured[0]
    if (smallest !== undefined && smallest !== largest) {
      const times = (pick: (entry: Measured) => number) => Report.ratio(pick(largest) / pick(smallest))
      growth.push({
        label: `growth from ${Report.count(smallest.size.comments)} to ${Report.count(largest.size.comments)} comments`,
        value: `comments x${largest.size.comments / smallest.size.comments}, matched people ${
          times((entry) => entry.first.summary?.counts.matched ?? Number.NaN)
        }; first run wall ${times((entry) => entry.first.wallMillis)}, resume wall ${
          times((entry) => entry.resume.wallMillis)
        }, resume CPU ${times((entry) => cpu(entry.resume))}, peak memory ${
          times((entry) => Math.max(rss(entry.first), rss(entry.resume)))
        }`
      })
    }

    return {
      title: "Scale: one viral post",
      settings: [
        ...measured.map((entry) => `Sandbox (own process): \`${entry.sandbox}\` (no latency)`),
        `comment-dm: \`node ${CommandRun.bin} run campaign.json --db ledger.sqlite --json\` in its own ` +
        `process, \`pace: { per_hour: ${perHour}, concurrency: ${concurrency} }\` (no effective pacing), keyword ` +
        "\"guide\"; then the same command again (the resume)",
        "Memory: the child's own `process.resourceUsage().maxRSS` at exit (peak resident set)"
      ],
      figures: [
        ...measured.flatMap((entry) => figuresOf(entry, entry === largest)),
        ...growth
      ],
      notes: measured.flatMap((entry) => entry.profiles).map((line) => `- CPU profile, ${line}`)
    }
  }).pipe(BenchError.within("scale"))
