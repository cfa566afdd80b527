/**
 * The machine a figure was measured on: every figure in the results file is only comparable with figures from the
 * same machine and the same run.
 */
import * as Os from "node:os"

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryBytes: number
  readonly node: string
  readonly os: string
}

export const describe = (): Machine => ({
  cpu: Os.cpus()[0]?.model.trim() ?? "unknown",
  cores: Os.availableParallelism(),
  memoryBytes: Os.totalmem(),
  node: process.version,
  os: `${Os.type()} ${Os.release()} ${Os.arch()}`
})

/** The 1-minute load average: how busy the machine was with other work while a figure was taken. */
export const load = (): number => Os.loadavg()[0] ?? 0

export const summary = (machine: Machine): string =>
  `${machine.cpu}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, ` +
  `Node ${machine.node}, ${machine.os}`
