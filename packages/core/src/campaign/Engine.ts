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
import * as Buttons from "../Buttons.js"
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
import * as Edits from "./Edits.js"
import * as FollowUp from "./FollowUp.js"
import * as Inbound from "./Inbound.js"
import * as OptOut from "./OptOut.js"
import * as Period from "./Period.js"
import * as Reading from "./Reading.js"
import { Recorder, type StepTotals, totalsOf } from "./Recording.js"
import * as ReplyRetry from "./ReplyRetry.js"
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
    // `auto` reads the conversations for the DM windows, a follow-up for who wrote: the other deliveries take one
    // path whatever they show.
    const auto = CampaignSpec.deliveryOf(spec) === "auto"
    const inbound = auto || spec.followUp !== undefined ? new Inbound.Inbound(spec, api) : undefined
    // A watcher's poll waits at most a minute for a slot of a step's own pace; the rest wait for the next poll.
    const steps = Step.stepsOf(spec, inbound, mode === "watch" ? 60_000 : Number.POSITIVE_INFINITY)
    const ownAccount = options.ownAccount ?? OwnAccount.fromCampaign(spec)
    /** The earliest comment time discovery considers (`since`), set when the campaign is opened. */
    const cutoff: { current: number | undefined } = { current: undefined }
    const discoverer: Discovery.Discoverer = {
      spec,
      ledger,
      recorder,
      matcher: Matcher.compile(spec.match),
      step: steps[0],
      ownAccount,
      rejudge: auto,
      cutoff
    }
    /** How people pending under an earlier version's rules are judged again, once the version is recorded. */
    const edited: { judge: Edits.Judge | undefined } = { judge: undefined }
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
      edited,
      optOuts: OptOut.make(spec, ledger, ownAccount),
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
    posts: spec.posts.map((post) => post._tag === "Recent" ? `recent:${post.count}` : Reading.postKey(post)),
    keepsCommentText: Edits.usesComment(spec)
  })
  yield* recordVersion(s)
  const unusedButtons = Buttons.unusedNotice(CampaignSpec.deliveryOf(spec), spec.buttons)
  if (unusedButtons !== undefined) yield* s.recorder.notice(unusedButtons)
  // `since: start` counts from the campaign's first run, which the registration above records the first time.
  s.cutoff.current = Period.cutoffOf(
    spec,
    Option.getOrUndefined(yield* ledger.campaignStart(spec.name)),
    yield* Clock.currentTimeMillis
  )
  const recovered = yield* Claimant.recoverLeftoverClaims(ledger, spec.name)
  // People in doubt are resolved under the text they were claimed with; those found unsent are then pending, and
  // judged again with the rest before any send.
  yield* reconcileInDoubt(s)
  yield* judgeEdited(s)
  if (spec.publicReply?.messages.length === 1) {
    yield* s.recorder.notice(
      "public_reply has a single message: the same public comment under many comments looks like spam to the " +
        "platform; give a list of variants"
    )
  }
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
  const edit = Edits.editOf(versions, version, encoded.right, recorder.startedAt)
  if (edit?.fresh === true) yield* recorder.notice(Edits.describe(edit))
  s.edited.judge = Edits.judgeOf(spec, edit)
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
 * Reads the conversations for `auto` and follow-ups (once per pass), judges again the skipped people who wrote to the
 * account since they were skipped, and wakes the follow-ups of the people who wrote. A failed read keeps the last one
 * and is told as a notice: nobody gets a DM a window it cannot see may not allow, nor a follow-up.
 */
const readInbound = (s: Stages): Effect.Effect<void, Ledger.LedgerError> =>
  Effect.gen(function*() {
    const inbound = s.inbound
    if (inbound === undefined) return
    // A stop that comes while they are read (the request waiting for the key's budget, say) skips them: nothing is
    // sent after a stop, and the read is no send in flight to settle.
    const failure = yield* Effect.raceFirst(inbound.refresh, Effect.as(s.control.stopSignal, Option.none()))
    if (Option.isSome(failure)) {
      yield* s.recorder.notice(
        `the conversations could not be read (${failure.value.message}); ` +
          (s.discoverer.rejudge
            ? `delivery "auto" goes by the last ones it read, if any: people without a messaging window seen there ` +
              "get a private reply, never a DM"
            : "follow-ups wait for the next read")
      )
      return
    }
    yield* s.optOuts.messages(inbound.snapshot)
    if (s.discoverer.rejudge) yield* rejudgeWriters(s, inbound)
    yield* wakeFollowUps(s)
  })

/** Wakes the follow-ups of the people who wrote, as the last conversations read show (none read: nobody). */
const wakeFollowUps = (s: Stages): Effect.Effect<void, Ledger.LedgerError> => {
  const followUp = s.spec.followUp
  const snapshot = s.inbound?.snapshot
  return followUp === undefined || snapshot?.readAt === undefined
    ? Effect.void
    : Effect.asVoid(FollowUp.wake(s.ledger, s.spec, followUp, snapshot))
}

/** Judges again the people skipped before who wrote to the account since (`auto`). */
const rejudgeWriters = (s: Stages, inbound: Inbound.Inbound): Effect.Effect<void, Ledger.LedgerError> =>
  Effect.gen(function*() {
    const { spec } = s
    const writers = [...inbound.snapshot.latest]
    if (writers.length === 0) return
    const first = s.steps[0].kind
    const states = yield* s.ledger.states(spec.name, spec.platform, first, writers.map(([userId]) => userId))
    const now = yield* Clock.currentTimeMillis
    let reopened = 0
    for (const [userId, written] of writers) {
      if (states.get(userId) !== "skipped") continue
      // The platform's message times have whole seconds, so a message in the second of the skip cannot be told to
      // come after it: a window open now says the person wrote since, or the skip never saw their message.
      const windowOpen = (Inbound.dmDeadline(inbound.snapshot, userId) ?? 0) > now
      const key = { campaign: spec.name, platform: spec.platform, userId, step: first }
      if (yield* s.ledger.reopen(key, { _tag: "Wrote", at: new Date(windowOpen ? now : written.at) })) reopened++
    }
    // A person skipped before an edit comes back by the rules of the file now, not of the one they were found under.
    if (reopened > 0) yield* judgeEdited(s)
  })

/**
 * Judges the people pending under an earlier version's rules again (see `Edits`), when the campaign file changed who
 * it takes; tells how many it skipped.
 */
const judgeEdited = (s: Stages): Effect.Effect<void, Ledger.LedgerError> =>
  Effect.gen(function*() {
    const judge = s.edited.judge
    if (judge === undefined) return
    const skipped = yield* Edits.judgePending(s.ledger, s.spec.name, judge)
    if (skipped === 0) return
    yield* s.recorder.notice(
      `${skipped} ${skipped === 1 ? "person" : "people"} pending under the campaign's earlier rules no longer ` +
        "match and will not be messaged (skipped: campaign_edited)"
    )
  })

/**
 * Between a watcher's polls: the claims of runners whose lease ran out (a dead `serve` on another host) are put in
 * doubt, as a start does, so a long-lived watcher takes them over; then people in doubt are resolved (unless turned
 * off), and those found unsent are pending, judged again after an edit.
 */
const reconcile = (s: Stages): Effect.Effect<void, Ledger.LedgerError, UploadPost.UploadPost | Ledger.Ledger> =>
  Effect.zipRight(
    s.ledger.recoverClaims(s.spec.name),
    Effect.flatMap(reconcileInDoubt(s), (pending) => pending > 0 ? judgeEdited(s) : Effect.void)
  )

/**
 * Resolves people in doubt through the conversations endpoint (unless turned off), looking for the text each was
 * claimed with; succeeds with how many it found unsent (pending again).
 */
const reconcileInDoubt = (
  s: Stages
): Effect.Effect<number, Ledger.LedgerError, UploadPost.UploadPost | Ledger.Ledger> =>
  Effect.gen(function*() {
    if (s.options.reconcile === false) return 0
    const result = yield* Reconcile.run(s.spec)
    s.recorder.reconciled(result.sent + result.pending)
    if (result.sent + result.pending + result.unresolved === 0) return result.pending
    yield* s.emit(Event.Reconciled({
      sent: result.sent,
      pending: result.pending,
      unresolved: result.unresolved,
      uncovered: result.uncovered,
      conversations: Option.getOrUndefined(result.conversations),
      failure: Option.getOrUndefined(Option.map(result.failure, (error) => error.message))
    }))
    return result.pending
  })

const noStepTotals: StepTotals = {}

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
    // Before anyone of the page is claimed: an opt-out newer than a person's matching comment is listed first.
    yield* s.optOuts.comments(item)
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
    const [first, ...later] = s.steps
    const followUp = later.find((step) => step.kind === "follow_up")
    const publicReply = later.find((step) => step.kind === "public_reply")
    /** The rows of the later steps for everyone whose first message was sent (idempotent: every pass runs it). */
    const openLater: Effect.Effect<void, Ledger.LedgerError> = later.length === 0
      ? Effect.void
      : Effect.asVoid(
        s.ledger.openSteps(spec.name, later.flatMap((step) => step.kind === "first_message" ? [] : [step.kind]))
      )
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
      // When the daily cap is short, follow-ups go first (their window is the shortest), then first messages.
      return openLater.pipe(
        Effect.zipRight(readInbound(s)),
        Effect.zipRight(followUp === undefined ? Effect.void : retryStep(followUp)),
        Effect.zipRight(delivered),
        Effect.zipRight(s.control.notePassEnd)
      )
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
    /** Private replies in doubt go again: the platform answers a second one to a comment with a refusal. */
    const retryInDoubt = ReplyRetry.targets(s.ledger, spec.name).pipe(
      Stream.interruptWhen(s.control.stopSignal),
      (targets) => forEachConcurrently(targets, Delivery.deliver(s.deliverer, first), workers)
    )
    /**
     * Private replies in doubt first: one settled sent there opens a follow-up, woken by the conversations this pass
     * read. Then in the order the daily cap goes to: follow-ups, first messages, then the public replies of everyone
     * sent.
     */
    const retryPending: Effect.Effect<void, Ledger.LedgerError> = Effect.suspend(() =>
      Effect.all([
        retryInDoubt,
        openLater,
        wakeFollowUps(s),
        followUp === undefined ? Effect.void : retryStep(followUp),
        retryStep(first),
        openLater,
        publicReply === undefined ? Effect.void : retryStep(publicReply)
      ], { discard: true })
    )

    // The summary counts people by their first message.
    const ledgerTotals = Effect.zipWith(
      s.ledger.tally(spec.name, first.kind),
      s.ledger.unrecorded(spec.name),
      (tally, unrecorded) => totalsOf(tally, unrecorded.length)
    )
    // The later steps by state, each summing to its base once the rows of everyone sent are added.
    const stepTotals = Effect.zipRight(
      openLater,
      Effect.reduce(later, noStepTotals, (totals, step) =>
        step.kind === "first_message"
          ? Effect.succeed(totals)
          : Effect.map(s.ledger.counts(spec.name, step.kind), (counts) => ({ ...totals, [step.kind]: counts })))
    )
    const summary = Effect.gen(function*() {
      return yield* s.recorder.summary(ledgerTotals, {
        stoppedOnRequest: yield* s.control.isStopped,
        interrupted: s.control.interrupted,
        dailyLimitHit: s.gate.hit,
        dailyLimitCutRead: s.gate.cutRead,
        passCut: s.control.passCut
      }, stepTotals)
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
