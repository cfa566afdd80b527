/**
 * Small statistics over measurements.
 */

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The most events in any half-open window `[t, t + windowMillis)`, over event times in milliseconds. */
export const maxInWindow = (times: ReadonlyArray<number>, windowMillis: number): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let most = 0
  let first = 0
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= windowMillis) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}

/** Events per second between the first and the last event: n events span n - 1 intervals. */
export const ratePerSecond = (times: ReadonlyArray<number>): number => {
  if (times.length < 2) return Number.NaN
  const span = Math.max(...times) - Math.min(...times)
  return span <= 0 ? Number.NaN : ((times.length - 1) / span) * 1000
}
