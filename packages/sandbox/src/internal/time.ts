export const dayMillis = 24 * 60 * 60 * 1000

/** Instagram's timestamp form: ISO-8601 to the second with a `+0000` offset (no colon). */
export const formatInstagram = (millis: number): string =>
  new Date(Math.floor(millis / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "+0000")

/** Milliseconds since the epoch, or undefined when the text is not a date. */
export const parse = (text: string): number | undefined => {
  const millis = Date.parse(text)
  return Number.isNaN(millis) ? undefined : millis
}
