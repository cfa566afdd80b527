/**
 * The stages of a campaign put together for one process: what `Campaign.run` and `Watch.watch` compose.
 *
 * reading (posts -> pages -> read mark) -> discovery (match, one comment per person, ledger states)
 *   -> delivery (turn -> claim -> confirm -> pace -> send -> settlement) -> recording (counts, events, summary)
 *
 * Up to `concurrency` people are claimed ahead of the `concurrency` sends in flight, so that the wait for a claim to
 * reach the disk overlaps the sends instead of adding to each one.
 */
import { Chunk, Clock, Duration, Effect, Option, Schema, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as CampaignSpec from "../CampaignSpec.js"
import * as Claimant from "../Claimant.js"
import * as DailyBudget from "../DailyBudget.js"
import * as Ledger from "../Ledger.js"
import * as Matcher from "../Matcher.js"
import * as OwnAccount from "../OwnAccount.js"
import * as Pacer from "../Pacer.js"
import * as Reconcile from "../Reconcile.js"
import type * as Retry from "../Retry.js"
import { Event } from "../Run.js"
import * as Sender from "../Sender.js"
import * as UploadPost from "../UploadPost.js"
import * as Control from "./Control.js"
import * as DailyLimit from "./DailyLimit.js"
import * as Delivery from "./Delivery.js"
import * as Discovery from "./Discovery.js"
import * as Inbound from "./Inbound.js"
import * as Period from "./Period.js"
import * as Reading from "./Reading.js"
import { Recorder, totalsOf } from "./Recording.js"
import * as Step from "./Step.js"
import { byDeadline, forEachConcurrently } from "./Workers.js"

export interface Options<R = never> {
  /** Caps the sends of this run (overrides the campaign's `max_sends`). */
  readonly maxSends?: number | undefined
  /** Hears every event as it happens; its requirements become the run's. */
  readonly onEvent?: (event: Event) => Effect.Effect<void, never, R>
  readonly retry?: Retry.RetryPolicy
  /** How long a claim protects a person from other runners' crash recovery; renewed while the run lives. */
  readonly lease?: Duration.DurationInput
  /** Resolve people in doubt through the conversations endpoint before sending (default true). */
  readonly reconcile?: boolean
  /**
   * The account itself, whose comments never match (`OwnAccount.resolve` reads it once); default: the campaign's
   * `account`, else none.
   */
  readonly ownAccount?: OwnAccount.OwnAccount | undefined
}

/** The listener, with its requirements provided once, so that the stages need none of their own. */
const listener = <R>(options: Options<R>) =>
  Effect.map(Effect.context<R>(), (context) => {
    const onEvent = options.onEvent
    return onEvent === undefined
      ? (_: Event) => Effect.void
      : (event: Event) => Effect.provide(onEvent(event), context)
  })

/** The stages of one campaign, wired to one another and to the run's services. */
const stages = <R>(spec: CampaignSpec.CampaignSpec, options: Options<R>, mode: DailyLimit.Mode, markSize: number) =>
  Effect.gen(function*() {
    const api = yield* UploadPost.UploadPost
    const ledger = yield* Ledger.Ledger
    const pacer = Option.getOrUndefined(yield* Effect.serviceOption(Pacer.Pacer)) ??
      (yield* Pacer.make(spec.pace.perHour))
    const sender = Option.getOrElse(yield* Effect.serviceOption(Sender.Sender), () => Sender.make(api))
    const budget = Option.getOrUndefined(yield* Effect.serviceOption(DailyBudget.DailyBudget))
    const emit = yield* listener(options)
    const recorder = new Recorder(spec.name, emit, yield* Clock.currentTimeMillis, sender.rehearsal)
    const control = yield* Control.make(emit)
    const gate = new DailyLimit.Gate({ campaign: spec.name, dailyReset: spec.dailyReset, mode, emit, control, budget })
    const lease = options.lease ?? Duration.minutes(2)
    const retry = options.retry ?? api.settings.retry
    const reader: Reading.Reader = {
      api,
      spec,
      ledger,
      retry,
      report: (detail) => recorder.report(detail),
      limitReached: (detail) => Effect.zipRight(control.cutPass, gate.readAnswered(detail))
    }
    const marks = new Reading.Marks(reader, markSize)
    // Only `auto` reads the conversations: the other deliveries take one path whatever they show.
    const inbound = CampaignSpec.deliveryOf(spec) === "auto" ? new Inbound.Inbound(spec, api) : undefined
    const steps = Step.stepsOf(spec, inbound)
    /** The earliest comment time discovery considers (`since`), set when the campaign is opened. */
    const cutoff: { current: number | undefined } = { current: undefined }
    const discoverer: Discovery.Discoverer = {
      spec,
      ledger,
      recorder,
      matcher: Matcher.compile(spec.match),
      step: steps[0],
      ownAccount: options.ownAccount ?? OwnAccount.fromCampaign(spec),
      rejudge: inbound !== undefined,
      cutoff
    }
    const deliverer: Delivery.Deliverer = {
      spec,
      sender,
      ledger,
      recorder,
      control,
      gate,
      pacer,
      retry,
      runner: Claimant.currentId,
      lease,
      freshClaimMillis: Math.min(1_000, Duration.toMillis(lease) / 10),
      permits: yield* Effect.makeSemaphore(spec.pace.concurrency),
      maxSends: options.maxSends ?? spec.maxSends,
      started: { count: 0 },
      names: yield* Delivery.stepNames,
      version: { current: undefined },
      cutoff
    }
    return {
      spec,
      options,
      api,
      ledger,
      emit,
      recorder,
      control,
      gate,
      reader,
      marks,
      discoverer,
      deliverer,
      lease,
      steps,
      inbound,
      cutoff
    }
  })

type Stages = Effect.Effect.Success<ReturnType<typeof stages>>

/** Registers the campaign, recovers dead runners' claims, reconciles people in doubt and keeps the leases alive. */
const open = Effect.fn("Campaign.open")(function*(s: Stages, postCount: number) {
  const { ledger, spec } = s
  yield* ledger.registerCampaign({
    name: spec.name,
    platform: spec.platform,
    profileUser: spec.user,
    posts: spec.posts.map((post) => post._tag === "Recent" ? `recent:${post.count}` : Reading.postKey(post))
  })
  yield* recordVersion(s)
  // `since: start` counts from the campaign's first run, which the registration above records the first time.
  s.cutoff.current = Period.cutoffOf(
    spec,
    Option.getOrUndefined(yield* ledger.campaignStart(spec.name)),
    yield* Clock.currentTimeMillis
  )
  const recovered = yield* Claimant.recoverLeftoverClaims(ledger, spec.name)
  yield* reconcile(s)
  yield* Effect.forkScoped(
    ledger.renewLeases(spec.name, Claimant.currentId, s.lease).pipe(
      Effect.delay(Duration.times(Duration.decode(s.lease), 1 / 3)),
      Effect.forever,
      Effect.ignore
    )
  )
  yield* s.emit(Event.Started({ campaign: spec.name, posts: postCount, recovered }))
})

/** The campaign file as JSON, as the ledger keeps its versions. */
const encodeSpec = Schema.encodeEither(CampaignSpec.CampaignSpec)

/** What a recorded version's `delivery` came to on its platform (see `CampaignSpec.deliveryOf`). */
const deliveryIn = (spec: unknown): string | undefined => {
  if (typeof spec !== "object" || spec === null || !("delivery" in spec) || !("platform" in spec)) return undefined
  const { delivery, platform } = spec
  if (typeof platform !== "string" || !Schema.is(CampaignSpec.Delivery)(delivery)) return undefined
  return CampaignSpec.deliveryOf({ delivery, platform })
}

/**
 * Records the campaign file's version (the claims name it) and tells, with a notice, when an earlier version of the
 * campaign had another `delivery`: people already reached keep what they got, and the file's rule applies to the rest.
 */
const recordVersion = Effect.fnUntraced(function*(s: Stages) {
  const { deliverer, ledger, recorder, spec } = s
  const encoded = encodeSpec(spec)
  if (encoded._tag === "Left") return
  const json = JSON.stringify(encoded.right)
  const fingerprint = Crypto.createHash("sha256").update(json).digest("hex")
  const version = yield* ledger.campaignVersion(spec.name, { fingerprint, spec: encoded.right })
  deliverer.version.current = version > 0 ? version : undefined
  const versions = yield* ledger.campaignVersions(spec.name)
  const started = versions[0]
  const delivery = CampaignSpec.deliveryOf(spec)
  if (started === undefined) return
  if (started.version === version) {
    // The first version, recorded by this run: a campaign that already has people ran before versions were, when a
    // file without `delivery` meant `dm`.
    if (started.createdAt.getTime() < recorder.startedAt) return
    const reached = (yield* ledger.tally(spec.name, s.steps[0].kind)).some((row) => row.path === "dm")
    if (reached && delivery !== "dm") {
      yield* recorder.notice(
        `delivery: the campaign ran before its delivery was recorded and reached people by "dm"; this file says ` +
          `"${spec.delivery}", which applies to the people not reached yet (write delivery: dm to keep the old way)`
      )
    }
    return
  }
  const earlier = versions.filter((known) => known.version !== version && deliveryIn(known.spec) !== undefined)
  if (earlier.every((known) => deliveryIn(known.spec) === delivery)) return
  const first = deliveryIn(started.spec) ?? "unknown"
  yield* recorder.notice(
    `delivery changed: the campaign started with "${first}" (version ${started.version}) and this file says ` +
      `"${spec.delivery}" (version ${version}); people already reached keep what they got, and "${spec.delivery}" ` +
      "applies to the people not reached yet"
  )
})

/**
 * Reads the conversations for `auto` (once per pass) and judges again the skipped people who wrote to the account
 * since they were skipped. A failed read keeps the last one and is told as a notice: nobody gets a DM a window it
 * cannot see may not allow.
 */
const readInbound = (s: Stages): Effect.Effect<void, Ledger.LedgerError> =>
  Effect.gen(function*() {
    const inbound = s.inbound
    if (inbound === undefined) return
    const failure = yield* inbound.refresh
    if (Option.isSome(failure)) {
      yield* s.recorder.notice(
        `the conversations could not be read (${failure.value.message}); delivery "auto" goes by the last ones it ` +
          "read, if any: people without a messaging window seen there get a private reply, never a DM"
      )
      return
    }
    const { spec } = s
    const writers = [...inbound.snapshot.latest]
    if (writers.length === 0) return
    const first = s.steps[0].kind
    const states = yield* s.ledger.states(spec.name, spec.platform, first, writers.map(([userId]) => userId))
    const now = yield* Clock.currentTimeMillis
    for (const [userId, written] of writers) {
      if (states.get(userId) !== "skipped") continue
      // The platform's message times have whole seconds, so a message in the second of the skip cannot be told to
      // come after it: a window open now says the person wrote since, or the skip never saw their message.
      const windowOpen = (Inbound.dmDeadline(inbound.snapshot, userId) ?? 0) > now
      const key = { campaign: spec.name, platform: spec.platform, userId, step: first }
      yield* s.ledger.reopen(key, { _tag: "Wrote", at: new Date(windowOpen ? now : written.at) })
    }
  })

/** Resolves people in doubt through the conversations endpoint (unless turned off). */
const reconcile = (s: Stages): Effect.Effect<void, Ledger.LedgerError, UploadPost.UploadPost | Ledger.Ledger> =>
  Effect.gen(function*() {
    if (s.options.reconcile === false) return
    const result = yield* Reconcile.run(s.spec)
    s.recorder.reconciled(result.sent + result.pending)
    if (result.sent + result.pending + result.unresolved === 0) return
    yield* s.emit(Event.Reconciled({
      sent: result.sent,
      pending: result.pending,
      unresolved: result.unresolved,
      uncovered: result.uncovered,
      conversations: Option.getOrUndefined(result.conversations),
      failure: Option.getOrUndefined(Option.map(result.failure, (error) => error.message))
    }))
  })

/** What one pass has met: the people it handled, and the posts where the ledger could not record someone. */
interface PassState {
  readonly seen: Discovery.Seen
  /** Their read is not marked: the next read meets those people again, and the ledger may take them then. */
  readonly unmarked: Set<string>
}

const newPass = (): PassState => ({ seen: new Discovery.Seen(), unmarked: new Set() })

/** The people of one item of a read: a page's open people, or none once a read mark is written. */
const peopleOf = (s: Stages, pass: PassState) => (item: Reading.Item) =>
  Effect.gen(function*() {
    if (item._tag === "Reached") {
      if (!pass.unmarked.has(item.mark.post)) yield* s.marks.write(item)
      return Chunk.empty<Step.Target>()
    }
    const { open, unrecorded } = yield* Discovery.unsettled(
      s.discoverer,
      Discovery.targetsOf(s.discoverer, pass.seen, item),
      pass.seen
    )
    if (unrecorded > 0) pass.unmarked.add(item.post)
    yield* s.emit(Event.PageRead({ post: item.post, comments: item.comments.length, progress: s.recorder.progress() }))
    return Chunk.unsafeFromArray(open)
  })

/**
 * Comment ids a run's read mark keeps: two pages of the largest size, enough to recognise a page of old comments. A
 * watcher keeps more (`Watch`'s `windowSize`), since comments can come in out of order between its polls.
 */
export const runMarkSize = 100

export const make = <R = never>(
  spec: CampaignSpec.CampaignSpec,
  options: Options<R>,
  mode: DailyLimit.Mode = "run",
  markSize = runMarkSize
) =>
  Effect.map(stages(spec, options, mode, markSize), (s) => {
    const workers = 2 * spec.pace.concurrency
    const [first] = s.steps
    /** People with deadlines (a DM's window, a private reply's 7 days) go nearest deadline first. */
    const inOrder = (step: Step.Step) => <E>(people: Stream.Stream<Step.Target, E>) =>
      step.deadline === undefined ? people : byDeadline(people, step.deadline)
    /** What the current pass has met; a new one each pass, so memory stays flat in a long watch. */
    let current = newPass()

    /**
     * One pass over some pages: everyone new is recorded and sent to. Pages keep being read while earlier people
     * are sent to (the queue decouples the two); with private replies a pass is sorted by deadline first.
     */
    const pass = <E>(items: Stream.Stream<Reading.Item, E>): Effect.Effect<void, E | Ledger.LedgerError> => {
      current = newPass()
      const people = items.pipe(
        Stream.interruptWhen(s.control.stopSignal),
        Stream.mapEffect(peopleOf(s, current)),
        Stream.flattenChunks
      )
      const delivered = forEachConcurrently(inOrder(first)(people), Delivery.deliver(s.deliverer, first), workers)
      return Effect.zipRight(readInbound(s), Effect.zipRight(delivered, s.control.notePassEnd))
    }

    /**
     * People left pending in each step: for the first, those this pass did not meet again (their comment may be
     * gone); each step through its own rows and its own claim and settle cycle.
     */
    const retryStep = (step: Step.Step) =>
      s.ledger.pendingEntries(spec.name, step.kind).pipe(
        Stream.filter((entry) => step !== first || current.seen.leftToRetry(entry.userId)),
        Stream.interruptWhen(s.control.stopSignal),
        inOrder(step),
        (entries) => forEachConcurrently(entries, Delivery.deliver(s.deliverer, step), workers)
      )
    const retryPending: Effect.Effect<void, Ledger.LedgerError> = Effect.suspend(() =>
      Effect.forEach(s.steps, retryStep, { discard: true })
    )

    // The summary counts people by their first message.
    const ledgerTotals = Effect.zipWith(
      s.ledger.tally(spec.name, first.kind),
      s.ledger.unrecorded(spec.name),
      (tally, unrecorded) => totalsOf(tally, unrecorded.length)
    )
    const summary = Effect.gen(function*() {
      return yield* s.recorder.summary(ledgerTotals, {
        stoppedOnRequest: yield* s.control.isStopped,
        interrupted: s.control.interrupted,
        dailyLimitHit: s.gate.hit,
        dailyLimitCutRead: s.gate.cutRead,
        passCut: s.control.passCut
      })
    })

    return {
      emit: s.emit,
      /** Why the campaign reaches nobody now (paused, or past `until`), told as a notice; none when it goes on. */
      halt: (mode: "run" | "watch") =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const halt = Period.haltAt(spec, now)
          return halt === undefined
            ? Effect.succeed(undefined)
            : Effect.as(s.recorder.notice(Period.haltNotice(halt, mode)), halt)
        }),
      progress: () => s.recorder.progress(),
      open: (postCount: number) => open(s, postCount),
      reconcile: reconcile(s),
      resolvePosts: Reading.resolvePosts(s.reader, mode === "run" ? "cut" : "retryLater"),
      /** Reads a post once, down to the first page with nothing new since its read mark. */
      newPages: (post: Reading.PostRef, countPage?: Effect.Effect<void>) =>
        Reading.newPages(s.reader, s.marks, post, countPage),
      /** Forgets the read marks of posts no longer followed. */
      keepMarksOf: (posts: ReadonlyArray<Reading.PostRef>) => s.marks.keepOnly(posts),
      pass,
      retryPending,
      failIfFatal: s.control.failIfFatal,
      summary,
      isStopped: s.control.isStopped,
      stopSignal: s.control.stopSignal,
      nextProbeAt: s.gate.nextProbeAt,
      /** Sends to everyone pending (between passes: the last pass's people included), the first as a probe if due. */
      sendPending: Effect.suspend(() => {
        current = newPass()
        // Between polls the last poll's conversations serve, unless none were read yet.
        const read = s.inbound?.snapshot.readAt === undefined ? readInbound(s) : Effect.void
        return Effect.zipRight(read, retryPending)
      })
    }
  })

export type Engine = Effect.Effect.Success<ReturnType<typeof make>>
