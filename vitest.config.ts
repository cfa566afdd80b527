import * as Os from "node:os"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    // The end-to-end tests start the bundled commands; this builds them once, before any test file.
    globalSetup: ["scripts/build.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    sequence: { concurrent: false },
    // Two test files at a time even on two cores (Vitest's default there is one): an end-to-end file spends most of
    // its time waiting for the commands it started, a pace or a poll, and the other file uses that time.
    maxWorkers: Math.max(2, Os.availableParallelism() - 1),
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts"],
          // Their support modules register no hooks and keep no state between files, so one worker imports Effect,
          // the platform and the sandbox once for all of them instead of once per file (most of a unit file's time).
          isolate: false,
          poolOptions: { forks: { singleFork: true, isolate: false } }
        }
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/**/*.test.ts"]
          // Isolated: their support modules register hooks when imported (test/support/cli.ts, cleanups.ts).
        }
      }
    ]
  }
})
