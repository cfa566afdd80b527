/**
 * The report's charts. Bars of a count against its whole are plain inline SVG, drawn here when the report is written;
 * colours come from the page's style sheet through class names, sizes are SVG attributes (the page's
 * Content-Security-Policy allows no inline style attribute). Counts over time are drawn in the browser by uPlot, a kept
 * charting library inlined in the page (internal/uplot.ts), from data inlined as JSON.
 */
import { type Html, html, jsonScript } from "./html.js"

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

/** One series of a chart over time: its name, the class that colours its key, its value at each time. */
export interface Series {
  readonly label: string
  readonly kind: string
  readonly values: ReadonlyArray<number>
}

export interface TimeChart {
  /** The chart's accessible name. */
  readonly label: string
  readonly unit: "hour" | "day"
  /** The start of each hour or day, epoch seconds (UTC). */
  readonly times: ReadonlyArray<number>
  /** Stacked in this order, the first at the bottom. */
  readonly series: ReadonlyArray<Series>
}

/**
 * A chart over time drawn in the browser by uPlot ({@link chartScript}) from the data inlined beside it as JSON. The
 * figures are also in the page as a table, for a reader without scripts.
 */
export const timeChart = (chart: TimeChart): Html =>
  html`<div class="chart" data-chart="time" role="img" aria-label="${chart.label}"><div class="plot"></div>${
    jsonScript("chart-data", chart)
  }</div>`

/** The colour of each kind of series, as the style sheet gives it to the keys (canvas takes no CSS class). */
const colours: Record<string, string> = {
  dm: "#2f6fde",
  private_reply: "#8a4fd6",
  follow_up: "#1f9d74",
  public_reply: "#e08a1e"
}

/**
 * Draws every `[data-chart=time]` of the page with uPlot as stacked bars (each series drawn at its running total, the
 * topmost first), each from the start of its hour or day to the next (an empty time after the last closes the axis,
 * which a single time would leave without a span), with times on the axis in UTC, as wide as its box; again when the window's width changes, and when
 * `window.commentDmCharts()` is called (the dashboard, after it swapped fresh views in). The uPlot instance is kept on
 * its box as `chart` (its data, the stacked totals, is what a test reads back).
 */
export const chartScript = `(()=>{const colours=${JSON.stringify(colours)};
const draw=(box)=>{const source=box.querySelector("script.chart-data");const plot=box.querySelector(".plot");
if(source===null||plot===null)return;const d=JSON.parse(source.textContent);if(box.chart)box.chart.destroy();
let total=d.times.map(()=>0);const stacked=d.series.map((s)=>(total=total.map((t,i)=>t+s.values[i])));
const top=Math.max(1,...total);const step=d.unit==="hour"?3600:86400;
const end=(d.times.length===0?0:d.times[d.times.length-1])+step;const order=d.series.map((s,i)=>i).reverse();
const bars=uPlot.paths.bars({size:[0.7,48],align:1});
const series=[{},...order.map((i)=>({label:d.series[i].label,fill:colours[d.series[i].kind]||"#5b6474",
stroke:colours[d.series[i].kind]||"#5b6474",width:0,paths:bars,points:{show:false},
value:(u,v,si,idx)=>idx==null?"":String(d.series[i].values[idx])}))];
const width=Math.max(200,Math.floor(box.clientWidth));
box.chart=new uPlot({width,height:220,legend:{show:false},cursor:{drag:{x:false,y:false},points:{show:false}},
tzDate:(ts)=>uPlot.tzDate(new Date(ts*1e3),"Etc/UTC"),
scales:{x:{time:true,range:(u,min,max)=>[min,max]},y:{range:()=>[0,Math.ceil(top*1.1)]}},
axes:[{space:70,size:50},{size:44,space:30,values:(u,splits)=>splits.map((v)=>Number.isInteger(v)?String(v):"")}],
series},[[...d.times,end],...order.map((i)=>[...stacked[i],null])],plot)};
const drawAll=()=>document.querySelectorAll("[data-chart=time]").forEach(draw);window.commentDmCharts=drawAll;
let width=window.innerWidth;window.addEventListener("resize",()=>{if(window.innerWidth!==width){width=window.innerWidth;
drawAll()}});if(document.readyState==="loading")document.addEventListener("DOMContentLoaded",drawAll);else drawAll()})();`
