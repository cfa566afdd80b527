/**
 * Text from the platform as every ledger database can hold it. PostgreSQL refuses NUL in text ("invalid byte
 * sequence for encoding UTF8: 0x00"), and a UTF-16 surrogate without its pair has no UTF-8 form (drivers replace it
 * silently, so the stored text would differ from the text in memory). Both become U+FFFD, the same on SQLite and
 * PostgreSQL, so that two ids that differ only there stay distinct from ids without them.
 */

/** NUL or any surrogate: paired surrogates are kept by `toWellFormed`, the check only has to be cheap. */
const suspect = /[\u0000\uD800-\uDFFF]/

export const storable = (text: string): string =>
  suspect.test(text) ? text.toWellFormed().replaceAll("\u0000", "\uFFFD") : text

/** {@link storable} for an optional value. */
export const storableOrNull = (text: string | undefined): string | null => text === undefined ? null : storable(text)
