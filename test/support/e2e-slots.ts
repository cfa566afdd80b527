/**
 * Bounds how many commands run at once. Starting the command is CPU-bound (a few seconds of module loading), so
 * running more of them than there are cores only makes every one of them slower, and their timeouts closer.
 */
import * as Os from "node:os"

export type Slots = <A>(task: () => Promise<A>) => Promise<A>

export const make = (count: number): Slots => {
  let free = count
  const waiting: Array<() => void> = []
  const acquire = (): Promise<void> => {
    if (free > 0) {
      free--
      return Promise.resolve()
    }
    return new Promise((resolve) => waiting.push(resolve))
  }
  const release = () => {
    const next = waiting.shift()
    if (next === undefined) free++
    else next()
  }
  return (task) => acquire().then(task).finally(release)
}

/** One command per core, at least two. */
export const perCore = (): Slots => make(Math.max(2, Os.availableParallelism()))
