import * as Os from "node:os"
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    // The end-to-end tests start the bundled commands; this builds them once, before any test file.
    globalSetup: ["scripts/build.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    sequence: { concurrent: false },
    // Two test files at a time even on two cores (Vitest's default there is one): an end-to-end file spends most of
    // its time waiting for the commands it started, a pace or a poll, and the other file uses that time.
    maxWorkers: Math.max(2, Os.availableParallelism() - 1)
  }
})
