/**
 * The report's charts as plain inline SVG, drawn here when the report is written: nothing to load or run when it is
 * viewed. Colours come from the page's style sheet through class names; sizes are SVG attributes (the page's
 * Content-Security-Policy allows no inline style attribute).
 */
import { type Html, html } from "./html.js"

/** One coloured part of a bar: its value and the class that colours it. */
export interface Segment {
  readonly value: number
  readonly kind: string
}

const round = (n: number): string => String(Math.round(n * 100) / 100)

/**
 * A horizontal bar as wide as its container, filled left to right by the segments in proportion to `total` (the
 * rest stays empty): the bars of one chart share a total, so their lengths compare.
 */
export const bar = (segments: ReadonlyArray<Segment>, total: number, label: string): Html => {
  let x = 0
  const rects = segments.filter((segment) => segment.value > 0).map((segment) => {
    const width = total > 0 ? (segment.value / total) * 1000 : 0
    const rect = html`<rect class="${segment.kind}" x="${round(x)}" width="${round(width)}" height="10"></rect>`
    x += width
    return rect
  })
  return html`<svg class="bar" viewBox="0 0 1000 10" preserveAspectRatio="none" role="img" aria-label="${label}">
<rect class="empty" width="1000" height="10"></rect>${rects}</svg>`
}

export interface Column {
  /** Shown under some columns (the first, the last and every so many between). */
  readonly label: string
  readonly segments: ReadonlyArray<Segment>
}

const chartWidth = 520
const chartHeight = 200
const left = 44
const bottom = 28
const top = 10

/** A round scale top at or above `max`: 1, 2 or 5 times a power of ten. */
export const scaleTop = (max: number): number => {
  if (max <= 1) return 1
  const power = 10 ** Math.floor(Math.log10(max))
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= max) ?? 10 * power
}

/** A scale's top in the few characters the axis has room for: 500, 20k, 1M. */
export const compact = (n: number): string =>
  n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1_000 ? `${n / 1_000}k` : String(n)

/** Stacked columns over time, with the scale's top and the labels of a few columns. */
export const columns = (items: ReadonlyArray<Column>, label: string): Html => {
  const max = Math.max(0, ...items.map((item) => item.segments.reduce((sum, segment) => sum + segment.value, 0)))
  const scale = scaleTop(max)
  const plotWidth = chartWidth - left - 4
  const plotHeight = chartHeight - bottom - top
  // A few columns stay narrow rather than fill the width.
  const slot = Math.min(plotWidth / Math.max(1, items.length), 48)
  const gap = slot > 6 ? slot * 0.2 : 0
  const every = Math.max(1, Math.ceil(items.length / 4))
  const drawn = items.map((item, index) => {
    const x = left + index * slot + gap / 2
    let y = top + plotHeight
    const rects = item.segments.filter((segment) => segment.value > 0).map((segment) => {
      const height = (segment.value / scale) * plotHeight
      y -= height
      return html`<rect class="${segment.kind}" x="${round(x)}" y="${round(y)}" width="${round(slot - gap)}" height="${
        round(height)
      }"></rect>`
    })
    const tick = index % every === 0 || index === items.length - 1
      ? html`<text class="axis" x="${round(x + (slot - gap) / 2)}" y="${chartHeight - 4}" text-anchor="${
        index === 0 ? "start" : index === items.length - 1 ? "end" : "middle"
      }">${item.label}</text>`
      : undefined
    return html`${rects}${tick}`
  })
  return html`<svg class="chart" viewBox="0 0 ${chartWidth} ${chartHeight}" role="img" aria-label="${label}">
<line class="grid" x1="${left}" y1="${top}" x2="${chartWidth - 4}" y2="${top}"></line>
<line class="grid" x1="${left}" y1="${top + plotHeight}" x2="${chartWidth - 4}" y2="${top + plotHeight}"></line>
<text class="axis" x="${left - 6}" y="${top + 5}" text-anchor="end">${compact(scale)}</text>
<text class="axis" x="${left - 6}" y="${top + plotHeight}" text-anchor="end">0</text>
${drawn}</svg>`
}
