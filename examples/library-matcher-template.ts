/**
 * The Matcher and the Template on their own (docs/library.md): deciding whether a comment asks for the message, and
 * writing the message for its author, without the API or a ledger.
 */
import { Matcher, Template } from "@comment-dm/core"
import { Either, Option } from "effect"

// A matcher is validated when made: an unsafe or broken spec (a regex that can backtrack for seconds, "[") is an
// InvalidMatchSpec, never a matcher. `mode` defaults to "word", `exclude` to nothing.
export const matcher = Matcher.make({ keywords: ["guide", "link"], exclude: ["stop"] })

export const broken = Matcher.make({ mode: "regex", keywords: ["["] })

/** The keyword a comment asks with, if it matches (and holds no excluded word). */
export const keywordOf = (text: string): Option.Option<string> =>
  Either.match(matcher, { onLeft: () => Option.none(), onRight: (compiled) => Matcher.match(compiled, text) })

// A template is parsed once: unknown variables and broken braces are a TemplateError.
export const template = Template.parse("Hi @{{username}}! Here is your {{keyword}}: https://example.com/guide")

export const misspelt = Template.parse("Hi {{usernme}}")

/** The message for the author of a comment, when the comment matches. */
export const messageFor = (comment: { readonly text: string; readonly username: string }): Option.Option<string> =>
  Option.flatMap(
    keywordOf(comment.text),
    (keyword) =>
      Option.map(Option.getRight(template), (parsed) =>
        Template.render(parsed, {
          username: comment.username,
          userId: "17841400000000001",
          keyword,
          comment: comment.text,
          commentId: "18000000000000001",
          postId: "17900000000000001"
        }))
  )
