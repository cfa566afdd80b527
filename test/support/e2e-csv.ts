/** Reading the CSV export in the end-to-end tests. */

/** A minimal RFC 4180 reader: quoted fields may hold commas, quotes ("") and newlines. */
export const parseCsv = (text: string): Array<Record<string, string>> => {
  const rows: Array<Array<string>> = []
  let row: Array<string> = []
  let field = ""
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (quoted) {
      if (char === "\"" && text[i + 1] === "\"") {
        field += "\""
        i++
      } else if (char === "\"") quoted = false
      else field += char
    } else if (char === "\"") quoted = true
    else if (char === ",") {
      row.push(field)
      field = ""
    } else if (char === "\n") {
      rows.push([...row, field])
      row = []
      field = ""
    } else field += char
  }
  const [header, ...records] = rows
  return records.map((record) => Object.fromEntries((header ?? []).map((name, i) => [name, record[i] ?? ""])))
}
