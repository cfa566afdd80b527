import { assert, describe, it } from "@effect/vitest"
import { Duration, Either, ParseResult, Schema } from "effect"
import * as Interval from "../src/Interval.js"

const decode = Schema.decodeUnknownEither(Interval.Interval)

/** The one line the command prints for a refused `--every`. */
const refusal = (text: unknown) =>
  Either.match(decode(text), {
    onLeft: (error) => ParseResult.TreeFormatter.formatIssueSync(error.issue),
    onRight: (interval) => assert.fail(`${String(text)} was accepted as ${Duration.format(interval)}`)
  })

describe("Interval", () => {
  it("reads a number with ms, s, m or h (seconds without a unit), spaces around allowed", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["60s", 60_000],
      ["10", 10_000],
      ["2m", 120_000],
      ["1h", 3_600_000],
      ["1.5s", 1_500],
      [" 5 s ", 5_000],
      ["1000ms", 1_000],
      ["1", 1_000],
      ["24h", 86_400_000]
    ]
    for (const [text, millis] of cases) {
      assert.deepStrictEqual(Either.map(decode(text), Duration.toMillis), Either.right(millis), text)
    }
  })

  it("refuses less than a second, more than a day and anything that is not a duration, in one line naming --every and the value", () => {
    for (
      const text of [
        "0.5s",
        "999ms",
        "0",
        "",
        " ",
        "abc",
        "-1s",
        "1e3",
        "5d",
        "1 h 2",
        "s",
        ".5s",
        "1,5s",
        "25h",
        "86400001ms",
        "9999999999h"
      ]
    ) {
      assert.strictEqual(
        refusal(text),
        `--every "${text}": expected a duration from 1 second to 24 hours, such as 60s, 10s, 2m or 1h`,
        text
      )
    }
  })

  it("shows control characters of a refused value as escapes", () => {
    assert.strictEqual(
      refusal("\u001b[2J\n1s"),
      "--every \"\\u001b[2J\\u000a1s\": expected a duration from 1 second to 24 hours, such as 60s, 10s, 2m or 1h"
    )
  })

  it("encodes an interval back to a text it reads the same", () => {
    const interval = Duration.millis(90_500)
    const text = Schema.encodeSync(Interval.Interval)(interval)
    assert.deepStrictEqual(Either.map(decode(text), Duration.toMillis), Either.right(90_500))
  })
})
