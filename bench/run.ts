/**
 * `pnpm bench [--quick] [--only name,...] [--profile DIR] [--out FILE]`: runs the benchmarks and rewrites
 * bench/RESULTS.md.
 *
 * --quick    smaller settings, a smoke run of the same code (a few minutes; the full run about 20 on 2 cores)
 * --only     a comma-separated subset: throughput, overhead, pacing, scale, startup, watch, polling, dashboard; the results file is
 *            then only written with an explicit --out, so that a partial run never replaces the full results
 * --profile  run the comment-dm processes of the scale benchmark under `node --cpu-prof`, keep the profiles in DIR
 *            and summarise them in the results
 * --out      where to write the results (default bench/RESULTS.md)
 *
 * The polling soak (bench/soak.ts: 100 adaptive watchers for a quarter of an hour of real time, memory sampled) is not
 * part of the run; RESULTS.md keeps its last figures in a section of their own, to carry over by hand.
 *
 * The other benchmarks run comment-dm in this process; profile them with
 * `node --cpu-prof --import tsx bench/run.ts --only overhead` and `npx tsx bench/profile.ts <file.cpuprofile>`.
 */
import type { HttpClient } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import type { Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import * as BenchError from "./BenchError.js"
import * as Dashboard from "./Dashboard.js"
import * as Machine from "./Machine.js"
import * as Overhead from "./Overhead.js"
import * as Pacing from "./Pacing.js"
import * as Polling from "./Polling.js"
import * as Report from "./Report.js"
import * as Scale from "./Scale.js"
import type * as Settings from "./Settings.js"
import * as Startup from "./Startup.js"
import * as Throughput from "./Throughput.js"
import * as Watch from "./watch.js"

type Benchmark = (
  mode: Settings.Mode,
  profileDir: string | undefined
) => Effect.Effect<Report.SectionBody, BenchError.BenchError, Scope.Scope | HttpClient.HttpClient>

const benchmarks: ReadonlyArray<readonly [string, Benchmark]> = [
  ["throughput", Throughput.run],
  ["overhead", Overhead.run],
  ["pacing", Pacing.run],
  ["scale", Scale.run],
  ["startup", Startup.run],
  ["watch", (mode) => Watch.run(mode).pipe(BenchError.within("watch"))],
  ["polling", (mode) => Polling.run(mode)],
  ["dashboard", Dashboard.run]
]

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    profile: { type: "string" },
    out: { type: "string" }
  }
})
const mode: Settings.Mode = values.quick ? "quick" : "full"
const profileDir = values.profile === undefined ? undefined : Path.resolve(values.profile)
const only = values.only?.split(",").map((name) => name.trim())
const out = values.out ?? (only === undefined ? Path.join(import.meta.dirname, "RESULTS.md") : undefined)
const unknown = only?.filter((name) => !benchmarks.some(([known]) => known === name)) ?? []
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark(s): ${unknown.join(", ")}; known: ${benchmarks.map(([name]) => name).join(", ")}\n`
  )
  process.exit(2)
}

const program = Effect.gen(function*() {
  const startedAt = new Date()
  const sections: Array<Report.Section> = []
  for (const [name, benchmark] of benchmarks) {
    if (only !== undefined && !only.includes(name)) continue
    yield* Effect.sync(() => process.stdout.write(`${name} (${mode}) ...\n`))
    // A benchmark that fails is reported as such; the others still run and the results file is still written.
    const section = yield* Report.timed(
      Effect.scoped(benchmark(mode, profileDir)).pipe(
        Effect.catchAll((error) =>
          Effect.succeed<Report.SectionBody>({
            title: name,
            settings: [],
            figures: [{ label: "benchmark", value: `FAILED: ${error.reason}`, target: "runs to its end", met: false }],
            notes: []
          })
        )
      )
    )
    for (const figure of section.figures) {
      const verdict = figure.met === undefined ? "" : figure.met ? "  [met]" : "  [MISSED]"
      yield* Effect.sync(() => process.stdout.write(`  ${figure.label}: ${figure.value}${verdict}\n`))
    }
    sections.push(section)
  }
  const results = Report.render({ machine: Machine.describe(), quick: mode === "quick", startedAt, sections })
  if (out === undefined) return
  yield* Effect.sync(() => Fs.writeFileSync(out, results))
  yield* Effect.sync(() => process.stdout.write(`wrote ${out}\n`))
})

// On Ctrl-C the fiber is interrupted, so every sandbox and command started so far is stopped.
program.pipe(Effect.provide(NodeHttpClient.layer), NodeRuntime.runMain)
