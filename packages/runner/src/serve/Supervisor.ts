/**
 * `comment-dm serve`'s supervisor: one watcher fiber (`Watch.watch`) per campaign of the folder, in one process, on
 * one ledger. The folder is scanned every few seconds: a new file starts its campaign, an edited one restarts it on
 * the new version once its sends in flight have settled, a removed one stops it the same way. A file that breaks is
 * reported, and its campaign keeps running on its last good version; two files with the same `name` are both
 * reported, and neither starts (a campaign that already ran keeps its last good version).
 *
 * Failures stay with their campaign: a key or account the platform refuses, or a campaign it calls invalid, parks
 * that campaign, which tries again on a slow schedule (or at once when its file changes); the others go on. Only the
 * ledger failing ends the process.
 */
import {
  Campaign,
  type CampaignSpec,
  Ledger,
  ReadAllowance,
  RequestBudget,
  SharedPacer,
  StopSignal,
  UploadPost,
  Watch
} from "@comment-dm/core"
import type { FileSystem } from "@effect/platform"
import type { HttpClient } from "@effect/platform"
import type { SqlClient } from "@effect/sql"
import {
  Cause,
  ConfigError,
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Schedule,
  Stream
} from "effect"
import * as Folder from "./Folder.js"
import type * as Health from "./Health.js"
import * as Log from "./Log.js"

export interface Settings {
  readonly folder: string
  /** Each campaign's poll interval (`--every`). */
  readonly every: Duration.Duration
  /** How long a parked campaign waits before it tries again (`--retry-parked`). */
  readonly retryParked: Duration.Duration
  /** Time between two scans of the folder. */
  readonly rescan: Duration.Duration
  readonly log: Log.Log
  readonly board: Health.Board
}

/** How the process was stopped: by a signal, or because nobody reads its output any more. */
export type Ending = "interrupted" | "wrapped_up"

/** A campaign served: its file, the version its watcher runs, and what the scan asks of the watcher next. */
interface Slot {
  readonly name: string
  path: string
  spec: CampaignSpec.CampaignSpec
  fingerprint: string
  /** Set by the scan before it nudges the watcher: a new version to restart on, or the end of the campaign. */
  next: Folder.Good | "remove" | undefined
  /** Completed to make the current watcher wrap up (or a parked campaign try again now). */
  nudge: Deferred.Deferred<void>
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/** A watcher that failed: parked for a while, or retried sooner, or the whole process ends (the ledger). */
type Failure =
  | { readonly _tag: "Park"; readonly reason: string }
  | { readonly _tag: "Retry"; readonly reason: string }
  | { readonly _tag: "Fatal"; readonly cause: Cause.Cause<Ledger.LedgerError> }

/** The profile's account must be connected again in Upload-Post before anything works (`reauth_required`). */
export class NeedsLogin extends Data.TaggedError("NeedsLogin")<{
  readonly profile: string
  readonly platform: string
}> {
  override get message() {
    return `the ${this.platform} account of profile ${this.profile} must be connected again in Upload-Post ` +
      "(reauth_required): reconnect it in the Upload-Post dashboard"
  }
}

/**
 * Fails when the profile's account needs a new login, or the key is refused; any other failure to read the profile
 * says nothing here (the watcher meets it if it lasts).
 */
const loginCheck = (spec: CampaignSpec.CampaignSpec) =>
  Effect.gen(function*() {
    const api = yield* UploadPost.UploadPost
    const answer = yield* Effect.either(api.profile({ user: spec.user }))
    if (answer._tag === "Left") {
      if (answer.left._tag === "Unauthorized") return yield* answer.left
      return
    }
    if (answer.right.accounts?.get(spec.platform)?.reauthRequired === true) {
      return yield* new NeedsLogin({ profile: spec.user, platform: spec.platform })
    }
  })

/** Retries of a watcher that failed for a passing reason come sooner than a parked one's. */
const passingRetry = Duration.minutes(1)

/** How often a campaign's `api_plan` is set against the limits the API's headers told. */
const planCheckEvery = Duration.seconds(2)

const classify = (cause: Cause.Cause<unknown>): Failure => {
  const failure = Cause.failureOption(cause)
  // A defect ends the process as the ledger failing does: nothing says the other campaigns are safe.
  if (Option.isNone(failure)) return { _tag: "Fatal", cause: Cause.die(Cause.squash(cause)) }
  const error = failure.value
  if (error instanceof Ledger.LedgerError) return { _tag: "Fatal", cause: Cause.fail(error) }
  if (ConfigError.isConfigError(error)) return { _tag: "Park", reason: messageOf(error) }
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : ""
  return ["Unauthorized", "InvalidRequest", "UnrecognisedRefusals", "NeedsLogin"].includes(tag)
    ? { _tag: "Park", reason: messageOf(error) }
    : { _tag: "Retry", reason: messageOf(error) }
}

/** An error's message, without the full stop that would end it before the log line goes on. */
const messageOf = (error: unknown): string =>
  (typeof error === "object" && error !== null && "message" in error ? String(error.message) : String(error))
    .replace(/\.$/, "")

export const run = (
  settings: Settings
): Effect.Effect<
  Ending,
  Ledger.LedgerError,
  FileSystem.FileSystem | Ledger.Ledger | SqlClient.SqlClient | HttpClient.HttpClient | StopSignal.StopSignal
> =>
  Effect.gen(function*() {
    const { board, log } = settings
    const stop = yield* StopSignal.StopSignal
    /** Every watcher stops: the process is ending. */
    const halt = yield* Deferred.make<void>()
    const fatal = yield* Deferred.make<never, Ledger.LedgerError>()
    const ending = yield* Deferred.make<Ending>()
    yield* Effect.forkScoped(Effect.flatMap(stop.interrupt, () => Deferred.succeed(ending, "interrupted")))
    yield* Effect.forkScoped(Effect.flatMap(stop.wrapUp, () => Deferred.succeed(ending, "wrapped_up")))
    const stopping = Effect.race(Deferred.await(ending), Deferred.await(halt))
    const isStopping = Effect.zipWith(Deferred.isDone(ending), Deferred.isDone(halt), (a, b) => a || b)

    const slots = new Map<string, Slot>()
    /** Watchers told to stop, until they have: a campaign started again under that name waits for its old one. */
    const leaving = new Map<string, Fiber.RuntimeFiber<void>>()

    const about = (slot: Slot) => ({ campaign: slot.name, profile: slot.spec.user })

    /**
     * One request budget per API key, kept in the ledger (shared with other processes on it), for every campaign
     * that uses the key, under the tightest of their `api_plan`s while they run.
     */
    const budgets = yield* RequestBudget.makeRegistry(RequestBudget.ledgerStore)
    /**
     * One read allowance per API key for the campaigns that state its plan: four fifths of what the key sustains,
     * divided among their watchers by their posts' demand at each poll (`ReadAllowance`).
     */
    const allowances = new Map<string, ReadAllowance.Service>()
    const budgetOf = (slot: Slot) =>
      Layer.scopedContext(
        Effect.gen(function*() {
          const { apiKey } = yield* UploadPost.UploadPostConfig
          const { budget, notice } = yield* budgets.join(apiKey, slot.name, slot.spec.apiPlan)
          if (notice !== undefined) yield* log.write("warn", notice, about(slot))
          yield* Effect.forkScoped(planCheck(slot, budget))
          const context = Context.make(RequestBudget.RequestBudget, budget)
          if (slot.spec.apiPlan === undefined) return context
          const digest = RequestBudget.keyDigest(apiKey)
          const shared = allowances.get(digest) ?? (yield* ReadAllowance.make(ReadAllowance.readsOfBudget(budget)))
          allowances.set(digest, shared)
          return Context.add(context, ReadAllowance.ReadAllowance, shared)
        })
      )
    /**
     * Says in the log, once for each thing it finds, where the campaign's `api_plan` and the limits the API's headers
     * tell differ (looked at every few seconds while the campaign runs: the headers come with its requests).
     */
    const planCheck = (slot: Slot, budget: RequestBudget.Service) => {
      const plan = slot.spec.apiPlan
      if (plan === undefined) return Effect.void
      return Stream.repeatEffectWithSchedule(
        Effect.map(budget.told, (told) => RequestBudget.disagreement(plan, told)),
        Schedule.spaced(planCheckEvery)
      ).pipe(
        Stream.filter((text): text is string => text !== undefined),
        Stream.changes,
        Stream.runForEach((text) => log.write("warn", text, { ...about(slot), event: "ApiPlanDisagrees" }))
      )
    }
    /** The campaign's client: its key (`api_key_env`) and the key's budget. */
    const platformOf = (slot: Slot) => {
      const config = UploadPost.UploadPostConfig.fromEnvWith({
        notice: (text) => log.write("warn", text, about(slot)),
        keyVariable: slot.spec.apiKeyEnv
      })
      // The budget stays in the context too: a send takes its place in it where it waits for its pace.
      return UploadPost.UploadPost.Default.pipe(Layer.provideMerge(budgetOf(slot)), Layer.provide(config))
    }

    /**
     * The profile's pace: the slowest its campaigns ask for, since every campaign of the profile draws on the one
     * budget (kept in the ledger by `SharedPacer`).
     */
    const profilePace = (spec: CampaignSpec.CampaignSpec) =>
      Math.min(
        spec.pace.perHour,
        ...[...slots.values()].filter((slot) => slot.spec.user === spec.user && slot.spec.platform === spec.platform)
          .map((slot) => slot.spec.pace.perHour)
      )

    /**
     * One watcher of the slot's current version, until it is nudged, the process stops, its account needs a new
     * login (checked before it starts and every `retryParked` while it runs), or it fails.
     */
    const attempt = (slot: Slot, nudge: Deferred.Deferred<void>) =>
      Effect.gen(function*() {
        const spec = slot.spec
        const fields = about(slot)
        yield* loginCheck(spec)
        const relogin = yield* Deferred.make<NeedsLogin>()
        yield* Effect.forkScoped(
          loginCheck(spec).pipe(
            Effect.catchTag("NeedsLogin", (error) => Deferred.succeed(relogin, error)),
            Effect.ignore,
            Effect.delay(settings.retryParked),
            Effect.forever
          )
        )
        const signal = StopSignal.layer({
          interrupt: Effect.race(stop.interrupt, Deferred.await(halt)),
          wrapUp: Effect.raceAll([
            Effect.as(Deferred.await(nudge), "the campaign file changed"),
            Effect.map(Deferred.await(relogin), (error) => error.message),
            stop.wrapUp
          ])
        })
        const onEvent = Log.event(log, fields)
        const summary = yield* Campaign.ownAccount(spec, (text) => log.write("info", text, fields)).pipe(
          Effect.flatMap((ownAccount) =>
            Watch.watch(spec, {
              ownAccount,
              every: settings.every,
              onEvent: (event) => Effect.zipRight(Effect.sync(() => board.record(slot.name, event)), onEvent(event))
            })
          ),
          Effect.provide(SharedPacer.layer({ profile: spec.user, platform: spec.platform, count: profilePace(spec) })),
          Effect.provide(signal)
        )
        const needsLogin = yield* Deferred.poll(relogin)
        if (Option.isSome(needsLogin)) return yield* yield* needsLogin.value
        return summary
      }).pipe(
        Effect.scoped,
        Effect.provide(platformOf(slot))
      )

    /** The slot's watchers, one after the other, until the campaign is removed or the process stops. */
    const serveSlot = (slot: Slot, after: Fiber.RuntimeFiber<void> | undefined) =>
      Effect.gen(function*() {
        if (after !== undefined) yield* Fiber.await(after)
        while (true) {
          const nudge = yield* Deferred.make<void>()
          // One step, so that a nudge cannot fall between taking `next` and the new deferred.
          const next = yield* Effect.sync(() => {
            slot.nudge = nudge
            const taken = slot.next
            slot.next = undefined
            if (taken !== undefined && taken !== "remove") {
              slot.spec = taken.spec
              slot.fingerprint = taken.fingerprint
            }
            return taken
          })
          if (next === "remove" || (yield* isStopping)) return
          // Paused: kept loaded, nothing read or sent (not even the login check), until its file changes.
          if (slot.spec.active === false) {
            board.set(slot.name, "paused", "active: false in its file")
            yield* log.write(
              "info",
              "paused (active: false): nothing is read or sent; it resumes when its file says active again",
              { ...about(slot), event: "CampaignPaused" }
            )
            yield* Effect.raceFirst(Deferred.await(nudge), stopping)
            continue
          }
          // A parked campaign stays parked while it tries again: only its watcher's start says it is well.
          const health = board.entry(slot.name, slot.path, slot.spec.user)
          if (health.state !== "parked" && health.state !== "retrying") board.set(slot.name, "starting")
          const exit = yield* Effect.exit(attempt(slot, nudge))
          if (Exit.isSuccess(exit)) {
            const summary = exit.value
            yield* log.write(
              "info",
              `watcher stopped (${summary.outcome}): ${summary.counts.sent} sent, ${summary.counts.pending} pending, ` +
                `${summary.counts.in_doubt} in doubt`,
              { ...about(slot), event: "WatcherStopped" }
            )
            // Stopped by itself (its `until` passed): it waits for its file to change instead of starting again.
            if (slot.next === undefined && !(yield* isStopping)) {
              board.set(slot.name, "ended", "its until has passed")
              yield* Effect.raceFirst(Deferred.await(nudge), stopping)
            }
            continue
          }
          const failure = classify(exit.cause)
          if (failure._tag === "Fatal") {
            yield* log.write("error", `stopping every campaign: ${messageOf(Cause.squash(failure.cause))}`, {
              ...about(slot),
              event: "Fatal"
            })
            yield* Deferred.failCause(fatal, failure.cause)
            return
          }
          if (yield* isStopping) return
          const wait = failure._tag === "Park"
            ? settings.retryParked
            : Duration.min(settings.retryParked, passingRetry)
          const retryAt = new Date(Date.now() + Duration.toMillis(wait))
          board.set(slot.name, failure._tag === "Park" ? "parked" : "retrying", failure.reason, retryAt)
          yield* log.write(
            failure._tag === "Park" ? "error" : "warn",
            `${failure._tag === "Park" ? "parked" : "could not start"}: ${failure.reason}; the other campaigns go ` +
              `on; trying again at ${retryAt.toISOString()} (or when its file changes)`,
            { ...about(slot), event: failure._tag === "Park" ? "Parked" : "Retrying" }
          )
          yield* Effect.raceAll([Effect.sleep(wait), Deferred.await(nudge), stopping])
        }
      })

    const start = (name: string, path: string, good: Folder.Good) =>
      Effect.gen(function*() {
        const slot: Slot = {
          name,
          path,
          spec: good.spec,
          fingerprint: good.fingerprint,
          next: undefined,
          nudge: yield* Deferred.make<void>(),
          fiber: undefined
        }
        slots.set(name, slot)
        board.entry(name, path, good.spec.user)
        yield* log.write("info", `serving ${path}`, { ...about(slot), file: path, event: "CampaignAdded" })
        const previous = leaving.get(name)
        slot.fiber = yield* Effect.forkDaemon(serveSlot(slot, previous))
      })

    const tell = (slot: Slot, next: Folder.Good | "remove") =>
      Effect.zipRight(Effect.sync(() => (slot.next = next)), Deferred.succeed(slot.nudge, undefined))

    /** Reported once each: the names several files have, by the paths that have them. */
    const duplicatesTold = new Map<string, string>()

    /** Brings the watchers in line with the folder's files. */
    const apply = (listing: Folder.Listing) =>
      Effect.gen(function*() {
        const byName = new Map<string, Array<string>>()
        const files = new Map<string, string>()
        // The files' problems are told once the board shows them, so that a reader of the log finds them there.
        const told: Array<Effect.Effect<void>> = []
        for (const [path, entry] of listing) {
          if (entry.content._tag === "Good") {
            byName.set(entry.content.spec.name, [...(byName.get(entry.content.spec.name) ?? []), path])
            continue
          }
          files.set(path, entry.content.problem)
          if (!entry.fresh) continue
          const owner = [...slots.values()].find((slot) => slot.path === path)
          told.push(log.write(
            "error",
            entry.content.problem +
              (owner === undefined ? "" : `; campaign ${owner.name} keeps running on its last good version`),
            { file: path, campaign: owner?.name, profile: owner?.spec.user, event: "FileBroken" }
          ))
        }
        for (const [name, paths] of byName) {
          if (paths.length < 2) {
            duplicatesTold.delete(name)
            continue
          }
          const problem = `campaign name "${name}" is in ${paths.length} files (${paths.join(", ")}): each campaign ` +
            "needs a name of its own (the ledger keys it by name); none of them starts until one is renamed or removed" +
            (slots.has(name) ? `; the running one keeps its last good version` : "")
          for (const path of paths) files.set(path, problem)
          if (duplicatesTold.get(name) !== paths.join("\n")) {
            duplicatesTold.set(name, paths.join("\n"))
            told.push(log.write("error", problem, { campaign: name, event: "DuplicateName" }))
          }
        }
        for (const name of duplicatesTold.keys()) if (!byName.has(name)) duplicatesTold.delete(name)
        board.files = files

        for (const slot of [...slots.values()]) {
          const paths = byName.get(slot.name) ?? []
          const health = board.campaigns.get(slot.name)
          const [path] = paths
          if (paths.length === 1 && path !== undefined) {
            const entry = listing.get(path)
            if (health !== undefined) health.fileProblem = undefined
            if (entry?.content._tag !== "Good") continue
            slot.path = path
            if (health !== undefined) health.file = path
            const wanted = slot.next !== undefined && slot.next !== "remove" ? slot.next : slot
            if (entry.content.fingerprint === wanted.fingerprint) continue
            yield* log.write(
              "info",
              `${path} changed: restarting the campaign on the new version once its sends in flight have settled`,
              { ...about(slot), file: path, event: "CampaignEdited" }
            )
            yield* tell(slot, entry.content)
            continue
          }
          if (paths.length > 1) {
            if (health !== undefined) health.fileProblem = files.get(paths[0] ?? "")
            continue
          }
          const own = listing.get(slot.path)
          if (own?.content._tag === "Broken") {
            if (health !== undefined) health.fileProblem = own.content.problem
            continue
          }
          // Its file is gone, or names another campaign now.
          yield* log.write(
            "info",
            `${slot.path} ${own === undefined ? "was removed" : "names another campaign now"}: stopping the ` +
              "campaign once its sends in flight have settled",
            { ...about(slot), file: slot.path, event: "CampaignRemoved" }
          )
          slots.delete(slot.name)
          board.campaigns.delete(slot.name)
          yield* tell(slot, "remove")
          if (slot.fiber !== undefined) leaving.set(slot.name, slot.fiber)
        }

        yield* Effect.all(told, { discard: true })

        for (const [name, paths] of byName) {
          const [path] = paths
          if (paths.length !== 1 || path === undefined || slots.has(name)) continue
          const entry = listing.get(path)
          if (entry?.content._tag === "Good") yield* start(name, path, entry.content)
        }
        for (const [name, fiber] of leaving) {
          if (fiber.unsafePoll() !== null) leaving.delete(name)
        }
      })

    /** Scans until the process stops: a folder that cannot be listed for a while keeps the last listing. */
    const scanning = Effect.gen(function*() {
      let listing: Folder.Listing = new Map()
      let unlisted = false
      while (!(yield* isStopping)) {
        const scanned = yield* Effect.either(Folder.scan(settings.folder, listing))
        if (scanned._tag === "Right") {
          listing = scanned.right
          unlisted = false
          yield* apply(listing)
        } else if (!unlisted) {
          unlisted = true
          yield* log.write("error", `${scanned.left.message}; the campaigns keep running as they were`, {
            event: "FolderUnlisted"
          })
        }
        yield* Effect.raceFirst(Effect.sleep(settings.rescan), stopping)
      }
    })

    // Until a stop is asked for, or a watcher meets the ledger failing.
    yield* Effect.raceFirst(scanning, Effect.ignore(Deferred.await(fatal)))
    yield* Deferred.succeed(halt, undefined)
    const fibers = [...slots.values(), ...leaving.values()].flatMap((item) =>
      "fiber" in item ? (item.fiber === undefined ? [] : [item.fiber]) : [item]
    )
    yield* log.write("info", `stopping: settling the sends in flight of ${slots.size} campaigns`, { event: "Stopping" })
    yield* Fiber.awaitAll(fibers)
    if (yield* Deferred.isDone(fatal)) yield* Deferred.await(fatal)
    return (yield* Deferred.isDone(ending)) ? yield* Deferred.await(ending) : "interrupted"
  }).pipe(Effect.scoped)
