import { assert, describe, it } from "@effect/vitest"
import * as Crypto from "node:crypto"
import { html, jsonScript, page } from "../src/internal/html.js"

const hostile = [
  "</script><script>alert(1)</script>",
  "</SCRIPT >",
  "<!--",
  "<!-- <script>",
  "-->",
  "a\u2028b\u2029c",
  "nul\u0000byte",
  "\ud800 lone surrogate",
  "&lt; already an entity",
  "\"quotes' and \\ backslashes"
]

/** The text of a `<script>` element as an HTML parser ends it: at the first `</script` whatever its case. */
const scriptText = (markup: string): string => {
  const start = markup.indexOf(">") + 1
  const end = markup.toLowerCase().indexOf("</script", start)
  return markup.slice(start, end)
}

describe("jsonScript", () => {
  it("writes data that no text can end, comment out or break, and that parses back to itself", () => {
    for (const text of hostile) {
      const value = { label: text, nested: [text, { text }] }
      const markup = jsonScript("chart-data", value).value
      const body = scriptText(markup)
      assert.strictEqual(`<script type="application/json" class="chart-data">${body}</script>`, markup, text)
      assert.notMatch(body, /[<>&\u2028\u2029\u0000]/, text)
      assert.deepStrictEqual(JSON.parse(body), value, text)
    }
  })
})

describe("page", () => {
  it("allows each of its scripts by its hash, and nothing else: no eval, no inline code but these, no origin", () => {
    const scripts = ["window.a = 1", "window.b = 2"]
    const text = page({ title: "t", style: "body{}", scripts, body: html`<p>x</p>` })
    const policy = (/http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(text)?.[1] ?? "").replaceAll(
      "&#39;",
      "'"
    )
    const hash = (source: string) => `'sha256-${Crypto.createHash("sha256").update(source).digest("base64")}'`
    assert.include(policy, `script-src ${scripts.map(hash).join(" ")};`)
    assert.notMatch(policy, /unsafe|https?:|\*|connect-src/)
    assert.include(page({ title: "t", style: "", scripts, connect: true, body: html`` }), "connect-src &#39;self&#39;")
  })
})
