/**
 * The results file: one section per benchmark, each figure beside its target, and the machine and settings it was
 * measured with.
 */
import { Effect } from "effect"
import * as Machine from "./Machine.js"

export interface Figure {
  readonly label: string
  readonly value: string
  /** The target in words, when the figure has one. */
  readonly target?: string
  /** Whether the target is met; absent for figures without a target. */
  readonly met?: boolean
}

export interface Section {
  readonly title: string
  /** What was run, with which settings. */
  readonly settings: ReadonlyArray<string>
  readonly figures: ReadonlyArray<Figure>
  /** What the figures mean, and what a missed target comes from. */
  readonly notes: ReadonlyArray<string>
  /** The 1-minute load average before and after: other work on the machine slows every figure down. */
  readonly load: { readonly before: number; readonly after: number }
  readonly wallMillis: number
}

export interface Run {
  readonly machine: Machine.Machine
  readonly quick: boolean
  readonly startedAt: Date
  readonly sections: ReadonlyArray<Section>
}

export const millis = (value: number): string =>
  value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : value >= 1000 ?
    `${(value / 1000).toFixed(2)} s` :
    `${value.toFixed(0)} ms`

export const rate = (perSecond: number, unit = "DMs/s"): string =>
  `${perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1)} ${unit}`

export const megabytes = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`

export const percent = (share: number): string => `${(share * 100).toFixed(1)}%`

export const ratio = (value: number): string => `${value.toFixed(1)}x`

export const count = (value: number): string => String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",")

const verdict = (figure: Figure): string => figure.met === undefined ? "" : figure.met ? "met" : "**missed**"

const escape = (text: string): string => text.replace(/\|/g, "\\|")

export const render = (run: Run): string => {
  const lines: Array<string> = [
    "# Benchmark results",
    "",
    "Written by `pnpm bench" + (run.quick ? " --quick" : "") + "` (bench/run.ts); do not edit by hand. " +
    "Every figure is compared with another figure from the same machine in the same run.",
    "",
    `- Machine: ${Machine.summary(run.machine)}`,
    `- Run: ${run.startedAt.toISOString()}${run.quick ? ", quick (smaller smoke settings)" : ", full settings"}`,
    "- The sandbox always runs in its own process (`pnpm sandbox` with the flags given per section); ledgers live " +
    "in the system temporary directory.",
    "",
    "## Targets",
    "",
    "| benchmark | figure | value | target | |",
    "|---|---|---|---|---|"
  ]
  for (const section of run.sections) {
    for (const figure of section.figures) {
      if (figure.target === undefined) continue
      lines.push(
        `| ${section.title} | ${escape(figure.label)} | ${escape(figure.value)} | ${escape(figure.target)} | ${
          verdict(figure)
        } |`
      )
    }
  }
  for (const section of run.sections) {
    lines.push(
      "",
      `## ${section.title}`,
      "",
      ...section.settings.map((line) => `- ${line}`),
      `- Load average (1 min) before / after: ${section.load.before.toFixed(2)} / ${
        section.load.after.toFixed(2)
      } on ${run.machine.cores} cores; section took ${millis(section.wallMillis)}`,
      "",
      "| figure | value | target | |",
      "|---|---|---|---|",
      ...section.figures.map((figure) =>
        `| ${escape(figure.label)} | ${escape(figure.value)} | ${escape(figure.target ?? "")} | ${verdict(figure)} |`
      )
    )
    if (section.notes.length > 0) lines.push("", ...section.notes)
  }
  return `${lines.join("\n")}\n`
}

export type SectionBody = Omit<Section, "load" | "wallMillis">

/** Runs a benchmark and records the machine's load and the time it took around it. */
export const timed = <E, R>(body: Effect.Effect<SectionBody, E, R>): Effect.Effect<Section, E, R> =>
  Effect.gen(function*() {
    const before = Machine.load()
    const started = performance.now()
    const result = yield* body
    return { ...result, load: { before, after: Machine.load() }, wallMillis: performance.now() - started }
  })
