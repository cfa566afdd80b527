import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck, Schema } from "effect"
import * as WireJson from "../src/internal/wireJson.js"
import * as Wire from "../src/UploadPostSchema.js"

const decodePage = Schema.decodeUnknownEither(Wire.CommentPage)

/** The one-line description of why `text` does not decode as a comment page. */
const problem = (text: string): string => {
  const body = WireJson.parse(text)
  const decoded = decodePage(body)
  if (Either.isRight(decoded)) return assert.fail(`${text} decoded`)
  return WireJson.describe(body, decoded.left)
}

describe("WireJson.parse", () => {
  it("keeps integers above 2^53 as their exact digits, two neighbours as two values", () => {
    assert.deepStrictEqual(
      WireJson.parse(
        `{"a":12345678901234567890,"b":[12345678901234567891,-98765432109876543210],"c":9007199254740993}`
      ),
      { a: "12345678901234567890", b: ["12345678901234567891", "-98765432109876543210"], c: "9007199254740993" }
    )
  })

  it("leaves safe integers, decimals, exponents and strings as JSON.parse reads them", () => {
    for (
      const text of [
        `{"n":9007199254740991,"m":-9007199254740991,"z":0}`,
        `[1.2345678901234567890,12345678901234567890.5,1e20,12345678901234567890e2,1E-12345678901234567]`,
        `{"s":"12345678901234567890","t":"a\\"12345678901234567890\\\\","u":"\\\\"}`,
        `"12345678901234567890"`
      ]
    ) {
      assert.deepStrictEqual(WireJson.parse(text), JSON.parse(text), text)
    }
  })

  it.prop("agrees with JSON.parse on any JSON without long integers", [FastCheck.jsonValue()], ([value]) => {
    const text = JSON.stringify(value)
    if (/\d{16}/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, ""))) return
    assert.deepStrictEqual(WireJson.parse(text), JSON.parse(text))
  })

  it("fails on text that is not JSON, as JSON.parse does", () => {
    assert.throws(() => WireJson.parse("{\"a\":"))
    assert.throws(() => WireJson.parse("<html>"))
  })
})

describe("WireJson.describe", () => {
  it("names the field and the comment id in one line", () => {
    assert.strictEqual(
      problem(`{"comments":[{"id":"c1","text":"ok"},{"id":"17858893269009999","text":42}]}`),
      `comments[1] (id "17858893269009999"), field text: expected string, got 42`
    )
    assert.strictEqual(
      problem(`{"comments":[{"id":"c1","user":{"id":1.5}}]}`),
      `comments[0] (id "c1"), field user.id: expected string, got 1.5`
    )
    assert.strictEqual(problem(`{"comments":[{"text":"no id"}]}`), `comments[0], field id: missing`)
  })

  it("says what is wrong with the whole answer briefly, without the schema", () => {
    assert.strictEqual(problem(`{"success":true}`), "field comments: missing")
    const whole = problem(`[1,2,{"a":"${"x".repeat(300)}"}]`)
    assert.match(whole, /^the answer: got \[1,2,/)
    assert.isBelow(whole.length, 100)
    assert.notInclude(whole, "readonly")
  })
})

describe("UploadPostSchema.WireComment", () => {
  it("reads a null text as no text", () => {
    const decoded = decodePage(JSON.parse(`{"comments":[{"id":"c1","text":null,"user":{"id":"1"}}]}`))
    assert.deepStrictEqual(Either.map(decoded, (page) => page.comments[0]?.text), Either.right(""))
  })
})
