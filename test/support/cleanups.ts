/**
 * What a test file's tests leave behind (sandboxes, child processes, directories): each registers how to undo it, and
 * after each test the undoing runs, newest first.
 */
import { afterEach } from "vitest"

export const cleanups: Array<() => Promise<void> | void> = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
