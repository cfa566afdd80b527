/**
 * Runs the command with its clock moved: `Date.now`, which Effect's Clock reads, is shifted by a module preloaded
 * through NODE_OPTIONS. A test plays "the next day" this way, after the platform's daily reset.
 */
export const shiftedClock = (millis: number): Readonly<Record<string, string>> => {
  const source = `const now = Date.now.bind(Date); Date.now = () => now() + ${Math.round(millis)};`
  const preload = `--import=data:text/javascript,${encodeURIComponent(source)}`
  return { NODE_OPTIONS: [process.env["NODE_OPTIONS"], preload].filter((part) => part !== undefined).join(" ") }
}

export const nextDay = (): Readonly<Record<string, string>> => shiftedClock(24 * 60 * 60 * 1000)
