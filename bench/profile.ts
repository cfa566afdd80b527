/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and tells where the time went: the top functions by self time, the
 * top functions of this repository by inclusive time, and the time per package.
 *
 *   npx tsx bench/profile.ts <file.cpuprofile> [--top N]
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parseArgs } from "node:util"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

export interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface Entry {
  readonly name: string
  readonly millis: number
  readonly share: number
}

export interface Summary {
  readonly totalMillis: number
  /** Functions by time spent in themselves. */
  readonly self: ReadonlyArray<Entry>
  /** Functions of this repository by time spent in them and in what they call. */
  readonly inclusive: ReadonlyArray<Entry>
  /** Self time per package (or "repository", "node", "(idle)", "(garbage collector)", ...). */
  readonly packages: ReadonlyArray<Entry>
}

const repositoryRoot = Path.resolve(import.meta.dirname, "..")

const packageOf = (url: string, functionName: string): string => {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)"
  if (url.startsWith("node:")) return "node"
  const inModules = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (inModules?.[1] !== undefined) return inModules[1]
  return url.includes(repositoryRoot) ? "repository" : "(other)"
}

const frameName = (frame: CallFrame): string => {
  if (frame.url === "") return frame.functionName || "(anonymous)"
  const path = frame.url
    .replace(/^file:\/\//, "")
    .replace(`${repositoryRoot}/`, "")
    .replace(/^node_modules\/\.pnpm\/[^/]+\/node_modules\//, "")
  return `${frame.functionName || "(anonymous)"} ${path}:${frame.lineNumber + 1}`
}

const top = (totals: Map<string, number>, totalMillis: number, count: number): Array<Entry> =>
  [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, millis]) => ({ name, millis, share: millis / totalMillis }))

export const summarise = (profile: CpuProfile, count = 15): Summary => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const packages = new Map<string, number>()
  let totalMillis = 0
  profile.samples.forEach((id, index) => {
    const millis = (profile.timeDeltas[index] ?? 0) / 1000
    const node = byId.get(id)
    if (node === undefined) return
    totalMillis += millis
    const name = frameName(node.callFrame)
    self.set(name, (self.get(name) ?? 0) + millis)
    const pkg = packageOf(node.callFrame.url, node.callFrame.functionName)
    packages.set(pkg, (packages.get(pkg) ?? 0) + millis)
    // Every repository function on the stack, once per sample even when it recurses.
    const onStack = new Set<string>()
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const frame = byId.get(current)?.callFrame
      if (frame !== undefined && packageOf(frame.url, frame.functionName) === "repository") {
        onStack.add(frameName(frame))
      }
    }
    for (const name of onStack) inclusive.set(name, (inclusive.get(name) ?? 0) + millis)
  })
  return {
    totalMillis,
    self: top(self, totalMillis, count),
    inclusive: top(inclusive, totalMillis, count),
    packages: top(packages, totalMillis, count)
  }
}

/** Reads and summarises a `.cpuprofile` file. */
export const read = (file: string, count = 15): Summary => summarise(JSON.parse(Fs.readFileSync(file, "utf8")), count)

export const render = (summary: Summary): string => {
  const table = (title: string, entries: ReadonlyArray<Entry>) =>
    [
      `${title}:`,
      ...entries.map((entry) =>
        `  ${(entry.share * 100).toFixed(1).padStart(5)}%  ${entry.millis.toFixed(0).padStart(7)} ms  ${entry.name}`
      )
    ].join("\n")
  return [
    `total ${summary.totalMillis.toFixed(0)} ms sampled`,
    table("self time by package", summary.packages),
    table("self time by function", summary.self),
    table("inclusive time, functions of this repository", summary.inclusive)
  ].join("\n\n")
}

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === import.meta.filename) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: "string" } } })
  const file = positionals[0]
  if (file === undefined) {
    process.stderr.write("usage: npx tsx bench/profile.ts <file.cpuprofile> [--top N]\n")
    process.exit(2)
  }
  process.stdout.write(`${render(read(file, Number(values.top ?? 15)))}\n`)
}
