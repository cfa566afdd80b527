import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { visible, visibleLines } from "../src/Visible.js"

/** Every character a terminal acts on, by the ranges of issue 13 item 6. */
const acted = [
  ...Array.from({ length: 0x20 }, (_, i) => i),
  ...Array.from({ length: 0xa0 - 0x7f }, (_, i) => 0x7f + i),
  0x061c,
  0x200e,
  0x200f,
  ...Array.from({ length: 5 }, (_, i) => 0x202a + i),
  ...Array.from({ length: 4 }, (_, i) => 0x2066 + i),
  0x2028,
  0x2029
].map((code) => String.fromCharCode(code))

const controls = new RegExp(`[${acted.join("").replace(/[\\\]^-]/g, "\\$&")}]`)

describe("Visible", () => {
  it("shows every C0, DEL, C1, bidirectional and line-separator character as a \\uXXXX escape", () => {
    for (const char of acted) {
      assert.strictEqual(visible(`a${char}b`), `a\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}b`)
    }
    assert.strictEqual(visible("evil\u001b]0;TITLE\u0007\u001b[2J"), "evil\\u001b]0;TITLE\\u0007\\u001b[2J")
    assert.strictEqual(visible("\u009b2J \u202eabc"), "\\u009b2J \\u202eabc")
  })

  it("leaves other text alone: letters, emoji, joiners, quotes, backslashes", () => {
    for (
      const text of ["anna.travels", "ＧＵＩＤＥ 🔥", "👨‍👩‍👧", "دليل", "say \"hi\" \\ ok", "\u00a0\u00ad\u200b", ""]
    ) {
      assert.strictEqual(visible(text), text)
    }
  })

  it("keeps the command's own line breaks in visibleLines, and nothing else", () => {
    assert.strictEqual(visibleLines("2 problems:\n  - a\u001b\r\n  - b"), "2 problems:\n  - a\\u001b\\u000d\n  - b")
  })

  it.prop("makes any text free of controls", [FastCheck.string({ unit: "binary" })], ([text]) => {
    assert.notMatch(visible(text), controls)
  })

  it.prop(
    "keeps JSON valid and its values unchanged",
    [FastCheck.jsonValue(), FastCheck.string({ unit: "binary" })],
    ([value, text]) => {
      const json = JSON.stringify({ value, text })
      assert.deepStrictEqual(JSON.parse(visible(json)), JSON.parse(json))
    }
  )
})
