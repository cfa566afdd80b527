/**
 * Decides whether a comment takes part in a campaign, and by which keyword.
 *
 * Comments and keywords are folded the same way before comparing (NFKC, lower case, no diacritics, no zero-width
 * characters or emoji variation selectors), so "ＧＵＩＤＥ", "Guíde" and "guide" are one word, and "❤️" is "❤".
 *
 * Modes:
 * - `word` (default): the keyword as a whole word or phrase. Its ends must not touch a letter or digit, so "guide"
 *   matches "GUIDE please", "#guide" and "guide🔥" but not "guidelines" or "misguided"; the words of a phrase may be
 *   separated by any run of whitespace. Scripts written without spaces (Han, Hiragana, Katakana, Hangul, Thai, Lao,
 *   Khmer, Myanmar) have no word ends to check: a keyword in them, and an emoji keyword, matches anywhere in the
 *   comment, and a letter of those scripts next to a Latin keyword counts as a word end.
 * - `contains`: the keyword anywhere in the comment.
 * - `exact`: the whole comment, trimmed, is the keyword (after folding; nothing else is ignored).
 * - `regex`: each keyword is a regular expression in RE2 syntax, matched case-insensitively by `re2js` (a JavaScript
 *   port of RE2) against the comment, folded and then as written. RE2 matches in time linear in the comment, whatever
 *   the pattern, so no pattern can stall a run and the whole comment is read; in exchange it has no backreferences
 *   and no lookaround, which {@link validate} reports when the campaign is loaded.
 * - `any`: every comment.
 *
 * `exclude` terms always use word semantics (so emoji and unspaced-script terms match anywhere); a comment with any
 * of them never matches, whatever the mode.
 */
import { Data, Either, Option, Schema } from "effect"
import { dual } from "effect/Function"
import { RE2JS, RE2JSSyntaxException } from "re2js"
import { fold } from "./internal/fold.js"

export const Mode = Schema.Literal("word", "contains", "exact", "regex", "any")
export type Mode = typeof Mode.Type

/** The `match` section of a campaign, with defaults applied. */
export const MatchSpec = Schema.Struct({
  mode: Mode,
  keywords: Schema.Array(Schema.String),
  exclude: Schema.Array(Schema.String)
})
export type MatchSpec = typeof MatchSpec.Type

/** What code gives {@link make}: the mode defaults to `word`, the keywords and exclude terms to none. */
export interface MatchInput {
  readonly mode?: Mode | undefined
  readonly keywords?: ReadonlyArray<string> | undefined
  readonly exclude?: ReadonlyArray<string> | undefined
}

/** Something wrong with a match spec, at a path inside it such as `["keywords", 2]`. */
export interface Problem {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

const emptyOnceFolded = (term: string): string =>
  term.trim() === "" ?
    "is empty" :
    `${JSON.stringify(term)} is empty once case, accents and invisible characters are ignored`

/**
 * Everything wrong with a spec, empty when {@link make} can use it: keywords present exactly when the mode needs
 * them, no keyword or exclude term that folds to nothing, and every regex valid in RE2 syntax.
 */
export const validate = (spec: MatchSpec): ReadonlyArray<Problem> => {
  const problems: Array<Problem> = []
  if (spec.mode === "any" && spec.keywords.length > 0) {
    problems.push({
      path: ["keywords"],
      message: `mode "any" takes every commenter, so keywords would be ignored; remove them or choose another mode`
    })
  }
  if (spec.mode !== "any" && spec.keywords.length === 0) {
    problems.push({ path: ["keywords"], message: `mode "${spec.mode}" needs at least one keyword` })
  }
  spec.keywords.forEach((keyword, index) => {
    if (spec.mode === "regex") {
      const problem = regexProblem(keyword)
      if (problem !== undefined) {
        problems.push({ path: ["keywords", index], message: `regex ${JSON.stringify(keyword)} is refused: ${problem}` })
      }
    } else if (fold(keyword).trim() === "") {
      problems.push({ path: ["keywords", index], message: `keyword ${emptyOnceFolded(keyword)}` })
    }
  })
  spec.exclude.forEach((term, index) => {
    if (fold(term).trim() === "") {
      problems.push({ path: ["exclude", index], message: `exclude term ${emptyOnceFolded(term)}` })
    }
  })
  return problems
}

/** A spec {@link validate} finds nothing wrong with: the only kind {@link compile} takes. */
export const ValidMatchSpec = MatchSpec.pipe(
  Schema.filter((spec) => validate(spec).map((problem) => ({ path: problem.path, message: problem.message }))),
  Schema.brand("ValidMatchSpec")
)
export type ValidMatchSpec = typeof ValidMatchSpec.Type

/** The spec of a campaign without a `match` section: every commenter. */
export const everyone: ValidMatchSpec = ValidMatchSpec.make({ mode: "any", keywords: [], exclude: [] })

/** A match spec that cannot be used, with everything wrong with it. */
export class InvalidMatchSpec extends Data.TaggedError("InvalidMatchSpec")<{
  readonly problems: ReadonlyArray<Problem>
}> {
  override get message(): string {
    const told = this.problems.map((problem) =>
      problem.path.length === 0 ? problem.message : `${problem.path.join(".")}: ${problem.message}`
    )
    return `the match spec cannot be used: ${told.join("; ")}`
  }
}

/** Checks a spec, with the defaults applied: a valid spec for {@link compile}, or everything wrong with it. */
export const validated = (input: MatchInput): Either.Either<ValidMatchSpec, InvalidMatchSpec> => {
  const spec: MatchSpec = { mode: input.mode ?? "word", keywords: input.keywords ?? [], exclude: input.exclude ?? [] }
  const problems = validate(spec)
  return problems.length === 0
    ? Either.right(ValidMatchSpec.make(spec, { disableValidation: true }))
    : Either.left(new InvalidMatchSpec({ problems }))
}

/** Regex keywords are case-insensitive, as every other mode is; RE2 is Unicode-aware without a flag. */
const compileRegex = (pattern: string): RE2JS => RE2JS.compile(pattern, RE2JS.CASE_INSENSITIVE)

/** What JavaScript habits RE2 refuses, said plainly; `fragment` is the part RE2 stopped at. */
const unsupported = (fragment: string): string | undefined => {
  if (/^\\([1-9]|k)/.test(fragment)) return `backreferences such as "${fragment}" are not supported`
  if (/^\(\?[=!]/.test(fragment)) return "lookahead such as \"(?=\" or \"(?!\" is not supported"
  if (/^\(\?<[=!]/.test(fragment)) return "lookbehind such as \"(?<=\" or \"(?<!\" is not supported"
  if (fragment === "\\u") return "\"\\u\" escapes are not supported; write a character as \\x{0041} or \\x{1F525}"
  return undefined
}

/** Why a pattern cannot be a regex keyword, or `undefined`. */
const regexProblem = (pattern: string): string | undefined => {
  try {
    compileRegex(pattern)
    return undefined
  } catch (error) {
    if (!(error instanceof RE2JSSyntaxException)) {
      return `it cannot be compiled (${error instanceof Error ? error.message : String(error)})`
    }
    // RE2 names the fragment it stopped at; the case-insensitive flag can show there as a "(?i)" the user never wrote.
    const input = error.input ?? ""
    const fragment = input.startsWith("(?i)") && !pattern.includes(input) ? input.slice(4) : input
    const reason = unsupported(fragment) ?? `${error.error}${fragment === "" ? "" : ` at "${fragment}"`}`
    return `${reason} (keywords use RE2 syntax, which matches in linear time)`
  }
}

/** A compiled match spec. Build it once per campaign with {@link make}; {@link match} is then cheap per comment. */
export interface Matcher {
  readonly spec: ValidMatchSpec
  /** The keyword found in a comment, as written in the spec, or `undefined`. */
  readonly find: (text: string) => string | undefined
}

const unspacedScripts = ["Han", "Hiragana", "Katakana", "Hangul", "Thai", "Lao", "Khmer", "Myanmar"]
  .map((script) => `\\p{scx=${script}}`)
  .join("")

/** A letter or digit of a script that separates words with spaces: what a word boundary must not touch. */
const wordChar = `(?:(?![${unspacedScripts}])[\\p{L}\\p{N}])`
const isWordChar = new RegExp(`^${wordChar}$`, "u")

const syntaxCharacters = /[\\^$.*+?()[\]{}|/]/g
const escapeRegExp = (text: string): string => text.replace(syntaxCharacters, "\\$&")

/** The regex source for one term in word mode, over folded text. */
const wordPattern = (term: string): string => {
  const words = fold(term).split(/\s+/u).filter((word) => word !== "")
  const body = words.map(escapeRegExp).join("\\s+")
  const chars = Array.from(words.join(" "))
  const before = isWordChar.test(chars[0]!) ? `(?<!${wordChar})` : ""
  const after = isWordChar.test(chars[chars.length - 1]!) ? `(?!${wordChar})` : ""
  return `${before}${body}${after}`
}

/** One regex that finds the first of several terms, each in its own capture group. */
const wordRegex = (terms: ReadonlyArray<string>): RegExp =>
  new RegExp(terms.map((term) => `(${wordPattern(term)})`).join("|"), "u")

const firstGroup = (found: RegExpExecArray, keywords: ReadonlyArray<string>): string | undefined => {
  for (let i = 0; i < keywords.length; i++) {
    if (found[i + 1] !== undefined) return keywords[i]
  }
  return undefined
}

/** Finds the keyword in a comment, given the comment folded and as written. */
type Finder = (folded: string, text: string) => string | undefined

const finder = (spec: MatchSpec): Finder => {
  const keywords = spec.keywords
  switch (spec.mode) {
    case "any":
      return () => ""
    case "word": {
      const regex = wordRegex(keywords)
      return (folded) => {
        const found = regex.exec(folded)
        return found === null ? undefined : firstGroup(found, keywords)
      }
    }
    case "contains": {
      const needles = keywords.map(fold)
      return (folded) => {
        const index = needles.findIndex((needle) => folded.includes(needle))
        return index < 0 ? undefined : keywords[index]
      }
    }
    case "exact": {
      const byFolded = new Map<string, string>()
      for (const keyword of keywords) {
        const key = fold(keyword).trim()
        if (!byFolded.has(key)) byFolded.set(key, keyword)
      }
      return (folded) => byFolded.get(folded.trim())
    }
    case "regex": {
      const regexes = keywords.map(compileRegex)
      return (folded, text) => {
        const index = regexes.findIndex((regex) => regex.test(folded) || regex.test(text))
        return index < 0 ? undefined : keywords[index]
      }
    }
  }
}

/** Checks and compiles a spec: a matcher, or everything wrong with the spec (never a throw). */
export const make = (input: MatchInput): Either.Either<Matcher, InvalidMatchSpec> =>
  Either.map(validated(input), compile)

/** Compiles a spec already checked (a campaign's, or one from {@link validated}). */
export const compile = (spec: ValidMatchSpec): Matcher => {
  const find = finder(spec)
  const exclude = spec.exclude.length > 0 ? wordRegex(spec.exclude) : undefined
  if (spec.mode === "any" && exclude === undefined) return { spec, find: () => "" }
  return {
    spec,
    find: (text) => {
      const folded = fold(text)
      return exclude !== undefined && exclude.test(folded) ? undefined : find(folded, text)
    }
  }
}

/**
 * The keyword a comment matches, as written in the campaign, or none. When several keywords occur, word mode
 * reports the one that comes first in the comment and the other modes the first in campaign order. Mode `any`
 * matches every comment not excluded, with the empty string as its keyword.
 */
export const match: {
  (text: string): (self: Matcher) => Option.Option<string>
  (self: Matcher, text: string): Option.Option<string>
} = dual(2, (self: Matcher, text: string): Option.Option<string> => Option.fromNullable(self.find(text)))
