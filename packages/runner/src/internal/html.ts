/**
 * HTML made safe by construction: {@link html} escapes every value put into it unless it is itself {@link Html}, so
 * a username such as `<script>` is shown as text and never becomes markup. Text from strangers also has the
 * characters that reorder or hide what a line shows made visible (as the command's terminal output does).
 */
import * as Crypto from "node:crypto"
import { visible } from "../Visible.js"

/** Markup that is safe to put into a page as it is. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

/** What may be put into {@link html}: markup, text (escaped), or lists of them; nothing for absent values. */
export type Part = Html | string | number | ReadonlyArray<Part> | undefined | null | false

const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }

/** Text as HTML text or attribute value: markup characters escaped, controls and bidi controls made visible. */
export const escape = (text: string): string => visible(text).replace(/[&<>"']/g, (char) => entities[char] ?? char)

const renderPart = (part: Part): string => {
  if (part instanceof Html) return part.value
  if (Array.isArray(part)) return part.map(renderPart).join("")
  if (part === undefined || part === null || part === false) return ""
  return escape(String(part))
}

/** A template of markup whose values are escaped (see the module's comment). */
export const html = (strings: TemplateStringsArray, ...parts: ReadonlyArray<Part>): Html =>
  new Html(
    strings.reduce((out, string, index) => out + string + (index < parts.length ? renderPart(parts[index]) : ""), "")
  )

/** Text from a stranger (a username, a comment): escaped, and isolated so that its direction cannot spill over. */
export const foreign = (text: string): Html => html`<bdi>${text}</bdi>`

/** The CSP source of an inline style or script, by the SHA-256 of its exact text. */
export const hashSource = (text: string): string =>
  `'sha256-${Crypto.createHash("sha256").update(text, "utf8").digest("base64")}'`

export interface Document {
  readonly title: string
  /** The page's one style sheet, inlined and allowed by its hash. */
  readonly style: string
  readonly body: Html
  /** Scripts of the page's own, inlined in this order and each allowed by its hash. */
  readonly scripts?: ReadonlyArray<string>
  /** Whether the scripts may fetch from the page's origin (the dashboard's live views); else they fetch nothing. */
  readonly connect?: boolean
  /** Attributes of `<body>` (escaped), e.g. the data a script reads. */
  readonly bodyAttributes?: Readonly<Record<string, string>>
}

/**
 * The Content-Security-Policy of a page: nothing but its own inline style sheet and scripts, by their hashes (no
 * 'unsafe-inline', no 'unsafe-eval', no origin), and fetches to itself where it says so.
 */
export const policyOf = (document: Pick<Document, "style" | "scripts" | "connect">): string => {
  const scripts = document.scripts ?? []
  const script = scripts.length === 0 ? "" : `; script-src ${scripts.map(hashSource).join(" ")}`
  const connect = document.connect === true ? "; connect-src 'self'" : ""
  return `default-src 'none'; style-src ${
    hashSource(document.style)
  }${script}${connect}; base-uri 'none'; form-action 'none'`
}

/** Characters that could end or hide a script element's text, or end a line in older JavaScript. */
const scriptUnsafe = /[<>&\u2028\u2029]/g

/**
 * Data for a page's script, as JSON in an inert `<script type="application/json">` that the script parses. JSON
 * escapes quotes, controls (NUL included) and lone surrogates; `<`, `>`, `&` and the line separators are written as
 * \u escapes too, so that no text (a campaign named `</script><!--`) can close the element or open a comment in it.
 */
export const jsonScript = (className: string, value: unknown): Html =>
  new Html(
    `<script type="application/json" class="${escape(className)}">${
      JSON.stringify(value).replace(scriptUnsafe, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`)
    }</script>`
  )

/**
 * A whole page that loads nothing: the Content-Security-Policy allows no source but the inline style sheet and
 * scripts (by their hashes), so no other script runs and no image, font or frame is fetched, whatever the page holds.
 */
export const page = (document: Document): string => {
  const policy = policyOf(document)
  return `<!doctype html>\n${
    html`<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${document.title}</title>
<style>${new Html(document.style)}</style>${
      (document.scripts ?? []).map((script) => html`\n<script>${new Html(script)}</script>`)
    }
</head>
<body${Object.entries(document.bodyAttributes ?? {}).map(([name, value]) => html` ${name}="${value}"`)}>
${document.body}
</body>
</html>
`.value
  }`
}
