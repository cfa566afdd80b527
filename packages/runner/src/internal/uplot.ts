/**
 * uPlot (a kept charting library, pinned in the runner's package.json), as the text the pages inline: its script and
 * its style sheet. Read from node_modules when run from source; the bundle (scripts/build.ts) puts the same text in
 * place of this module, so that the built command carries the library and reads no file for it.
 */
import * as Fs from "node:fs"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
const read = (file: string): string => Fs.readFileSync(require.resolve(`uplot/dist/${file}`), "utf8")

/** uPlot's browser build, which defines the global `uPlot`. */
export const script: string = read("uPlot.iife.min.js")
export const style: string = read("uPlot.min.css")
