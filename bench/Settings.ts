/**
 * How big the benchmarks are: `full` for the results file, `quick` for a smoke run of the same code.
 */
export type Mode = "full" | "quick"

/** A value per mode. */
export const pick = <A>(mode: Mode, values: { readonly full: A; readonly quick: A }): A => values[mode]

/** Far above any benchmark's sends: the daily DM cap is not what these measure. */
export const noDailyLimit = 100_000_000

/** The seed of every generated data set, so that every run sees the same comments. */
export const seed = 1
