/**
 * Everything the command prints goes through {@link visible}: usernames, comment texts and the platform's error texts
 * come from strangers, and a terminal acts on some characters instead of showing them. Each of those becomes a
 * visible `\uXXXX` escape, so a username can neither clear the screen or retitle the window (C0 such as ESC and BEL,
 * DEL, C1 where U+009B acts as CSI), nor reorder what a line shows (the bidirectional controls), nor start a line of
 * its own that reads like a log line (line feed, carriage return, U+2028, U+2029).
 *
 * `\uXXXX` is also how JSON escapes a character, so JSON output passed through it stays valid and decodes to the same
 * values.
 */

const terminalControls = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g

const escape = (char: string): string => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`

/** One line of output with every character a terminal would act on shown as a `\uXXXX` escape. */
export const visible = (text: string): string => text.replace(terminalControls, escape)

/** Text of several lines that the command itself broke into lines: each line made {@link visible}. */
export const visibleLines = (text: string): string => text.split("\n").map(visible).join("\n")
