/**
 * `watch --every` and serve's intervals: a number with an optional unit (ms, s, m, h; seconds when none), from one
 * second to a day (a longer wait would overflow the runtime's timers, which fire at once past about 24.8 days).
 */
import { Duration, Option, ParseResult, Schema } from "effect"
import { visible } from "./Visible.js"

const millisPerUnit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

export const minimum = Duration.seconds(1)
export const maximum = Duration.days(1)

/** The interval a text gives, if it is one from {@link minimum} to {@link maximum}. */
export const parse = (text: string): Option.Option<Duration.Duration> => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (match === null) return Option.none()
  const millis = Number(match[1]) * millisPerUnit[(match[2] ?? "s") as keyof typeof millisPerUnit]
  return millis >= Duration.toMillis(minimum) && millis <= Duration.toMillis(maximum)
    ? Option.some(Duration.millis(millis))
    : Option.none()
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
      `${flag} "${
        visible(String(issue.actual))
      }": expected a duration from 1 second to 24 hours, such as 60s, 10s, 2m or 1h`
  })

/** `--every`. */
export const Interval = forFlag("--every")
