/**
 * `watch --every` and serve's intervals: a number with an optional unit (ms, s, m, h; seconds when none), of at least
 * one second.
 */
import { Duration, Option, ParseResult, Schema } from "effect"
import { visible } from "./Visible.js"

const millisPerUnit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

export const minimum = Duration.seconds(1)

/** The interval a text gives, if it is one of at least {@link minimum}. */
export const parse = (text: string): Option.Option<Duration.Duration> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (match === null) return Option.none()
  const millis = Number(match[1]) * millisPerUnit[(match[2] ?? "s") as keyof typeof millisPerUnit]
  return millis >= Duration.toMillis(minimum) ? Option.some(Duration.millis(millis)) : Option.none()
}

/** The text of an interval flag decoded into a `Duration`; its one message names the flag and says what is expected. */
export const forFlag = (flag: string) =>
  Schema.transformOrFail(Schema.String, Schema.DurationFromSelf, {
    strict: true,
    decode: (text, _, ast) =>
      Option.match(parse(text), {
        onNone: () => ParseResult.fail(new ParseResult.Type(ast, text)),
        onSome: ParseResult.succeed
      }),
    encode: (interval) => ParseResult.succeed(`${Duration.toMillis(interval)}ms`)
  }).annotations({
    message: (issue) =>
      `${flag} "${visible(String(issue.actual))}": expected a duration of at least 1 second, such as 60s, 10s, 2m or 1h`
  })

/** `--every`. */
export const Interval = forFlag("--every")
