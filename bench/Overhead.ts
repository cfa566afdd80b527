/**
 * Overhead at zero latency: how many DMs per second the tool itself can push end to end when the API answers at once,
 * with the durable ledger (every claim and settlement committed to a SQLite file) and with an in-memory ledger,
 * side by side. Target: 1,000 DMs per second with the durable ledger.
 */
import { Effect } from "effect"
import * as BenchError from "./BenchError.js"
import * as LibraryRun from "./LibraryRun.js"
import * as Report from "./Report.js"
import * as SandboxProcess from "./SandboxProcess.js"
import * as Settings from "./Settings.js"
import * as Stats from "./Stats.js"

const concurrency = 8

export const run = (mode: Settings.Mode) =>
  Effect.gen(function*() {
    const comments = Settings.pick(mode, { full: 20_000, quick: 4_000 })
    const repeats = Settings.pick(mode, { full: 5, quick: 1 })
    const sandbox = yield* SandboxProcess.start(SandboxProcess.guidePost(comments, 0))
    const runs = yield* LibraryRun.measureBothLedgers(sandbox, { benchmark: "overhead", repeats, concurrency })
    const naive = yield* LibraryRun.naiveRun(sandbox)

    const summarise = (ledger: LibraryRun.LedgerKind) => {
      const mine = runs.filter((run) => run.ledger === ledger)
      const sent = mine[0]?.sent ?? 0
      const wall = Stats.median(mine.map((run) => run.wallMillis))
      const cpu = Stats.median(mine.map((run) => run.cpuMillis))
      return {
        sent,
        wall,
        rate: (sent / wall) * 1000,
        cpuPerDm: cpu / sent,
        runs: mine.map((run) => Report.rate((run.sent / run.wallMillis) * 1000)).join(", ")
      }
    }
    const durable = summarise("durable")
    const memory = summarise("memory")
    const naiveRate = (naive.sent / naive.elapsedMillis) * 1000
    const naiveCpuPerDm = naive.cpuMillis / naive.sent

    return {
      title: "Overhead at zero latency",
      settings: [
        `Sandbox: \`${sandbox.commandLine}\` (${Report.count(comments)} comments, answers at once)`,
        `comment-dm: \`Campaign.run\` in the bench process, \`pacer: Pacer.unlimited\`, concurrency ${concurrency}; ` +
        "durable: `SqliteLedger.layer({ filename })` on a file (WAL; claims and settlements group-committed, and " +
        "every claim's group synced to disk before its request); in-memory: " +
        "`SqliteLedger.layerMemory()`; " +
        `median of ${repeats} run(s) after ${LibraryRun.warmUpRounds} unmeasured warm-up run of each, wall time including opening the ledger`,
        "CPU: user + system time of the comment-dm process (the bench process) per DM"
      ],
      figures: [
        {
          label: "comment-dm, durable SQLite ledger",
          value: `${Report.rate(durable.rate)} (${Report.count(durable.sent)} DMs in ${
            Report.millis(durable.wall)
          }; runs: ${durable.runs}; CPU ${durable.cpuPerDm.toFixed(2)} ms/DM)`,
          target: ">= 1,000 DMs/s",
          met: durable.rate >= 1000
        },
        {
          label: "comment-dm, in-memory ledger",
          value: `${Report.rate(memory.rate)} (${Report.count(memory.sent)} DMs in ${
            Report.millis(memory.wall)
          }; runs: ${memory.runs}; CPU ${memory.cpuPerDm.toFixed(2)} ms/DM)`
        },
        {
          label: "durable / in-memory",
          value: `${Report.percent(durable.rate / memory.rate)} of the in-memory rate`
        },
        {
          label: "naive script (same sandbox, one DM at a time)",
          value: `${Report.rate(naiveRate)} (${Report.count(naive.sent)} DMs in ${
            Report.millis(naive.elapsedMillis)
          }; CPU ${naiveCpuPerDm.toFixed(2)} ms/DM)`
        },
        {
          label: "CPU per DM, comment-dm (durable) vs naive",
          value: `${Report.ratio(durable.cpuPerDm / naiveCpuPerDm)} (in-memory: ${
            Report.ratio(memory.cpuPerDm / naiveCpuPerDm)
          })`
        }
      ],
      notes: []
    }
  }).pipe(BenchError.within("overhead"))
