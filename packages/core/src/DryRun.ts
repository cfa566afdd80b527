/**
 * A dry run as layers: the same engine, with services that send nothing and write nothing.
 *
 * - the ledger reads the real one and keeps every change in memory: people found are pending there, claims succeed
 *   there (a person on the profile's suppression list is settled `suppressed` instead, as a real claim would),
 *   settlements stay there; read marks, registration, crash recovery and reconciliation do nothing;
 * - the sender makes no request, and tells the run that it rehearses (each send told as one it would make, the
 *   outcome `dry_run`);
 * - no pace, and no daily budget shared with the profile's other runners.
 *
 * `Campaign.run(spec, { dryRun: true })` provides it; so may a caller, to rehearse a watch.
 */
import { Effect, Layer, Option, Stream } from "effect"
import * as DailyBudget from "./DailyBudget.js"
import * as Ledger from "./Ledger.js"
import * as Pacer from "./Pacer.js"
import * as Sender from "./Sender.js"

/** The state a settlement leaves a row in. */
const stateAfter: { readonly [Tag in Ledger.Settlement["_tag"]]: Ledger.DeliveryState } = {
  Sent: "sent",
  Refused: "refused",
  Pending: "pending",
  InDoubt: "in_doubt",
  Skipped: "skipped",
  Expired: "expired",
  Unconfirmed: "unconfirmed",
  Suppressed: "suppressed"
}

/** A row as the rehearsal changed it: its state now, who claimed it, and its stored state (none: found now). */
interface Changed {
  state: Ledger.DeliveryState
  runner: string | undefined
  readonly stored: Ledger.DeliveryState | undefined
  readonly campaign: string
  readonly step: Ledger.StepKind
}

const idOf = (key: Ledger.RecipientKey) => JSON.stringify([key.campaign, key.platform, key.userId, key.step])

/** Reads `stored` and writes nothing to it: what the run changes is kept in memory, for this run only. */
export const ledger = (stored: Ledger.Service): Ledger.Service => {
  /** Stored states read so far (undefined: no row), so that a claim needs no statement of its own. */
  const read = new Map<string, Ledger.DeliveryState | undefined>()
  const changed = new Map<string, Changed>()
  /** The profile of each campaign registered, and the usernames of the people met: what the list is checked by. */
  const profiles = new Map<string, string>()
  const usernames = new Map<string, string | undefined>()
  const meet = (person: Ledger.Candidate) => usernames.set(idOf(person), person.username)
  /** Who opted out in what the rehearsal read (platform, profile, user id): the list as a real run would leave it. */
  const optedOut = new Set<string>()
  const listKey = (platform: string, profile: string, userId: string) => JSON.stringify([platform, profile, userId])

  const storedState = (
    key: Ledger.RecipientKey
  ): Effect.Effect<Ledger.DeliveryState | undefined, Ledger.LedgerError> => {
    const id = idOf(key)
    if (read.has(id)) return Effect.succeed(read.get(id))
    return Effect.map(stored.states(key.campaign, key.platform, key.step, [key.userId]), (states) => {
      read.set(id, states.get(key.userId))
      return states.get(key.userId)
    })
  }
  const stateOf = (key: Ledger.RecipientKey) => {
    const change = changed.get(idOf(key))
    return change === undefined ? storedState(key) : Effect.succeed(change.state)
  }
  const change = (key: Ledger.RecipientKey, state: Ledger.DeliveryState, runner: string | undefined) =>
    Effect.map(storedState(key), (before) => {
      const id = idOf(key)
      const known = changed.get(id)
      if (known === undefined) {
        changed.set(id, { state, runner, stored: before, campaign: key.campaign, step: key.step })
        return
      }
      known.state = state
      known.runner = runner
    })
  const heldBy = (key: Ledger.RecipientKey, runner: string) => {
    const change = changed.get(idOf(key))
    return change?.state === "claimed" && change.runner === runner
  }
  /** A claim of a listed person settles them `suppressed` in memory and fails, as the real claim's statement does. */
  const listed = (key: Ledger.RecipientKey) => {
    const profile = profiles.get(key.campaign)
    if (profile === undefined) return Effect.succeed(false)
    const person = { userId: key.userId, username: usernames.get(idOf(key)) }
    if (optedOut.has(listKey(key.platform, profile, key.userId))) return Effect.succeed(true)
    return Effect.map(stored.listed({ platform: key.platform, profile }, [person]), (found) => found.size > 0)
  }
  const record = (candidates: ReadonlyArray<Ledger.Candidate>) =>
    Effect.reduce(
      candidates,
      0,
      (added, candidate) =>
        Effect.flatMap(Effect.zipRight(Effect.sync(() => meet(candidate)), stateOf(candidate)), (state) =>
          state === undefined ? Effect.as(change(candidate, "pending", undefined), added + 1) : Effect.succeed(added))
    )

  // Every method is named, so that a new one is decided on here rather than passed through to write.
  return {
    entries: stored.entries,
    unrecorded: stored.unrecorded,
    conversationsRead: stored.conversationsRead,
    campaignVersions: stored.campaignVersions,
    campaignStart: stored.campaignStart,
    forgotten: stored.forgotten,
    // A rehearsal's summary counts what it saw, not the ledger's tally.
    tally: stored.tally,
    registerCampaign: (info) => Effect.sync(() => void profiles.set(info.name, info.profileUser)),
    states: (campaign, platform, step, userIds) =>
      Effect.map(stored.states(campaign, platform, step, userIds), (states) => {
        const result = new Map(states)
        for (const userId of userIds) {
          const id = idOf({ campaign, platform, userId, step })
          read.set(id, states.get(userId))
          const change = changed.get(id)
          if (change !== undefined) result.set(userId, change.state)
        }
        return result
      }),
    discover: record,
    record: (candidates) => Effect.map(record(candidates), (added) => ({ added, unrecorded: [] })),
    markConversationsRead: () => Effect.void,
    claim: (key, { inDoubt, runner }) =>
      Effect.flatMap(stateOf(key), (state) => {
        if (state !== (inDoubt === true ? "in_doubt" : "pending")) return Effect.succeed(false)
        return Effect.flatMap(listed(key), (isListed) =>
          // Like the real claim: a private reply in doubt stays in doubt (it may have reached them).
          isListed
            ? Effect.as(state === "pending" ? change(key, "suppressed", undefined) : Effect.void, false)
            : Effect.as(change(key, "claimed", runner), true))
      }),
    confirmClaim: (key, runner) => Effect.sync(() => heldBy(key, runner)),
    settle: (key, runner, settlement) =>
      heldBy(key, runner)
        ? Effect.as(change(key, stateAfter[settlement._tag], undefined), true)
        : Effect.succeed(false),
    recoverClaims: () => Effect.succeed(0),
    claimHolders: () => Effect.succeed([]),
    renewLeases: () => Effect.succeed(0),
    // A rehearsal reads every page: it tells everyone the campaign would reach, not only who came since the last run.
    readMark: () => Effect.succeed(Option.none()),
    markRead: () => Effect.void,
    // Nobody is in doubt to resolve: reconciliation would write its answers, and a rehearsal does not need them.
    inDoubt: () => Effect.succeed([]),
    resolveInDoubt: () => Effect.succeed(false),
    // Who opted out is kept in memory, for this rehearsal's claims: the run that reads it next records it.
    suppress: (scope, people) =>
      Effect.sync(() => {
        for (const person of people) optedOut.add(listKey(scope.platform, scope.profile, person.userId))
        return 0
      }),
    listed: stored.listed,
    // No version is recorded; 0 stands for none.
    campaignVersion: () => Effect.succeed(0),
    // Whether a skip may be judged again depends on the stored reason and times, which a rehearsal does not read: it
    // reopens nobody (it may tell fewer people than a real run would reach, never more).
    reopen: () => Effect.succeed(false),
    // A person the edited rules no longer take is skipped in memory, so the rehearsal does not tell them as reached.
    judgeAgain: (key, keyword) =>
      Option.isSome(keyword) ?
        Effect.succeed(false) :
        Effect.flatMap(stateOf(key), (state) =>
          state === "pending" ? Effect.as(change(key, "skipped", undefined), true) : Effect.succeed(false)),
    // A rehearsal makes no first message, so it opens no later step and wakes no follow-up.
    openSteps: () => Effect.succeed(0),
    wakeFollowUp: () => Effect.succeed(false),
    endAwaiting: () => Effect.succeed(0),
    counts: (campaign, step) =>
      Effect.map(stored.counts(campaign, step), (counts) => {
        const result = { ...counts }
        for (const change of changed.values()) {
          if (change.campaign !== campaign || change.step !== step) continue
          if (change.stored !== undefined) result[change.stored]--
          result[change.state]++
        }
        return result
      }),
    // The stored pending rows the rehearsal has not settled yet (those it found itself were met in its pass).
    pendingEntries: (campaign, step) =>
      stored.pendingEntries(campaign, step).pipe(
        Stream.filter((entry) => {
          const id = idOf(entry)
          meet(entry)
          if (!read.has(id)) read.set(id, entry.state)
          const change = changed.get(id)
          return change === undefined || change.state === "pending"
        })
      )
  }
}

/** No limit known, nothing counted: a rehearsal uses none of the profile's daily DMs. */
const noBudget: DailyBudget.Service = {
  status: Effect.succeed({ capReached: false, limitReachedAt: undefined }),
  markExhausted: Effect.void,
  markLifted: Effect.void,
  recordSent: Effect.succeed(false)
}

/** The services of a dry run, over the real ledger. */
export const layer: Layer.Layer<
  Ledger.Ledger | Sender.Sender | Pacer.Pacer | DailyBudget.DailyBudget,
  never,
  Ledger.Ledger
> = Layer.mergeAll(
  Layer.effect(Ledger.Ledger, Effect.map(Ledger.Ledger, ledger)),
  Layer.succeed(Sender.Sender, Sender.wouldSend),
  Pacer.layerUnlimited,
  DailyBudget.layer(noBudget)
)
