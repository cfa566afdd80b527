/**
 * The networks a campaign can run on. Lives here, not in a public module, so that both the campaign schema and the
 * template length rules can use it without importing each other.
 *
 * @internal
 */
import { Schema } from "effect"

export const platforms = ["instagram", "facebook", "youtube", "linkedin"] as const

export const Platform = Schema.Literal(...platforms)
export type Platform = typeof Platform.Type
