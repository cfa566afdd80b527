/**
 * Small statistics over measurements.
 */

/** A sorted copy, smallest first. */
export const ascending = (values: ReadonlyArray<number>): Array<number> => [...values].sort((a, b) => a - b)

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = ascending(values)
  if (sorted.length === 0) return Number.NaN
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The most events in any half-open window `[t, t + windowMillis)`, over event times in milliseconds. */
export const maxInWindow = (times: ReadonlyArray<number>, windowMillis: number): number => {
  const sorted = ascending(times)
  let most = 0
  let first = 0
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= windowMillis) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}

/** The value below which `share` of the values lie (nearest rank); `share` 1 is the largest. */
export const quantile = (values: ReadonlyArray<number>, share: number): number => {
  const sorted = ascending(values)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * share))] ?? Number.NaN
}

/** Events per second between the first and the last event: n events span n - 1 intervals. */
export const ratePerSecond = (times: ReadonlyArray<number>): number => {
  if (times.length < 2) return Number.NaN
  const span = Math.max(...times) - Math.min(...times)
  return span <= 0 ? Number.NaN : ((times.length - 1) / span) * 1000
}
