/**
 * The identity of this process as a ledger claimant, and the recovery of claims left by dead runners.
 * A runner id is `host/pid/start`: on the same host a dead process is recognised at once; elsewhere its claims
 * are recovered when their lease expires, never while its owner is alive and renewing them.
 */
import { Effect } from "effect"
import * as Os from "node:os"
import type * as Ledger from "./Ledger.js"

const host = Os.hostname()

/** This process's id as a claimant. */
export const currentId = `${host}/${process.pid}/${Date.now().toString(36)}`

interface ParsedId {
  readonly host: string
  readonly pid: number
}

export const parseId = (id: string): ParsedId | undefined => {
  const match = /^(.*)\/(\d+)\/[0-9a-z]+$/.exec(id)
  return match === null ? undefined : { host: match[1]!, pid: Number(match[2]) }
}

const processIsAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return typeof error === "object" && error !== null && "code" in error && error.code === "EPERM"
  }
}

/** A claimant on this host whose process is gone: its claims can be recovered without waiting for the lease. */
export const isDeadLocalRunner = (id: string): boolean => {
  if (id === currentId) return false
  const parsed = parseId(id)
  return parsed !== undefined && parsed.host === host && !processIsAlive(parsed.pid)
}

/**
 * Turns leftover claims into `in_doubt`: every expired lease, and at once every claim of a dead process on this
 * host. Returns how many.
 */
export const recoverLeftoverClaims = (
  ledger: Ledger.Service,
  campaign: string
): Effect.Effect<number, Ledger.LedgerError> =>
  Effect.gen(function*() {
    let recovered = yield* ledger.recoverClaims(campaign)
    for (const holder of yield* ledger.claimHolders(campaign)) {
      if (isDeadLocalRunner(holder)) recovered += yield* ledger.recoverClaims(campaign, { runner: holder })
    }
    return recovered
  })
