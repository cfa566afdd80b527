/**
 * The polling soak: the benchmark's 100 adaptive watchers (1,000 posts, comments arriving, the 250-a-minute plan) on
 * the real clock for a quarter of an hour or so, with this process's memory sampled along the way: is it under 300 MB
 * and flat? Not part of `pnpm bench`'s run (it takes its full length in real time).
 *
 * `npx tsx bench/soak.ts [--minutes 12] [--every-seconds 15]` prints the samples and a summary as Markdown. The
 * sandbox runs in this process too, so the figures include it (its comments and deliveries grow by a few hundred).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Deferred, Duration, Effect, Fiber } from "effect"
import { parseArgs } from "node:util"
import * as Machine from "./Machine.js"
import * as Polling from "./Polling.js"
import * as Report from "./Report.js"

interface Sample {
  readonly atMillis: number
  readonly rss: number
  /** Heap used after a forced collection: what the process holds on to. */
  readonly heap: number
  readonly polls: number
}

const { values } = parseArgs({
  options: { minutes: { type: "string", default: "12" }, "every-seconds": { type: "string", default: "15" } }
})
const minutes = Number(values.minutes)
const sampleEvery = Number(values["every-seconds"]) * 1_000

const program = Effect.gen(function*() {
  const scenario = Polling.scenarioOf("full")
  let polls = 0
  let failed = 0
  const started = performance.now()
  const { sandbox, stop, watchers } = yield* Polling.startWatchers(scenario, "adaptive", (_, event) => {
    polls++
    if (event._tag === "PollFailed") failed++
  })
  const samples: Array<Sample> = []
  const sample = Effect.sync(() => {
    Polling.collectGarbage()
    const memory = process.memoryUsage()
    samples.push({ atMillis: performance.now() - started, rss: memory.rss, heap: memory.heapUsed, polls })
    const last = samples.at(-1)!
    process.stderr.write(
      `${(last.atMillis / 60_000).toFixed(1)} min: RSS ${Report.megabytes(last.rss)}, heap ${
        Report.megabytes(last.heap)
      }, ${last.polls} polls\n`
    )
  })
  while (performance.now() - started < minutes * 60_000) {
    yield* sample
    yield* Effect.sleep(Duration.millis(sampleEvery))
  }
  yield* sample
  const stats = yield* sandbox.stats
  const key = stats.keys[sandbox.apiKey]
  yield* Deferred.succeed(stop, undefined)
  yield* Effect.forEach(watchers, Fiber.join, { discard: true }).pipe(Effect.orDie)
  const third = Math.max(1, Math.floor(samples.length / 3))
  const mean = (values: ReadonlyArray<number>) => values.reduce((sum, value) => sum + value, 0) / values.length
  const early = samples.slice(1, third + 1)
  const late = samples.slice(-third)
  const lines = [
    `Command: \`npx tsx bench/soak.ts --minutes ${minutes} --every-seconds ${sampleEvery / 1000}\`; ${
      Machine.summary(Machine.describe())
    }`,
    `Scenario: ${scenario.profiles} adaptive watchers x ${scenario.postsPerProfile} posts, every ${
      Duration.format(scenario.every)
    }, ${scenario.readsPerMinute} reads a minute in all, ${scenario.commentsPerMinute} comments a minute arriving, ` +
    "sandbox in the same process on the real clock",
    `Polls: ${Report.count(polls)} (${failed} failed); requests ${Report.count(key?.requests ?? 0)}, most in a ` +
    `fixed minute ${key?.maxPerMinute ?? "?"} / 250; 429 answers ${stats.responses["429"] ?? 0}; ${
      Report.count(stats.deliveries)
    } DMs of ${Report.count(stats.arrivedComments)} comments`,
    `Peak RSS ${Report.megabytes(Math.max(...samples.map((s) => s.rss)))}; heap after GC, mean of the first third ` +
    `(after the first sample) ${Report.megabytes(mean(early.map((s) => s.heap)))} vs the last third ${
      Report.megabytes(mean(late.map((s) => s.heap)))
    }; RSS ${Report.megabytes(mean(early.map((s) => s.rss)))} vs ${Report.megabytes(mean(late.map((s) => s.rss)))}`,
    "",
    "| minute | RSS | heap after GC | polls |",
    "|---|---|---|---|",
    ...samples.map((s) =>
      `| ${(s.atMillis / 60_000).toFixed(1)} | ${Report.megabytes(s.rss)} | ${Report.megabytes(s.heap)} | ${s.polls} |`
    )
  ]
  yield* Effect.sync(() => process.stdout.write(`${lines.join("\n")}\n`))
}).pipe(Effect.scoped)

program.pipe(NodeRuntime.runMain)
