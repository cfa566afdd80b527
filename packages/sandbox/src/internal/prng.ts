/**
 * Counter-based pseudo-randomness: every value is a pure function of its inputs, so generated data can be
 * recomputed on demand instead of stored.
 */

const mix = (hash: number, value: number): number => {
  let h = Math.imul(hash ^ value, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/** A 32-bit hash of a string, used to turn identifiers into numeric seeds. */
export const hashString = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  }
  return h >>> 0
}

/** A 32-bit hash of a list of integers (each folded to 32 bits, so values above 2^32 stay distinct). */
export const hash = (...values: ReadonlyArray<number>): number => {
  let h = 0x9e3779b9
  for (const value of values) {
    h = mix(h, value | 0)
    h = mix(h, Math.floor(value / 0x100000000) | 0)
  }
  return h >>> 0
}

/** A stream of uniform numbers in [0, 1) from one 32-bit state (mulberry32). */
export const stream = (seed: number): () => number => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000
  }
}

/** Picks one element of a non-empty list with a uniform number in [0, 1). */
export const pick = <A>(items: readonly [A, ...Array<A>], uniform: number): A =>
  items[Math.min(items.length - 1, Math.floor(uniform * items.length))] ?? items[0]
