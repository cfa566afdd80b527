import { HttpServerResponse } from "@effect/platform"
import type { Headers } from "@effect/platform"
import type { Effect } from "effect"
import type * as Faults from "../Faults.js"
import type { Accounts } from "./accounts.js"
import type { Traffic } from "./traffic.js"

/** What the request handlers share: the profiles and keys, the request accounting, the sandbox clock and the dice. */
export interface Env {
  readonly accounts: Accounts
  readonly traffic: Traffic
  /** Sandbox time in milliseconds. */
  readonly now: Effect.Effect<number>
  /** True with the given probability, from the seeded generator. */
  readonly chance: (share: number) => Effect.Effect<boolean>
  /** Waits a latency picked from the range, on the sandbox clock. */
  readonly pause: (latency: Faults.Latency) => Effect.Effect<void>
}

/** The key of an `Authorization: Apikey <KEY>` header. */
export const apiKeyOf = (headers: Headers.Headers): string | undefined => {
  const match = /^Apikey\s+(\S+)\s*$/.exec(headers["authorization"] ?? "")
  return match?.[1]
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers })

export const invalidApiKey = { success: false, message: "Invalid API key" }
