/**
 * Preloaded into a measured child (`node --import tsx --import bench/internal/resourceUsage.ts ...`): on exit,
 * writes `process.resourceUsage()` (peak resident memory, CPU time) to the file named by
 * COMMENT_DM_BENCH_USAGE_FILE. The child measures itself, so the figure is the same on every operating system.
 */
import * as Fs from "node:fs"

const target = process.env.COMMENT_DM_BENCH_USAGE_FILE

if (target !== undefined) {
  process.on("exit", () => Fs.writeFileSync(target, JSON.stringify(process.resourceUsage())))
}
