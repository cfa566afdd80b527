/**
 * The engine behind `Campaign.run` and `Watch.watch`: one campaign's state for the life of a process, and the
 * Stream stages that turn comment pages into settled people.
 *
 * pages -> drop unusable -> match -> first matching comment per person wins -> skip people the ledger has settled
 *       -> claim (durable) -> render -> send (paced, bounded concurrency, transient retry) -> settle (durable) -> event
 *
 * Up to `concurrency` people are claimed ahead of the `concurrency` sends in flight, so that the wait for a claim to
 * reach the disk overlaps the sends instead of adding to each one.
 */
import { Chunk, Clock, Data, Deferred, Duration, Effect, Exit, Option, Queue, Ref, Stream } from "effect"
import * as Crypto from "node:crypto"
import * as CampaignSpec from "../CampaignSpec.js"
import * as DailyBudget from "../DailyBudget.js"
import * as Ledger from "../Ledger.js"
import * as Matcher from "../Matcher.js"
import * as Pacer from "../Pacer.js"
import * as Reconcile from "../Reconcile.js"
import * as Retry from "../Retry.js"
import { type Counts, Event, type Outcome, type Person, type Progress, type RunError, type Summary } from "../Run.js"
import * as Runner from "../Runner.js"
import * as StopSignal from "../StopSignal.js"
import * as Template from "../Template.js"
import * as UploadPost from "../UploadPost.js"
import * as Errors from "../UploadPostError.js"
import { storable } from "./storable.js"

/** Instagram allows one private reply per comment, within 7 days of it. */
export const privateReplyWindow = Duration.days(7)

export interface Options<R = never> {
  /** Read comments and report who would get which message; send nothing, write nothing. */
  readonly dryRun?: boolean
  /** Caps the sends of this run (overrides the campaign's `max_sends`). */
  readonly maxSends?: number | undefined
  /** Hears every event as it happens; its requirements become the run's. */
  readonly onEvent?: (event: Event) => Effect.Effect<void, never, R>
  readonly retry?: Retry.RetryPolicy
  /** How long a claim protects a person from other runners' crash recovery; renewed while the run lives. */
  readonly lease?: Duration.DurationInput
  /** Resolve people in doubt through the conversations endpoint before sending (default true). */
  readonly reconcile?: boolean
}

/** How the daily DM limit is checked after a pause: a run probes at once, a watcher at the assumed reset. */
export type Mode = "run" | "watch"

/** A watcher still paused at the daily limit after its assumed reset checks again this often. */
export const probeInterval = Duration.minutes(15)

/** Answers no row of the error table recognises, in a row, that stop the run. */
export const unrecognisedRefusalsToStop = 5

/** One page of one post's comments. */
export interface Page {
  readonly post: string
  readonly comments: ReadonlyArray<UploadPost.Comment>
  /**
   * Ends a read that reached the post's end (or the comments an earlier read saw): an empty page that records the read
   * mark once the people of the pages before it are recorded.
   */
  readonly readMark?: Ledger.ReadMark
}

/** Comment ids a read mark keeps: two pages of the largest size, enough to recognise a page of old comments. */
const markSize = 100

type Target = Ledger.Candidate

interface Tally {
  comments: number
  dropped: Record<string, number>
  matched: number
  fresh: number
  sent: number
  alreadySent: number
  refused: number
  pending: number
  inDoubt: number
  claimedElsewhere: number
  wouldSend: number
  heldByCap: number
  sendsStarted: number
  reconciled: number
  /** What went wrong without stopping the run, in the order it happened; each told once. */
  problems: Set<string>
}

/** How a read fails: a daily-limit answer is not among them, it pauses sends instead. */
export type ReadFailure = Exclude<Errors.ReadError, Errors.DailyLimitReached>

/** A list read answered with the daily limit: a rate limit until the assumed reset, so a watcher polls on later. */
const limitedRead = (limit: Errors.DailyLimitReached) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.fail(
      new Errors.RateLimited({
        endpoint: limit.endpoint,
        detail: limit.detail,
        retryAfter: Duration.millis(nextUtcDay(now).getTime() - now)
      })
    ))

const noUserId = "no user id (deleted or restricted account)"

export const postRef = (post: CampaignSpec.PostId | CampaignSpec.PostUrl): UploadPost.PostRef =>
  post._tag === "PostId" ? { postId: post.id } : { postUrl: post.url }

export const postKey = (post: CampaignSpec.PostId | CampaignSpec.PostUrl): string =>
  post._tag === "PostId" ? post.id : post.url

const who = (target: Target): Person => ({ userId: target.userId, username: target.username })

/** The start of the next UTC day: when the profile's own daily count starts over. */
export const nextUtcDay = (now: number): Date => {
  const date = new Date(now)
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1))
}

export const make = <R = never>(spec: CampaignSpec.CampaignSpec, options: Options<R>, mode: Mode = "run") =>
  Effect.gen(function*() {
    const api = yield* UploadPost.UploadPost
    const givenPacer = yield* Effect.serviceOption(Pacer.Pacer)
    const sharedBudget = Option.getOrUndefined(yield* Effect.serviceOption(DailyBudget.DailyBudget))
    const stopSignal = yield* Effect.serviceOption(StopSignal.StopSignal)
    const ledger = yield* Ledger.Ledger
    const started = yield* Clock.currentTimeMillis
    const dryRun = options.dryRun === true
    const campaign = spec.name
    const runner = Runner.currentId
    const lease = options.lease ?? Duration.minutes(2)
    /** How long after its claim a first attempt needs no confirmation: far below any lease. */
    const freshClaimMillis = Math.min(1_000, Duration.toMillis(lease) / 10)
    const policy = options.retry ?? api.settings.retry
    const maxSends = options.maxSends ?? spec.maxSends
    // The listener's requirements are the run's, provided once here so that the stages need none of their own.
    const listenerContext = yield* Effect.context<R>()
    const onEvent = options.onEvent
    const emit = onEvent === undefined ?
      (_: Event) => Effect.void :
      (event: Event) => Effect.provide(onEvent(event), listenerContext)
    const matcher = Matcher.make(spec.match)
    const pacer = Option.isSome(givenPacer) ? givenPacer.value : yield* Pacer.make(spec.pace.perHour)
    const concurrency = spec.pace.concurrency
    /** At most `concurrency` requests in flight; as many more workers claim the next people meanwhile. */
    const sendPermits = yield* Effect.makeSemaphore(concurrency)
    const workers = 2 * concurrency

    const tally: Tally = {
      comments: 0,
      dropped: {},
      matched: 0,
      fresh: 0,
      sent: 0,
      alreadySent: 0,
      refused: 0,
      pending: 0,
      inDoubt: 0,
      claimedElsewhere: 0,
      wouldSend: 0,
      heldByCap: 0,
      sendsStarted: 0,
      reconciled: 0,
      problems: new Set()
    }
    const progress = (): Progress => ({
      comments: tally.comments,
      matched: tally.matched,
      discovered: tally.fresh,
      sent: tally.sent,
      refused: tally.refused,
      pending: tally.pending,
      inDoubt: tally.inDoubt,
      skipped: tally.alreadySent + tally.claimedElsewhere
    })

    /** A stop request ends reading and sending; sends in flight settle first. */
    const stopped = yield* Deferred.make<void>()
    const isStopped = Deferred.isDone(stopped)
    /** Whether the stop was an interruption (SIGINT), rather than a wrap-up that judges the outcome by what is left. */
    let interrupted = false
    /** Whether a stop cut a pass short: people on pages not read yet are not in the ledger, so not all are settled. */
    let passCut = false
    const stopOn = (request: Effect.Effect<string>, interruption: boolean) =>
      Effect.forkScoped(Effect.gen(function*() {
        const reason = yield* request
        // An interruption after a wrap-up still makes the run end as interrupted.
        interrupted ||= interruption
        if (yield* isStopped) return
        yield* emit(Event.Stopping({ reason }))
        yield* Deferred.succeed(stopped, undefined)
      }))
    if (Option.isSome(stopSignal)) {
      yield* stopOn(Effect.as(stopSignal.value.interrupt, "stop requested"), true)
      yield* stopOn(stopSignal.value.wrapUp, false)
    }
    // Plain variables, like the tally: they are read before every attempt, and a Ref would cost more than the read.
    /**
     * The daily DM limit pauses sends (reading goes on, so everyone is accounted for). While paused, one send at a time
     * may probe, from `probeAt` on, whether the platform accepts again: the next person's real, claimed message.
     */
    let pause: { readonly probeAt: number | undefined } | undefined = undefined
    /** Completes when the probe in flight has its answer; the senders waiting for it then look again. */
    let probing: Deferred.Deferred<void> | undefined = undefined
    const dailyLimitHit = yield* Ref.make(false)
    /** A fatal answer (bad request, bad key, a streak of unrecognised refusals) stops the campaign. */
    let fatal: Errors.InvalidRequest | Errors.Unauthorized | Errors.UnrecognisedRefusals | undefined = undefined
    /** Sends refused in a row with answers the error table does not recognise. */
    let unrecognisedInARow = 0

    /** People handled in the current pass; reset by each `process`, so memory stays flat in a long watch. */
    let seen = new Set<string>()

    const targetsOf = (page: Page): Array<Target> => {
      const targets: Array<Target> = []
      for (const comment of page.comments) {
        tally.comments++
        if (comment.userId === undefined || comment.userId.length === 0) {
          tally.dropped[noUserId] = (tally.dropped[noUserId] ?? 0) + 1
          continue
        }
        if (seen.has(comment.userId)) continue
        const keyword = Matcher.match(matcher, comment.text)
        if (Option.isNone(keyword)) continue
        seen.add(comment.userId)
        targets.push({
          campaign,
          platform: spec.platform,
          userId: comment.userId,
          username: comment.username,
          postId: page.post,
          commentId: comment.id,
          commentText: comment.text,
          commentTime: comment.timestamp,
          keyword: keyword.value
        })
      }
      return targets
    }

    /** Tells of a problem once, as it happens; the summary lists them all. */
    const report = (detail: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (tally.problems.has(detail)) return Effect.void
        tally.problems.add(detail)
        return emit(Event.Problem({ detail }))
      })

    /**
     * Looks people up in the ledger: settled ones are skipped, new ones recorded as pending. A person the ledger
     * refuses to record is reported and not sent to (a send must be claimed durably first); the others go on.
     */
    const unsettled = (targets: Array<Target>): Effect.Effect<Array<Target>, Ledger.LedgerError> =>
      Effect.gen(function*() {
        if (targets.length === 0) return targets
        const states = yield* ledger.states(campaign, spec.platform, targets.map((target) => target.userId))
        const open: Array<Target> = []
        const fresh: Array<Target> = []
        for (const target of targets) {
          const state = states.get(target.userId)
          if (state === undefined) {
            fresh.push(target)
            open.push(target)
          } else if (state === "pending") {
            open.push(target)
          } else if (state === "sent") {
            tally.alreadySent++
          } else if (state === "claimed") {
            tally.claimedElsewhere++
          }
          // refused is final; in_doubt waits for reconciliation.
        }
        tally.matched += targets.length
        tally.fresh += fresh.length
        if (dryRun || fresh.length === 0) return open
        const { unrecorded } = yield* ledger.record(fresh)
        if (unrecorded.length === 0) return open
        const refused = new Set(unrecorded.map((person) => person.userId))
        for (const person of unrecorded) {
          const name = person.username === undefined
            ? `user ${person.userId}`
            : `@${person.username} (${person.userId})`
          yield* report(`the ledger could not record ${name}, who is not sent to: ${person.reason}`)
        }
        // The ledger holds the refused ones in their storable form.
        return open.filter((target) => !refused.has(target.userId) && !refused.has(storable(target.userId)))
      })

    /**
     * Pauses sends at the daily DM limit. `cause`: this run's send was answered with the limit (`answer`), or its probe
     * was (`probe`), another runner was (`budget`, at `reachedAt`), or the profile's own count reached its cap (`cap`).
     * A run probes at once only when it learned of the limit from another runner; a watcher probes at the assumed
     * reset, then every 15 minutes.
     */
    const pauseAtLimit = (detail: string, cause: "answer" | "probe" | "budget" | "cap", reachedAt?: number) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const reset = cause === "cap"
          ? nextUtcDay(now).getTime()
          : CampaignSpec.assumedReset(spec.dailyReset, reachedAt ?? now)
        const probeAt = mode === "run"
          ? (cause === "budget" ? now : undefined)
          : cause === "probe"
          ? now + Duration.toMillis(probeInterval)
          : reset
        const known = pause !== undefined
        pause = { probeAt }
        // A run that learned of the limit from another runner says nothing until its probe has an answer.
        if (mode === "run" && cause === "budget") return
        if (yield* Ref.getAndSet(dailyLimitHit, true)) {
          if (known && cause !== "probe") return
        }
        yield* emit(Event.DailyLimit({ detail, resumesAt: new Date(probeAt ?? reset) }))
      })

    /** The probe's message was accepted: the platform's day started over, for every runner of the profile. */
    const lift = Effect.gen(function*() {
      pause = undefined
      yield* Ref.set(dailyLimitHit, false)
      if (sharedBudget !== undefined) yield* Effect.ignore(sharedBudget.markLifted)
      yield* emit(Event.DailyLimitLifted({ campaign }))
    })

    /** Whether what the profile's runners know of the daily limit pauses sends now (and pauses them if so). */
    const budget = dryRun ? undefined : sharedBudget
    const pausedByBudget: Effect.Effect<boolean, Ledger.LedgerError> = budget === undefined
      ? Effect.succeed(false)
      : Effect.gen(function*() {
        const status = yield* budget.status
        if (status.capReached) {
          yield* pauseAtLimit("the profile's own daily DM limit is reached (counted by every runner)", "cap")
          return true
        }
        const reachedAt = status.limitReachedAt?.getTime()
        if (reachedAt === undefined) return false
        if ((yield* Clock.currentTimeMillis) >= CampaignSpec.assumedReset(spec.dailyReset, reachedAt)) return false
        yield* pauseAtLimit("another runner of this profile reached the daily DM limit", "budget", reachedAt)
        return true
      })

    /** No new request may start: a stop was asked for, or a fatal error came. */
    const sendingHalted: Effect.Effect<boolean> = Effect.map(isStopped, (stopped) => stopped || fatal !== undefined)

    /**
     * Whether the next person may be sent to now: `send`; `probe` (paused at the daily limit, and this send checks
     * whether the platform accepts again, while the others wait for its answer); or `hold` (they stay pending).
     */
    const sendTurn: Effect.Effect<"send" | "probe" | "hold", Ledger.LedgerError> = Effect.gen(function*() {
      while (true) {
        if (yield* sendingHalted) return "hold"
        if (probing !== undefined) {
          yield* Deferred.await(probing)
          continue
        }
        if (pause === undefined) {
          if (yield* pausedByBudget) continue
          return "send"
        }
        const probeAt = pause.probeAt
        if (probeAt === undefined || (yield* Clock.currentTimeMillis) < probeAt) return "hold"
        probing = yield* Deferred.make<void>()
        return "probe"
      }
    })

    /** The probe has its answer (or none: the next sender probes instead); the waiting senders look again. */
    const probeDone = Effect.suspend(() => {
      const done = probing
      probing = undefined
      return done === undefined ? Effect.void : Deferred.succeed(done, undefined)
    })

    /** Counts answers no row of the error table recognises; a streak of them is fatal, any other answer ends it. */
    const noteAnswer = (answer: Option.Option<Exit.Exit<UploadPost.Delivered, Errors.SendError>>) => {
      if (Option.isNone(answer)) return
      const exit = answer.value
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      if (error?._tag !== "UnrecognisedRefusal") {
        unrecognisedInARow = 0
        return
      }
      unrecognisedInARow++
      if (unrecognisedInARow >= unrecognisedRefusalsToStop) {
        fatal ??= new Errors.UnrecognisedRefusals({ count: unrecognisedInARow, last: error })
      }
    }

    const deliver = (target: Target): Effect.Effect<void, Ledger.LedgerError> =>
      Effect.gen(function*() {
        if (yield* sendingHalted) return
        const message = Template.render(Template.pick(spec.messages, campaign, target.userId), {
          username: target.username,
          userId: target.userId,
          keyword: target.keyword ?? "",
          comment: target.commentText,
          commentId: target.commentId,
          postId: target.postId
        })
        const refusal = yield* refusalBeforeSending(target, message)
        // A refusal known before sending makes no request: the daily limit does not hold it back.
        const turn = dryRun || Option.isSome(refusal) ? "send" : yield* sendTurn
        if (turn === "hold") return
        const rest = deliverInTurn(target, message, refusal, turn === "probe")
        return yield* turn === "probe" ? Effect.ensuring(rest, probeDone) : rest
      })

    /** {@link deliver} once the person's turn came: within the caps, claim, send and settle. */
    const deliverInTurn = (target: Target, message: string, refusal: Option.Option<string>, probe: boolean) =>
      Effect.gen(function*() {
        if (Option.isNone(refusal)) {
          if (maxSends !== undefined && tally.sendsStarted >= maxSends) {
            tally.heldByCap++
            return
          }
          tally.sendsStarted++
        }
        if (dryRun) {
          if (Option.isSome(refusal)) {
            tally.refused++
            return yield* emit(Event.Refused({ ...who(target), reason: refusal.value, progress: progress() }))
          }
          tally.wouldSend++
          return yield* emit(Event.WouldSend({ ...who(target), post: target.postId, message, progress: progress() }))
        }
        const key = { campaign, platform: spec.platform, userId: target.userId }
        // From the claim on, the person is settled whatever happens: an interruption only cuts the waits short.
        yield* Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            // Read before the claim, never after: a stall between the commit and this process seeing it must count
            // against the claim's freshness (the lease started no earlier than this).
            const claimedAt = yield* Clock.currentTimeMillis
            if (!(yield* ledger.claim(key, { message, runner, lease }))) {
              tally.claimedElsewhere++
              return
            }
            if (Option.isSome(refusal)) {
              return yield* settle(target, Ledger.Settlement.Refused({ reason: refusal.value }))
            }
            yield* sendClaimed(target, message, claimedAt, restore, probe)
          })
        )
      })

    /** Refusals known without asking the platform: a message over its length, a private reply too late. */
    const refusalBeforeSending = (target: Target, message: string): Effect.Effect<Option.Option<string>> => {
      const tooLong = Template.checkLength(spec.platform, message)
      if (tooLong._tag === "Left") return Effect.succeed(Option.some(tooLong.left))
      const commentTime = target.commentTime
      if (spec.delivery !== "private_reply" || commentTime === undefined) return Effect.succeed(Option.none())
      return Effect.map(Clock.currentTimeMillis, (now) => {
        if (now - commentTime.getTime() <= Duration.toMillis(privateReplyWindow)) return Option.none()
        return Option.some("the comment is older than 7 days; Instagram allows a private reply only within 7 days")
      })
    }

    const sendOnce = (target: Target, message: string): Effect.Effect<UploadPost.Delivered, Errors.SendError> =>
      spec.delivery === "private_reply"
        ? api.privateReply({ user: spec.user, commentId: target.commentId, message })
        : api.sendDm({ platform: spec.platform, user: spec.user, recipientId: target.userId, message })

    /**
     * Sends to a claimed person and settles the outcome, holding one of the `concurrency` send permits from the first
     * attempt to the settlement (a person claimed ahead waits here for one). It runs uninterruptibly; `restore` makes
     * the waits before and between attempts interruptible. An attempt that has started is never abandoned, and an
     * interruption between attempts settles from what the last attempt said. Before each attempt the claim is
     * confirmed and its lease extended: a runner that stalled past its lease may have lost the person to another
     * runner's recovery, and then neither sends nor settles. A claim or confirmation less than a moment old
     * (`freshClaimMillis`, timed from just before its statement, and checked right before the attempt) stands for
     * one: it cannot have expired. A retry is always confirmed anew.
     */
    const sendClaimed = (target: Target, message: string, claimedAt: number, restore: Restore, probe: boolean) =>
      Effect.gen(function*() {
        // Waiting for a permit can be interrupted, like the waits for the pace; the person is then released.
        const permit = yield* Effect.exit(restore(sendPermits.take(1)))
        if (Exit.isFailure(permit)) return yield* settle(target, interruptedBeforeRequest)
        yield* sendWithPermit(target, message, claimedAt, restore, probe).pipe(Effect.ensuring(sendPermits.release(1)))
      })

    /** {@link sendClaimed} once it holds its permit. A probe may send while sends are paused at the daily limit. */
    const sendWithPermit = (target: Target, message: string, claimedAt: number, restore: Restore, probe: boolean) =>
      Effect.gen(function*() {
        const key = { campaign, platform: spec.platform, userId: target.userId }
        let lastAttempt = Option.none<Exit.Exit<UploadPost.Delivered, Errors.SendError>>()
        // When the claim was made or last confirmed (read just before the statement), and whether an attempt was
        // made since: a retry always confirms first.
        let confirmedAt = claimedAt
        let attemptedSinceConfirmed = false
        const confirm = Effect.gen(function*() {
          // A person claimed ahead may have waited for a send permit while the run was asked to stop or paused.
          if ((yield* sendingHalted) || (pause !== undefined && !probe)) {
            return yield* new StoppedBeforeSending({ reason: "the run stopped sending before the request was made" })
          }
          const now = yield* Clock.currentTimeMillis
          if (!attemptedSinceConfirmed && now - confirmedAt < freshClaimMillis) return
          if (!(yield* ledger.confirmClaim(key, runner, lease))) return yield* new ClaimLost()
          confirmedAt = now
          attemptedSinceConfirmed = false
        })
        const attempt = Effect.exit(sendOnce(target, message)).pipe(
          Effect.tap((exit) =>
            Effect.sync(() => {
              lastAttempt = Option.some(exit)
              attemptedSinceConfirmed = true
            })
          ),
          Effect.flatten,
          Effect.uninterruptible
        )
        // Confirmed before the wait for the pace, so that the request leaves as soon as its slot comes; again after
        // it only when the wait outlasted the claim's freshness. The pacer hears of answers only: a request that
        // failed on the way says nothing of how long the way to the platform is.
        const cycle = Effect.gen(function*() {
          yield* confirm
          const slot = yield* pacer.take
          yield* confirm
          const delivered = yield* attempt
          yield* slot.answered
          return delivered
        })
        const outcome = yield* Effect.exit(restore(Retry.retrying(cycle, policy)))
        const error = Exit.isFailure(outcome) && outcome.cause._tag === "Fail" ? outcome.cause.error : undefined
        if (error?._tag === "ClaimLost") {
          tally.claimedElsewhere++
          return
        }
        if (error?._tag === "LedgerError") return yield* error
        // The last attempt decides, also when the retries were interrupted between attempts.
        const now = yield* Clock.currentTimeMillis
        noteAnswer(lastAttempt)
        if (probe && Option.exists(lastAttempt, Exit.isSuccess)) yield* lift
        yield* settle(
          target,
          error?._tag === "StoppedBeforeSending" && Option.isNone(lastAttempt)
            ? Ledger.Settlement.Pending({ reason: error.reason })
            : settlementOf(lastAttempt, new Date(now))
        )
        if (error?._tag === "DailyLimitReached") {
          yield* pauseAtLimit(error.detail, probe ? "probe" : "answer")
          if (sharedBudget !== undefined) yield* Effect.ignore(sharedBudget.markExhausted)
        }
        if (error?._tag === "InvalidRequest" || error?._tag === "Unauthorized") {
          fatal ??= error
        }
      })

    const settle = (target: Target, settlement: Ledger.Settlement) =>
      Effect.gen(function*() {
        const key = { campaign, platform: spec.platform, userId: target.userId }
        // The claim was lost while the request was in flight (a stall past the lease): the row is another runner's,
        // and reconciliation, not this runner, says what became of the person.
        if (!(yield* ledger.settle(key, runner, settlement))) {
          tally.claimedElsewhere++
          return
        }
        const person = who(target)
        switch (settlement._tag) {
          case "Sent":
            tally.sent++
            yield* emit(Event.Sent({ ...person, messageId: settlement.messageId, progress: progress() }))
            if (sharedBudget !== undefined && (yield* sharedBudget.recordSent)) {
              yield* pauseAtLimit("the profile's own daily DM limit is reached (counted by every runner)", "cap")
            }
            return
          case "Refused":
            tally.refused++
            return yield* emit(Event.Refused({ ...person, reason: settlement.reason, progress: progress() }))
          case "Pending":
            tally.pending++
            return yield* emit(Event.Postponed({ ...person, reason: settlement.reason, progress: progress() }))
          case "InDoubt":
            tally.inDoubt++
            return yield* emit(Event.InDoubt({ ...person, reason: settlement.reason, progress: progress() }))
        }
      })

    /** Private replies expire 7 days after the comment: the people nearest to that go first. */
    const deadlineFirst = spec.delivery === "private_reply"

    /**
     * One pass over some pages: everyone new is recorded and sent to. Pages keep being read while earlier people
     * are sent to (the buffer decouples the two); with private replies a pass is sorted by deadline first.
     */
    const process = <E>(pages: Stream.Stream<Page, E>): Effect.Effect<void, E | Ledger.LedgerError> => {
      seen = new Set()
      const people = pages.pipe(
        Stream.interruptWhen(Deferred.await(stopped)),
        Stream.mapEffect((page) =>
          Effect.gen(function*() {
            if (page.readMark !== undefined) {
              yield* ledger.markRead(page.readMark)
              return Chunk.empty<Target>()
            }
            const open = yield* unsettled(targetsOf(page))
            yield* emit(Event.PageRead({ post: page.post, comments: page.comments.length, progress: progress() }))
            return Chunk.unsafeFromArray(open)
          })
        ),
        Stream.flattenChunks
      )
      return forEachConcurrently(deadlineFirst ? oldestFirst(people) : people, deliver, workers).pipe(
        Effect.zipRight(Effect.flatMap(isStopped, (stopped) => Effect.sync(() => (passCut ||= stopped))))
      )
    }

    /** People left pending by earlier passes whom this pass did not meet again (their comment may be gone). */
    const retryPending: Effect.Effect<void, Ledger.LedgerError> = dryRun ?
      Effect.void :
      ledger.pendingEntries(campaign).pipe(
        Stream.filter((entry) => !seen.has(entry.userId)),
        Stream.interruptWhen(Deferred.await(stopped)),
        (entries) => deadlineFirst ? oldestFirst(entries) : entries,
        (entries) => forEachConcurrently(entries, deliver, workers)
      )

    /** Registers the campaign, recovers dead runners' claims and reconciles people in doubt. */
    const open = (postCount: number) =>
      Effect.gen(function*() {
        let recovered = 0
        if (!dryRun) {
          yield* ledger.registerCampaign({
            name: campaign,
            platform: spec.platform,
            profileUser: spec.user,
            posts: spec.posts.map((post) => post._tag === "Recent" ? `recent:${post.count}` : postKey(post))
          })
          recovered = yield* Runner.recoverLeftoverClaims(ledger, campaign)
          yield* reconcile
          yield* Effect.forkScoped(
            ledger.renewLeases(campaign, runner, lease).pipe(
              Effect.delay(Duration.times(Duration.decode(lease), 1 / 3)),
              Effect.forever,
              Effect.ignore
            )
          )
        }
        yield* emit(Event.Started({ campaign, posts: postCount, recovered }))
      })

    const reconcile = Effect.gen(function*() {
      if (dryRun || options.reconcile === false) return
      const result = yield* Reconcile.run(spec)
      tally.reconciled += result.sent + result.pending
      if (result.sent + result.pending + result.unresolved > 0) {
        yield* emit(Event.Reconciled({
          sent: result.sent,
          pending: result.pending,
          unresolved: result.unresolved,
          uncovered: result.uncovered,
          conversations: Option.getOrUndefined(result.conversations),
          failure: Option.getOrUndefined(Option.map(result.failure, (error) => error.message))
        }))
      }
    })

    /** The posts to read now: `posts: recent` is looked up through /uploadposts/media each time. */
    const resolvePosts: Effect.Effect<ReadonlyArray<CampaignSpec.PostId | CampaignSpec.PostUrl>, ReadFailure> = Effect
      .forEach(spec.posts, (post) =>
        post._tag === "Recent"
          ? Retry.retrying(api.media({ platform: spec.platform, user: spec.user, limit: post.count }), policy).pipe(
            Effect.map((media) => media.slice(0, post.count).map((item) => ({ _tag: "PostId" as const, id: item.id }))),
            Effect.catchTag("DailyLimitReached", (limit) => limitedRead(limit))
          )
          : Effect.succeed([post])).pipe(Effect.map((lists) => lists.flat()))

    /** What a read mark was made under: a mark made under other rules (e.g. other keywords) is not used. */
    const matchKey = Crypto.createHash("sha256")
      .update(JSON.stringify([spec.platform, spec.user, spec.match]))
      .digest("hex")

    /**
     * The pages of a post this run must read. Comments are listed newest first; a post read before under the same
     * rules is read down to the first page whose comments the earlier read saw (that page included, as a margin):
     * everything below it was read then and its people recorded. The last page read carries the new read mark.
     */
    const pagesToRead = (post: CampaignSpec.PostId | CampaignSpec.PostUrl): Stream.Stream<Page, RunError> =>
      Stream.unwrap(Effect.gen(function*() {
        const key = postKey(post)
        if (dryRun) return allPages(post)
        const previous = Option.filter(yield* ledger.readMark(campaign, key), (mark) => mark.matchKey === matchKey)
        const earlierIds = Option.match(previous, { onNone: () => [], onSome: (mark) => mark.newestIds })
        // A read cut short by a cursor cycle did not reach the post's end, and leaves no read mark.
        let cutShort = false
        const all = allPages(post, () => (cutShort = true))
        const pages = Option.match(previous, {
          onNone: () => all,
          onSome: (mark) => {
            const known = new Set(mark.newestIds)
            return all.pipe(
              Stream.takeUntil((page) => page.comments.every((comment) => known.has(comment.id)))
            )
          }
        })
        const newest: Array<string> = []
        const readMark = Effect.map(Clock.currentTimeMillis, (now): Page => ({
          post: key,
          comments: [],
          readMark: {
            campaign,
            post: key,
            // A read that stopped at known comments read everything above the earlier mark's ids.
            newestIds: Array.from(new Set([...newest, ...earlierIds])).slice(0, markSize),
            matchKey,
            readAt: new Date(now)
          }
        }))
        return pages.pipe(
          Stream.tap((page) =>
            Effect.sync(() => {
              for (const comment of page.comments) if (newest.length < markSize) newest.push(comment.id)
            })
          ),
          // Only once the read has reached its end, after the pages' people.
          Stream.concat(Stream.unwrap(Effect.sync(() => cutShort ? Stream.empty : Stream.fromEffect(readMark))))
        )
      }))

    /**
     * Every comment of a post, page by page. A cursor that comes round again ends the post's read there: it is
     * reported, `onCycle` is told, and the other posts go on.
     */
    const allPages = (
      post: CampaignSpec.PostId | CampaignSpec.PostUrl,
      onCycle: () => void = () => {}
    ): Stream.Stream<Page, ReadFailure> =>
      api.comments({ platform: spec.platform, user: spec.user, post: postRef(post) }).pipe(
        Stream.chunks,
        Stream.map((chunk) => ({ post: postKey(post), comments: Chunk.toReadonlyArray(chunk) })),
        Stream.catchTags({
          CursorCycle: (cycle) =>
            Stream.fromEffect(Effect.zipRight(Effect.sync(onCycle), report(cycle.message))).pipe(Stream.drain),
          // The daily limit is an outcome, not an error: the read ends there (no read mark), and sends pause.
          DailyLimitReached: (limit) =>
            Stream.fromEffect(Effect.zipRight(
              Effect.sync(() => {
                onCycle()
                passCut = true
              }),
              pauseAtLimit(limit.detail, "answer")
            )).pipe(Stream.drain)
        })
      )

    const failIfFatal = Effect.suspend(() => fatal === undefined ? Effect.void : Effect.fail(fatal))

    const summary = Effect.gen(function*() {
      const totals = dryRun ? undefined : yield* ledger.counts(campaign)
      const unrecorded = dryRun ? 0 : (yield* ledger.unrecorded(campaign)).length
      const counts: Counts = {
        comments: tally.comments,
        dropped: Object.values(tally.dropped).reduce((a, b) => a + b, 0),
        matched: totals === undefined ? tally.matched : Object.values(totals).reduce((a, b) => a + b, unrecorded),
        new: tally.fresh,
        sent: tally.sent,
        already_sent: totals === undefined ? tally.alreadySent : totals.sent - tally.sent,
        refused: totals?.refused ?? tally.refused,
        pending: totals?.pending ?? 0,
        in_doubt: totals?.in_doubt ?? 0,
        claimed_elsewhere: totals?.claimed ?? tally.claimedElsewhere,
        would_send: tally.wouldSend,
        held_by_cap: tally.heldByCap,
        reconciled: tally.reconciled,
        unrecorded
      }
      const stoppedOnRequest = yield* isStopped
      const outcome: Outcome = tally.problems.size > 0 && !stoppedOnRequest
        ? "failed"
        : dryRun
        ? "dry_run"
        : stoppedOnRequest && interrupted
        ? "interrupted"
        : (yield* Ref.get(dailyLimitHit)) && counts.pending > 0
        ? "daily_limit"
        : counts.pending + counts.in_doubt + counts.claimed_elsewhere > 0 || passCut
        ? "incomplete"
        : "completed"
      const finished = yield* Clock.currentTimeMillis
      const result: Summary = {
        campaign,
        outcome,
        counts,
        dropped: { ...tally.dropped },
        problems: [...tally.problems],
        elapsedMillis: finished - started
      }
      return result
    })

    return {
      api,
      emit,
      progress,
      open,
      reconcile,
      resolvePosts,
      allPages,
      pagesToRead,
      process,
      retryPending,
      failIfFatal,
      summary,
      isStopped,
      stopSignal: Deferred.await(stopped),
      /** When a watcher paused at the daily limit checks again with one real message, if it is paused. */
      nextProbeAt: Effect.sync(() => pause?.probeAt),
      /** Sends to everyone pending (between passes: the last pass's people included), the first as a probe if due. */
      sendPending: Effect.suspend(() => {
        seen = new Set()
        return retryPending
      })
    }
  })

/** People waiting for a sender: reading goes on while earlier people are sent to. */
const sendQueueCapacity = 1024

/**
 * Runs `f` for every element of the stream, at most `concurrency` at a time, in the order the elements arrive:
 * `concurrency` workers take from one bounded queue that the stream fills. It does what
 * `Stream.mapEffect(f, { concurrency, unordered: true })` after a `Stream.buffer` does, at a fraction of the cost
 * per element (that stage costs hundreds of microseconds per element, more than a DM request). A failure of the stream
 * or of any `f` interrupts the rest, as in the stream version.
 */
export const forEachConcurrently = <A, E, E2, R, R2>(
  stream: Stream.Stream<A, E, R>,
  f: (element: A) => Effect.Effect<void, E2, R2>,
  concurrency: number
): Effect.Effect<void, E | E2, R | R2> =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<Option.Option<A>>(sendQueueCapacity)
    const workers = Math.max(1, concurrency)
    // Each worker stops at the end mark it takes; the marks come after every element.
    const fill = Stream.runForEachChunk(stream, (chunk) => Queue.offerAll(queue, Chunk.map(chunk, Option.some))).pipe(
      Effect.zipRight(Queue.offerAll(queue, Array.from({ length: workers }, () => Option.none<A>())))
    )
    const work = Effect.gen(function*() {
      while (true) {
        const next = yield* Queue.take(queue)
        if (Option.isNone(next)) return
        yield* f(next.value)
      }
    })
    yield* Effect.all([fill, ...Array.from({ length: workers }, () => work)], {
      concurrency: "unbounded",
      discard: true
    })
  })

const deadlineOf = (target: Target) => target.commentTime?.getTime() ?? Number.MAX_SAFE_INTEGER

/** The whole pass, oldest comment first: for private replies, whose deadline is 7 days after the comment. */
const oldestFirst = <A extends Target, E>(people: Stream.Stream<A, E>): Stream.Stream<A, E> =>
  Stream.unwrap(
    Effect.map(
      Stream.runCollect(people),
      (all) => Stream.fromIterable(Array.from(all).sort((a, b) => deadlineOf(a) - deadlineOf(b)))
    )
  )

/** Makes a part of an uninterruptible region interruptible again (from `Effect.uninterruptibleMask`). */
type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/** The claim was lost before a send attempt: another runner recovered it after its lease expired. */
class ClaimLost extends Data.TaggedError("ClaimLost") {}

/** The run stopped, paused or failed while a claimed person waited for an attempt: settled from the last attempt. */
class StoppedBeforeSending extends Data.TaggedError("StoppedBeforeSending")<{ readonly reason: string }> {}

const interruptedBeforeRequest = Ledger.Settlement.Pending({ reason: "interrupted before the request was made" })

const settlementOf = (
  outcome: Option.Option<Exit.Exit<UploadPost.Delivered, Errors.SendError>>,
  now: Date
): Ledger.Settlement => {
  if (Option.isNone(outcome)) return interruptedBeforeRequest
  const exit = outcome.value
  if (Exit.isSuccess(exit)) return Ledger.Settlement.Sent({ messageId: exit.value.messageId, at: now })
  if (exit.cause._tag !== "Fail") {
    return Ledger.Settlement.InDoubt({ reason: "the send was interrupted while the request was in flight" })
  }
  const error = exit.cause.error
  switch (error._tag) {
    case "RecipientRefused":
      return Ledger.Settlement.Refused({ reason: error.reason })
    case "UnrecognisedRefusal":
      return Ledger.Settlement.Refused({
        reason: `${error.detail} (HTTP ${error.status}, an answer comment-dm does not recognise)`
      })
    case "SendInDoubt":
      return Ledger.Settlement.InDoubt({ reason: error.detail })
    case "DailyLimitReached":
      return Ledger.Settlement.Pending({ reason: "the daily DM limit was reached; run again after the reset" })
    case "RateLimited":
    case "Transient":
    case "InvalidRequest":
    case "Unauthorized":
      return Ledger.Settlement.Pending({ reason: error.message })
  }
}
