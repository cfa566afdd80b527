/**
 * Guards for user-written regular expressions, checked once when a campaign is loaded so that matching a million
 * comments can never stall on one pathological pattern.
 *
 * The checks are syntactic and deliberately simple: a length cap, no backreferences, and a star-height check (a
 * group repeated a variable number of times must not itself contain variable repetition, and its alternatives must
 * not repeat or extend one another), which rules out the classic catastrophic shapes `(a+)+`, `(a*)*`, `(a|a)*` and
 * `(a|aa)*`.
 *
 * @internal
 */

/** Longest accepted pattern, in UTF-16 code units. */
export const maxPatternLength = 200

/** Flags every campaign regex is compiled with: case-insensitive, Unicode-aware. */
export const flags = "iu"

interface Group {
  readonly start: number
  readonly alternativeStarts: Array<number>
  readonly alternatives: Array<string>
  variable: boolean
}

interface Atom {
  readonly start: number
  readonly group?: Group
}

const repetition = /(?:\*|\+|\?|\{(\d+)(?:(,)(\d*))?\})\??/y

/** Whether a quantifier lets its atom repeat a variable number of times (more than once). */
const isVariable = (quantifier: RegExpExecArray): boolean => {
  const symbol = quantifier[0][0]
  if (symbol === "*" || symbol === "+") return true
  if (symbol === "?") return false
  const min = Number(quantifier[1])
  if (quantifier[2] === undefined) return false
  if (quantifier[3] === "") return true
  const max = Number(quantifier[3])
  return max > 1 && max > min
}

const overlapping = (alternatives: ReadonlyArray<string>): readonly [string, string] | undefined => {
  const nonEmpty = alternatives.filter((alternative) => alternative.length > 0)
  for (let i = 0; i < nonEmpty.length; i++) {
    for (let j = i + 1; j < nonEmpty.length; j++) {
      const a = nonEmpty[i]!
      const b = nonEmpty[j]!
      if (a.startsWith(b) || b.startsWith(a)) return [a, b]
    }
  }
  return undefined
}

/** Where the body of a group starts, after `(`, `(?:`, `(?=`, `(?!`, `(?<=`, `(?<!` or `(?<name>`. */
const groupBodyStart = (pattern: string, open: number): number => {
  if (pattern[open + 1] !== "?") return open + 1
  if (pattern[open + 2] === "<" && pattern[open + 3] !== "=" && pattern[open + 3] !== "!") {
    return pattern.indexOf(">", open) + 1
  }
  return open + (pattern[open + 2] === "<" ? 4 : 3)
}

/** Index just past the escape sequence that starts at `at` (a backslash). */
const escapeEnd = (pattern: string, at: number): number => {
  const kind = pattern[at + 1]
  const after = at + 2
  if ((kind === "p" || kind === "P" || kind === "u") && pattern[after] === "{") return pattern.indexOf("}", after) + 1
  if (kind === "u") return after + 4
  if (kind === "x") return after + 2
  if (kind === "c") return after + 1
  return after
}

/** Index just past the character class that starts at `at` (a `[`). */
const classEnd = (pattern: string, at: number): number => {
  let i = at + 1
  while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1
  return i + 1
}

const syntaxProblem = (pattern: string): string | undefined => {
  try {
    new RegExp(pattern, flags)
    return undefined
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error)
    // V8 says "Invalid regular expression: /pattern/flags: reason"; the pattern is already named by the caller.
    const reason = text.slice(text.lastIndexOf(": ") + 2)
    return `it is not a valid regular expression (${reason.charAt(0).toLowerCase()}${reason.slice(1)})`
  }
}

const structureProblem = (pattern: string): string | undefined => {
  const root: Group = { start: 0, alternativeStarts: [0], alternatives: [], variable: false }
  const stack: Array<Group> = [root]
  let last: Atom | undefined
  let i = 0
  while (i < pattern.length) {
    const frame = stack[stack.length - 1]!
    const char = pattern[i]!
    if (char === "\\") {
      const next = pattern[i + 1] ?? ""
      if ((next >= "1" && next <= "9") || next === "k") {
        return `backreferences such as "\\${next}" are not allowed`
      }
      last = { start: i }
      i = escapeEnd(pattern, i)
    } else if (char === "[") {
      last = { start: i }
      i = classEnd(pattern, i)
    } else if (char === "(") {
      const bodyStart = groupBodyStart(pattern, i)
      stack.push({ start: i, alternativeStarts: [bodyStart], alternatives: [], variable: false })
      last = undefined
      i = bodyStart
    } else if (char === ")") {
      stack.pop()
      frame.alternatives.push(pattern.slice(frame.alternativeStarts[frame.alternativeStarts.length - 1], i))
      const parent = stack[stack.length - 1]!
      parent.variable ||= frame.variable
      last = { start: frame.start, group: frame }
      i += 1
    } else if (char === "|") {
      frame.alternatives.push(pattern.slice(frame.alternativeStarts[frame.alternativeStarts.length - 1], i))
      frame.alternativeStarts.push(i + 1)
      last = undefined
      i += 1
    } else {
      repetition.lastIndex = i
      const quantifier = repetition.exec(pattern)
      if (quantifier !== null) {
        const end = i + quantifier[0].length
        if (last !== undefined && isVariable(quantifier)) {
          const excerpt = pattern.slice(last.start, end)
          if (last.group?.variable) {
            return `"${excerpt}" repeats something that already repeats (nested quantifiers can take exponential time)`
          }
          const overlap = last.group === undefined ? undefined : overlapping(last.group.alternatives)
          if (overlap !== undefined) {
            return `"${excerpt}" repeats a choice between "${overlap[0]}" and "${
              overlap[1]
            }", which overlap (this can take exponential time)`
          }
          frame.variable = true
        }
        last = undefined
        i = end
      } else {
        last = { start: i }
        i += pattern.codePointAt(i)! > 0xffff ? 2 : 1
      }
    }
  }
  return undefined
}

/**
 * Why `pattern` is refused as a campaign regex, or `undefined` when it is accepted. Patterns are compiled with the
 * flags in {@link flags}.
 */
export const check = (pattern: string): string | undefined => {
  if (pattern.length > maxPatternLength) {
    return `it is ${pattern.length} characters long; the limit is ${maxPatternLength}`
  }
  return syntaxProblem(pattern) ?? structureProblem(pattern)
}
