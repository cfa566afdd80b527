/**
 * Unicode folding shared by the matcher: a comment and a keyword that a reader would call "the same word" fold to
 * the same string.
 *
 * Steps: NFKC (full-width and styled letters become plain ones), lower case (`toLowerCase`, which does not depend on
 * the locale), the two case folds `toLowerCase` leaves out (ß -> ss, final ς -> σ), then diacritics and invisible
 * characters go: NFD, drop every combining mark (`\p{M}`, which includes the emoji variation selectors) and every
 * format character (`\p{Cf}`: zero-width space and joiners, BOM, soft hyphen, direction marks), then NFC.
 *
 * Emoji keywords keep working because both sides lose the same characters: "❤️" (heart + VS16) and "❤" both fold to
 * the bare heart, and a ZWJ sequence folds to its parts in order, so it still finds itself.
 *
 * @internal
 */

const invisible = /[\p{M}\p{Cf}]/gu
const sharpS = /ß/g
const finalSigma = /ς/g

/** Every step, for any text. */
export const foldFully = (text: string): string =>
  text
    .normalize("NFKC")
    .toLowerCase()
    .replace(sharpS, "ss")
    .replace(finalSigma, "σ")
    .normalize("NFD")
    .replace(invisible, "")
    .normalize("NFC")

/**
 * Code points outside ASCII that every step but the removal of ZWJ and VS16 leaves alone: typographic quotes and
 * dashes, symbols and dingbats (❤ ✅), and the emoji blocks.
 */
export const plainRanges: ReadonlyArray<readonly [number, number]> = [
  [0x2012, 0x2016],
  [0x2018, 0x2023],
  [0x2500, 0x27bf],
  [0x2b00, 0x2bff],
  [0x1f300, 0x1faff]
]

/**
 * Latin-1 Supplement and Latin Extended-A and -B (é, ñ, ß, ...): each of these characters folds to the same text
 * alone as next to any character of the fast path, so it is looked up in a table built once from {@link foldFully}.
 */
export const latinRange = [0x80, 0x24f] as const

const latinFolds: ReadonlyArray<string> = Array.from(
  { length: latinRange[1] - latinRange[0] + 1 },
  (_, i) => foldFully(String.fromCharCode(latinRange[0] + i))
)

const isPlain = (codePoint: number): boolean => {
  for (const [low, high] of plainRanges) {
    if (codePoint >= low && codePoint <= high) return true
  }
  return false
}

/**
 * Folds `text` for comparison, with the same result as {@link foldFully}. Comments made of ASCII, emoji, symbols and
 * Latin letters, which are most of them, take a single pass with table lookups instead of three normalisations; the
 * test suite checks that pass against {@link foldFully}.
 */
export const fold = (text: string): string => {
  let out = ""
  let copiedUpTo = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) continue
    if (unit <= latinRange[1]) {
      out += text.slice(copiedUpTo, i) + latinFolds[unit - latinRange[0]]
      copiedUpTo = i + 1
    } else if (unit === 0x200d || unit === 0xfe0f) {
      out += text.slice(copiedUpTo, i)
      copiedUpTo = i + 1
    } else {
      const codePoint = text.codePointAt(i)!
      if (!isPlain(codePoint)) return foldFully(text)
      if (codePoint > 0xffff) i++
    }
  }
  // Table entries are folded already; lower-casing only changes the ASCII letters around them.
  return (copiedUpTo === 0 ? text : out + text.slice(copiedUpTo)).toLowerCase()
}
