/** Reading the CSV export in the end-to-end tests. */

import { Either } from "effect"
import { parseCsv as csvRows } from "../../packages/runner/src/SuppressCommand.js"

/** The records of a CSV text with a header line, by column name. */
export const parseCsv = (text: string): Array<Record<string, string>> => {
  const [header, ...records] = Either.getOrThrowWith(csvRows(text), (line) => new Error(`quote open from line ${line}`))
  return records.map((record) => Object.fromEntries((header ?? []).map((name, i) => [name, record[i] ?? ""])))
}
