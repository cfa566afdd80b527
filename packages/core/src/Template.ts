/**
 * Message templates: `{{variable}}` placeholders filled per recipient, parsed once when the campaign is loaded.
 *
 * Syntax: `{{username}}` or `{{ username }}` inserts a variable. `\{{` writes a literal `{{`, and the `}}` after it
 * is literal too, so `\{{username}}` reads "{{username}}"; `\}}` writes a lone literal `}}`. Every other character
 * (single braces and backslashes included) is literal text. An unknown variable, an unclosed `{{`, an empty `{{}}`
 * and a stray `}}` are errors.
 */
import { Data, Either, Option, ParseResult, Schema } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import { dual } from "effect/Function"
import type { Platform } from "./internal/platform.js"
import { closest } from "./internal/suggest.js"

/** The variables a template may use, in the order error messages list them. */
export const variables = ["username", "user_id", "keyword", "comment", "comment_id", "post_id"] as const

export type Variable = typeof variables[number]

/** A run of literal text or a variable placeholder. */
export type Part =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Variable"; readonly name: Variable }

/** A parsed template: its source and the parts it renders from. */
export class Template extends Data.Class<{
  readonly source: string
  readonly parts: ReadonlyArray<Part>
}> {}

/** A template that cannot be parsed. `message` says what is wrong and where. */
export class TemplateError extends Data.TaggedError("TemplateError")<{
  readonly source: string
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

const isVariable = (name: string): name is Variable => (variables as ReadonlyArray<string>).includes(name)

const knownList = variables.map((name) => `{{${name}}}`).join(", ")

/** 1-based position in code points, the way an editor counts characters. */
const positionOf = (source: string, index: number): number => Array.from(source.slice(0, index)).length + 1

/** About 35 characters around the code point at `position`, marked with "…" where cut. */
const excerptAt = (source: string, position: number): string => {
  const chars = Array.from(source)
  const start = Math.max(0, position - 16)
  const end = Math.min(chars.length, position + 19)
  return `${start > 0 ? "…" : ""}${chars.slice(start, end).join("")}${end < chars.length ? "…" : ""}`
}

const brokenAt = (source: string, index: number, what: string, hint = ""): TemplateError => {
  const position = positionOf(source, index)
  return new TemplateError({
    source,
    reason: `${what} at character ${position} ("${excerptAt(source, position)}")${hint}`
  })
}

/** Parses `source`, failing with a {@link TemplateError} that names the problem and where it is. */
export const parse = (source: string): Either.Either<Template, TemplateError> => {
  const parts: Array<Part> = []
  let text = ""
  // After an escaped "\{{", the next "}}" closes it as literal text: `\{{username}}` reads "{{username}}".
  let literalOpen = false
  let i = 0
  while (i < source.length) {
    if (source.startsWith("\\{{", i) || source.startsWith("\\}}", i)) {
      literalOpen = source[i + 1] === "{"
      text += source.slice(i + 1, i + 3)
      i += 3
    } else if (literalOpen && source.startsWith("}}", i)) {
      literalOpen = false
      text += "}}"
      i += 2
    } else if (source.startsWith("{{", i)) {
      const close = source.indexOf("}}", i + 2)
      if (close < 0) return Either.left(brokenAt(source, i, `unclosed "{{"`, "; write \\{{ for literal braces"))
      const inner = source.slice(i + 2, close)
      const nested = inner.indexOf("{")
      if (nested >= 0) return Either.left(brokenAt(source, i + 2 + nested, `unexpected "{" inside "{{...}}"`))
      const name = inner.trim()
      if (name === "") return Either.left(brokenAt(source, i, `empty placeholder "{{${inner}}}"`))
      if (!isVariable(name)) {
        const hint = Option.match(closest(name, variables), {
          onNone: () => "",
          onSome: (suggestion) => ` (did you mean {{${suggestion}}}?)`
        })
        return Either.left(
          new TemplateError({
            source,
            reason: `unknown template variable {{${name}}}${hint}; the known ones are ${knownList}`
          })
        )
      }
      if (text !== "") parts.push({ _tag: "Text", text })
      text = ""
      parts.push({ _tag: "Variable", name })
      i = close + 2
    } else if (source.startsWith("}}", i)) {
      return Either.left(brokenAt(source, i, `stray "}}" without an opening "{{"`, "; write \\}} for literal braces"))
    } else {
      text += source[i]
      i += 1
    }
  }
  if (text !== "") parts.push({ _tag: "Text", text })
  return Either.right(new Template({ source, parts }))
}

/** A template from its source text: decoding parses it, encoding gives the source back. */
export const FromString: Schema.Schema<Template, string> = Schema.transformOrFail(
  Schema.String,
  Schema.declare((input): input is Template => input instanceof Template, { identifier: "Template" }),
  {
    strict: true,
    decode: (source, _, ast) =>
      Either.mapLeft(parse(source), (error) => new ParseResult.Type(ast, source, error.message)),
    encode: (template) => ParseResult.succeed(template.source)
  }
)

/**
 * What a template can say about one recipient. A missing `username` (some accounts come without one) renders as the
 * empty string, never as a stand-in word: "Hi @{{username}}, ..." becomes "Hi @, ...", so a campaign that cannot
 * rule this out should word its message to read well either way.
 */
export interface Values {
  readonly username: string | undefined
  readonly userId: string
  readonly keyword: string
  readonly comment: string
  readonly commentId: string
  readonly postId: string
}

const valueOf = (values: Values, name: Variable): string => {
  switch (name) {
    case "username":
      return values.username ?? ""
    case "user_id":
      return values.userId
    case "keyword":
      return values.keyword
    case "comment":
      return values.comment
    case "comment_id":
      return values.commentId
    case "post_id":
      return values.postId
  }
}

/** Fills a template's placeholders. */
export const render: {
  (values: Values): (self: Template) => string
  (self: Template, values: Values): string
} = dual(2, (self: Template, values: Values): string => {
  let out = ""
  for (const part of self.parts) out += part._tag === "Text" ? part.text : valueOf(values, part.name)
  // A comment cut mid-emoji leaves a lone surrogate: storage and the wire would change it, and reconciliation
  // must find exactly the text that was sent.
  return out.toWellFormed()
})

/** Whether a template inserts a variable, e.g. `{{comment}}`. */
export const uses = (self: Template, name: Variable): boolean =>
  self.parts.some((part) => part._tag === "Variable" && part.name === name)

/** The literal text of a template, without its placeholders: the least any rendering can be. */
export const staticText = (self: Template): string =>
  self.parts.reduce((out, part) => part._tag === "Text" ? out + part.text : out, "")

const utf8 = new TextEncoder()

/**
 * 32-bit FNV-1a of the UTF-8 bytes of `text`, as an unsigned integer. Chosen because it is tiny, fast and
 * reproducible in any language, so a variant choice can be checked outside this code.
 */
export const fnv1a32 = (text: string): number => {
  let hash = 0x811c9dc5
  for (const byte of utf8.encode(text)) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/**
 * Picks the variant for one recipient: `fnv1a32(campaign + "\u0000" + userId) % variants.length`. The same campaign
 * and user always get the same variant, in any process and after any resume, which keeps a resent or reconciled
 * message identical to the one first rendered.
 */
export const pick = <A>(variants: NonEmptyReadonlyArray<A>, campaign: string, userId: string): A =>
  variants[pickIndex(variants.length, campaign, userId)]!

/** The index of the variant {@link pick} gives a recipient among `count` variants. */
export const pickIndex = (count: number, campaign: string, userId: string): number =>
  fnv1a32(`${campaign}\u0000${userId}`) % count

const maxLengths: Record<Platform, number> = {
  instagram: 1000,
  facebook: 2000,
  youtube: 10000,
  linkedin: 8000
}

/** The longest message a platform takes, in Unicode code points (an emoji counts as one or more code points). */
export const maxMessageLength = (platform: Platform): number => maxLengths[platform]

/** Length in Unicode code points, the unit {@link maxMessageLength} uses. */
export const codePointLength = (text: string): number => {
  let count = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    // A high surrogate followed by a low one is a single code point.
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) i++
    }
    count++
  }
  return count
}

const withSeparators = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",")

/**
 * Right with the text when the platform takes it; Left with the reason to give for refusing the recipient
 * otherwise, e.g. "message is 1,204 characters; instagram allows 1,000".
 */
export const checkLength = (platform: Platform, text: string): Either.Either<string, string> => {
  const limit = maxMessageLength(platform)
  // Code points never outnumber UTF-16 units, so short texts need no counting.
  if (text.length <= limit) return Either.right(text)
  const length = codePointLength(text)
  return length <= limit
    ? Either.right(text)
    : Either.left(`message is ${withSeparators(length)} characters; ${platform} allows ${withSeparators(limit)}`)
}
