/**
 * Reading the API's JSON answers: ids kept exact, and decode failures said in one line.
 *
 * @internal
 */
import { type ParseResult, ParseResult as Parse } from "effect"

/**
 * A string in JSON (kept as it is), or an integer of 16 digits or more outside any string. The unrolled string
 * pattern keeps the scan linear; the lookarounds keep the fraction or exponent of a decimal number out.
 */
const stringOrLongInteger = /"[^"\\]*(?:\\.[^"\\]*)*"|(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/g

/** Where a long integer can start a JSON value; most answers (ids as strings) have none, and skip the rewrite. */
const mayHoldLongInteger = /(?:^|[:,[])\s*-?\d{16}/

/**
 * `JSON.parse`, except that an integer too large to be a safe JavaScript number becomes a string of its exact digits.
 *
 * Ids are strings on the wire, but some encoders send a 64-bit id as a number, and `JSON.parse` rounds anything
 * above 2^53: 12345678901234567890 and 12345678901234567891 would both become 12345678901234567000, two people
 * taken for one, and one of them never messaged while the ledger says "sent". Reading the digits as written keeps the
 * person the platform named (skipping such comments instead would leave real commenters out).
 */
export const parse = (text: string): unknown =>
  JSON.parse(
    mayHoldLongInteger.test(text)
      ? text.replace(stringOrLongInteger, (token) =>
        token.startsWith("\"") || Number.isSafeInteger(Number(token)) ? token : `"${token}"`)
      : text
  )

const shortened = (text: string, max: number) => text.length <= max ? text : `${text.slice(0, max)}…`

const at = (body: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>(
    (value, key): unknown => typeof value === "object" && value !== null ? Reflect.get(value, key) : undefined,
    body
  )

const shown = (value: unknown): string =>
  value === undefined ? "nothing" : shortened(JSON.stringify(value) ?? String(value), 60)

/** `comments[3]` with the element's own id when it has one: `comments[3] (id "1785...")`. */
const element = (body: unknown, path: ReadonlyArray<PropertyKey>): string => {
  const id = at(body, [...path, "id"])
  const name = path.map((key) => typeof key === "number" ? `[${key}]` : `.${String(key)}`).join("").replace(/^\./, "")
  return typeof id === "string" || typeof id === "number" ? `${name} (id ${shortened(JSON.stringify(id), 40)})` : name
}

/** Where an issue is: the innermost list element it is in (with its id), then the field inside it. */
const where = (body: unknown, path: ReadonlyArray<PropertyKey>): string => {
  let index = -1
  path.forEach((key, i) => {
    if (typeof key === "number") index = i
  })
  const field = path.slice(index + 1).map(String).join(".")
  if (index < 0) return field === "" ? "the answer" : `field ${field}`
  const inside = element(body, path.slice(0, index + 1))
  return field === "" ? inside : `${inside}, field ${field}`
}

/** What the schema wanted, when it says so briefly (a leaf type), else nothing. */
const expected = (message: string): string => {
  const wanted = /^Expected (.*?), actual /s.exec(message)?.[1]
  return wanted === undefined || wanted.length > 40 || /[{<(]/.test(wanted) ? "" : `expected ${wanted}, `
}

const isPrefix = (prefix: ReadonlyArray<PropertyKey>, path: ReadonlyArray<PropertyKey>) =>
  prefix.length < path.length && prefix.every((key, i) => path[i] === key)

/**
 * A decode failure in one line that names the field and the id of the element it belongs to, e.g.
 * `comments[1] (id "17858893269009999"), field text: expected string, got 42`.
 */
export const describe = (body: unknown, error: ParseResult.ParseError): string => {
  const issues = Parse.ArrayFormatter.formatErrorSync(error)
  const seen = new Set<string>()
  const problems: Array<string> = []
  for (const issue of issues) {
    // A union (a value or null) reports once per member, at the field and around it: the innermost says enough.
    if (issues.some((other) => isPrefix(issue.path, other.path))) continue
    const place = where(body, issue.path)
    if (seen.has(place)) continue
    seen.add(place)
    problems.push(
      issue._tag === "Missing"
        ? `${place}: missing`
        : `${place}: ${expected(issue.message)}got ${shown(at(body, issue.path))}`
    )
  }
  return problems.join("; ")
}
