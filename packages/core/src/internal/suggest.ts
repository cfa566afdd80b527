/**
 * "Did you mean ...?" for configuration errors: the closest known name within a small edit distance.
 *
 * @internal
 */
import { Option } from "effect"

const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

/** The known name closest to `input`, if it is close enough to be a likely typo. */
export const closest = (input: string, known: ReadonlyArray<string>): Option.Option<string> => {
  const needle = input.toLowerCase()
  // One edit for short names, up to a third of the name for long ones.
  const limit = Math.max(1, Math.floor(needle.length / 3))
  let best: Option.Option<string> = Option.none()
  let bestDistance = limit + 1
  for (const candidate of known) {
    const distance = editDistance(needle, candidate.toLowerCase())
    if (distance < bestDistance) {
      best = Option.some(candidate)
      bestDistance = distance
    }
  }
  return best
}
