/**
 * This process as a claimant in the ledger (who holds a claim), and whether the holder of a claim is still alive.
 *
 * A claimant id is `host/pid/start/space`: the hostname, the process id, when the process started (base 36), and the
 * process's pid space, a short digest of the kernel's boot id and the process's pid namespace. A pid says whether a
 * process lives only within its own pid space: containers often share a hostname (and machines sometimes do), and a
 * pid in another container or on another machine says nothing here. So a claimant in this pid space whose process is
 * gone is recognised as dead at once; any other claimant's claims are recovered when their lease expires, never while
 * their owner is alive and renewing them.
 *
 * Ids written before the pid space was part of them (`host/pid/start`) are still read: their pid space is unknown,
 * so their claims wait for their lease.
 */
import { Effect } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import type * as Ledger from "./Ledger.js"

export interface Claimant {
  readonly host: string
  readonly pid: number
  /** When the process started, base 36: a later process with the same pid is another claimant. */
  readonly start: string
  /** The pid space the pid belongs to; `undefined` for ids written before it was recorded. */
  readonly space: string | undefined
}

/** What identifies the pid space of this process: the kernel's boot and the pid namespace in it. */
export interface SpaceSources {
  /** Linux: /proc/sys/kernel/random/boot_id. Elsewhere: the boot time, from the clock and the uptime. */
  readonly boot: string
  /** Linux: the pid namespace's inode, from /proc/self/ns/pid (a container has its own); else empty. */
  readonly pidNamespace: string
}

const readOr = (read: () => string, fallback: string): string => {
  try {
    return read().trim()
  } catch {
    return fallback
  }
}

/**
 * Where there is no boot id, the boot time in seconds, rounded to 10 seconds: two processes of one boot agree on it
 * (or, at worst, disagree and wait for each other's leases), two machines that share a hostname almost never do.
 */
const bootTime = (): string => `boot-${Math.round((Date.now() / 1000 - Os.uptime()) / 10) * 10}`

export const currentSources = (): SpaceSources => ({
  boot: readOr(() => Fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8"), "") || bootTime(),
  pidNamespace: readOr(() => Fs.readlinkSync("/proc/self/ns/pid"), "")
})

/** 12 hex digits of a digest of the sources: short in the ledger, and two pid spaces practically never share one. */
export const spaceOf = (sources: SpaceSources): string =>
  Crypto.createHash("sha256").update(`${sources.boot}\n${sources.pidNamespace}`).digest("hex").slice(0, 12)

export const format = (claimant: Claimant): string =>
  [claimant.host, claimant.pid, claimant.start, ...(claimant.space === undefined ? [] : [claimant.space])].join("/")

const idPattern = /^(.*?)\/(\d+)\/([0-9a-z]+)(?:\/([0-9a-f]{12}))?$/

/** Reads a claimant id, this version's or an earlier one's; `undefined` for anything else (e.g. a test's "runner-a"). */
export const parse = (id: string): Claimant | undefined => {
  const match = idPattern.exec(id)
  return match === null
    ? undefined
    : { host: match[1]!, pid: Number(match[2]), start: match[3]!, space: match[4] }
}

/** This process as a claimant. */
export const current: Claimant = {
  host: Os.hostname(),
  pid: process.pid,
  start: Date.now().toString(36),
  space: spaceOf(currentSources())
}

/** This process's id as a claimant, as the ledger stores it in `claimed_by`. */
export const currentId = format(current)

const processIsAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return typeof error === "object" && error !== null && "code" in error && error.code === "EPERM"
  }
}

/**
 * Whether the holder of a claim is alive, as far as this process can tell: `unknown` unless the holder is in this
 * pid space (same host, same boot, same pid namespace), where its pid answers.
 */
export const liveness = (
  id: string,
  here: Claimant = current,
  isRunning: (pid: number) => boolean = processIsAlive
): "alive" | "dead" | "unknown" => {
  if (id === format(here)) return "alive"
  const holder = parse(id)
  if (holder === undefined || holder.space === undefined) return "unknown"
  if (holder.host !== here.host || holder.space !== here.space) return "unknown"
  return isRunning(holder.pid) ? "alive" : "dead"
}

/**
 * Turns leftover claims into `in_doubt`: every expired lease, and at once every claim of a dead process in this
 * pid space. Returns how many.
 */
export const recoverLeftoverClaims = (
  ledger: Ledger.Service,
  campaign: string
): Effect.Effect<number, Ledger.LedgerError> =>
  Effect.gen(function*() {
    let recovered = yield* ledger.recoverClaims(campaign)
    for (const holder of yield* ledger.claimHolders(campaign)) {
      if (liveness(holder) === "dead") recovered += yield* ledger.recoverClaims(campaign, { runner: holder })
    }
    return recovered
  })
