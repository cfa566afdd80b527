/**
 * Buttons on a private reply (`buttons:` in the campaign file): up to 3 web links, each a title of at most 20
 * characters and an https URL. The URL may use the message's template variables, filled per person with each value
 * URL-encoded, so that a username or a comment cannot change the link's shape. A DM carries none.
 */
import { Either } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Template from "./Template.js"

/** The most buttons a private reply takes. */
export const maxButtons = 3

/** The longest button title the platform takes, in Unicode code points. */
export const maxTitleLength = 20

/** A button as the campaign file writes it. */
export interface Input {
  readonly title: string
  readonly url: string
}

/** A checked button: its title, and its URL as a template. */
export interface Button {
  readonly title: string
  readonly url: Template.Template
}

/** A button as the request carries it, for one person. */
export interface Rendered {
  readonly title: string
  readonly url: string
}

/** One problem of the `buttons` list, at a path below it (empty: the list itself). */
export interface Problem {
  readonly path: ReadonlyArray<number | string>
  readonly message: string
}

const controlCharacter = /\p{Cc}/u
const spaceOrControl = /[\s\p{Cc}]/u
/** The fixed start of the URL: the scheme and the whole host, ended by a `/`, `?` or `#` when a variable follows. */
const fixedHost = /^https:\/\/[^/?#\s]+[/?#]/i

const titleProblem = (title: string): string | undefined => {
  if (title === "") return "is empty; write the button's text"
  if (controlCharacter.test(title)) return "contains a control character (a line break, a tab, NUL...)"
  const length = Template.codePointLength(title)
  return length > maxTitleLength
    ? `is ${length} characters; a button title may have at most ${maxTitleLength}`
    : undefined
}

/** Stands for any value of a variable when checking the URL's shape. */
const sample: Template.Values = {
  username: "x",
  userId: "1",
  keyword: "x",
  comment: "x",
  commentId: "1",
  postId: "1"
}

const urlProblem = (source: string): Either.Either<Template.Template, string> => {
  if (spaceOrControl.test(source)) {
    return Either.left("contains a space or a control character; write it percent-encoded (a space is %20)")
  }
  const parsed = Template.parse(source)
  if (Either.isLeft(parsed)) return Either.left(parsed.left.message)
  const template = parsed.right
  const first = template.parts[0]
  const prefix = first?._tag === "Text" ? first.text : ""
  if (!/^https:\/\//i.test(prefix)) {
    return Either.left(`expected an https URL, got ${JSON.stringify(source.slice(0, 60))}`)
  }
  if (!fixedHost.test(template.parts.length === 1 ? `${prefix}/` : prefix)) {
    return Either.left("the host must be written out: template variables may go in the path or the query only")
  }
  try {
    const url = new URL(Template.render(template, sample))
    if (url.protocol !== "https:" || url.hostname === "") throw new TypeError("not https")
  } catch {
    return Either.left(`is not a valid https URL: ${JSON.stringify(source.slice(0, 60))}`)
  }
  return Either.right(template)
}

/** Checks the buttons of a campaign file: every problem at once, each at its path, or the buttons. */
export const check = (
  inputs: ReadonlyArray<Input>
): Either.Either<ReadonlyArray<Button>, NonEmptyReadonlyArray<Problem>> => {
  const problems: Array<Problem> = []
  if (inputs.length > maxButtons) {
    problems.push({ path: [], message: `at most ${maxButtons} buttons, got ${inputs.length}` })
  }
  const buttons: Array<Button> = []
  inputs.forEach((input, index) => {
    const title = input.title.trim()
    const badTitle = titleProblem(title)
    if (badTitle !== undefined) problems.push({ path: [index, "title"], message: badTitle })
    const url = urlProblem(input.url.trim())
    if (Either.isLeft(url)) problems.push({ path: [index, "url"], message: url.left })
    else if (badTitle === undefined) buttons.push({ title, url: url.right })
  })
  const [head, ...tail] = problems
  return head === undefined ? Either.right(buttons) : Either.left([head, ...tail])
}

/** A value as it goes into a URL: percent-encoded, a lone surrogate (a comment cut mid-emoji) made whole first. */
const encode = (value: string): string => encodeURIComponent(value.toWellFormed())

/** The buttons for one person: each URL filled with their values, URL-encoded. */
export const render = (buttons: ReadonlyArray<Button>, values: Template.Values): Array<Rendered> => {
  const encoded: Template.Values = {
    username: encode(values.username ?? ""),
    userId: encode(values.userId),
    keyword: encode(values.keyword),
    comment: encode(values.comment),
    commentId: encode(values.commentId),
    postId: encode(values.postId)
  }
  return buttons.map((button) => ({ title: button.title, url: Template.render(button.url, encoded) }))
}

/**
 * The notice for a campaign whose every first message is a DM (`delivery: dm`, or `auto` off Instagram) but that has
 * buttons: they are never sent, since only private replies carry them.
 */
export const unusedNotice = (delivery: string, buttons: ReadonlyArray<Button> | undefined): string | undefined =>
  delivery === "dm" && buttons !== undefined && buttons.length > 0
    ? `buttons: this campaign sends DMs (delivery "${delivery}" on its platform), which carry no buttons; only ` +
      "private replies do, so its buttons are not sent"
    : undefined
