/**
 * A campaign, end to end, as one Stream pipeline:
 *
 * posts -> comments (paged) -> drop unusable -> match -> first matching comment per person wins
 *       -> skip people the ledger has settled -> claim (durable) -> render -> send (paced, bounded concurrency,
 *       transient retry) -> settle (durable) -> progress event
 *
 * People left `pending` by an earlier run are retried even when their comment is gone. A send that may have gone
 * out is never repeated: it is settled `in_doubt`, and only reconciliation resolves it.
 */
import { Clock, Data, Deferred, Duration, Effect, Exit, Option, Ref, Stream } from "effect"
import type * as CampaignSpec from "./CampaignSpec.js"
import * as Ledger from "./Ledger.js"
import * as Matcher from "./Matcher.js"
import * as Pacer from "./Pacer.js"
import * as Reconcile from "./Reconcile.js"
import * as Retry from "./Retry.js"
import * as Runner from "./Runner.js"
import * as Template from "./Template.js"
import * as UploadPost from "./UploadPost.js"
import type * as Errors from "./UploadPostError.js"

/** Instagram allows one private reply per comment, within 7 days of it. */
export const privateReplyWindow = Duration.days(7)

/** How the run ended; the command maps each to its exit code. */
export type Outcome =
  /** Every matching commenter is settled: sent or refused. */
  | "completed"
  /** Done, but some people are pending (not sent yet) or in doubt. */
  | "incomplete"
  /** Stopped by the profile's daily DM limit; the rest stay pending for a run after the reset. */
  | "daily_limit"
  /** Stopped on request (SIGINT/SIGTERM); sends in flight were settled first. */
  | "interrupted"
  /** Nothing was sent or written: `--dry-run`. */
  | "dry_run"

export interface Counts {
  /** Comments read. */
  readonly comments: number
  /** Comments without a usable commenter id, skipped. */
  readonly dropped: number
  /** Matching people known to the campaign (all runs); for a dry run, those seen by this one. */
  readonly matched: number
  /** Matching people seen for the first time by this run. */
  readonly new: number
  /** DMs accepted by the platform in this run. */
  readonly sent: number
  /** People sent by an earlier run. */
  readonly already_sent: number
  readonly refused: number
  readonly pending: number
  readonly in_doubt: number
  /** People another live runner holds a claim on right now. */
  readonly claimed_elsewhere: number
  /** People this run would send to (dry run), or left pending by `max_sends`. */
  readonly would_send: number
  readonly held_by_cap: number
  /** In-doubt people reconciliation resolved at the start of the run. */
  readonly reconciled: number
}

export interface Summary {
  readonly campaign: string
  readonly outcome: Outcome
  readonly counts: Counts
  /** Why comments were dropped, with how many each. */
  readonly dropped: Readonly<Record<string, number>>
  readonly elapsedMillis: number
}

/** Live figures, carried by every progress event. */
export interface Progress {
  readonly comments: number
  readonly matched: number
  readonly sent: number
  readonly refused: number
  readonly pending: number
  readonly inDoubt: number
  readonly skipped: number
}

export type Event = Data.TaggedEnum<{
  Started: { readonly campaign: string; readonly posts: number; readonly recovered: number }
  Reconciled: { readonly sent: number; readonly pending: number; readonly unresolved: number }
  PageRead: { readonly post: string; readonly comments: number; readonly progress: Progress }
  Sent: {
    readonly userId: string
    readonly username: string | undefined
    readonly messageId: string
    readonly progress: Progress
  }
  Refused: {
    readonly userId: string
    readonly username: string | undefined
    readonly reason: string
    readonly progress: Progress
  }
  Deferred: {
    readonly userId: string
    readonly username: string | undefined
    readonly reason: string
    readonly progress: Progress
  }
  InDoubt: {
    readonly userId: string
    readonly username: string | undefined
    readonly reason: string
    readonly progress: Progress
  }
  WouldSend: {
    readonly userId: string
    readonly username: string | undefined
    readonly post: string
    readonly message: string
    readonly progress: Progress
  }
  DailyLimit: { readonly detail: string }
  Stopping: { readonly reason: string }
}>
export const Event = Data.taggedEnum<Event>()

export interface RunOptions {
  /** Read comments and report who would get which message; send nothing, write nothing. */
  readonly dryRun?: boolean
  /** Caps the sends of this run (overrides the campaign's `max_sends`). */
  readonly maxSends?: number | undefined
  /** Completes when new sends must stop (e.g. on SIGINT); sends in flight still settle. */
  readonly stop?: Effect.Effect<void>
  readonly onEvent?: (event: Event) => Effect.Effect<void>
  /** Overrides the campaign's pace (e.g. `Pacer.unlimited` on the sandbox, or a budget shared by runners). */
  readonly pacer?: Pacer.Pacer
  readonly retry?: Retry.RetryPolicy
  /** How long a claim protects a person from other runners' crash recovery; renewed while the run lives. */
  readonly lease?: Duration.DurationInput
  /** Resolve people in doubt through the conversations endpoint before sending (default true). */
  readonly reconcile?: boolean
}

/** A run cannot go on: the API refused the campaign itself, or the ledger failed. */
export type RunError =
  | Errors.ReadError
  | Errors.InvalidRequest
  | Errors.Unauthorized
  | Ledger.LedgerError

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
}

/** The person, their first matching comment and the keyword it matched. */
type Target = Ledger.Candidate

const toPostRef = (post: CampaignSpec.Post): UploadPost.PostRef =>
  post._tag === "PostId" ? { postId: post.id } : { postUrl: post.url }

const postKey = (post: CampaignSpec.Post): string => post._tag === "PostId" ? post.id : post.url

/** Runs a campaign once: every post read to the end, every new matching commenter sent to (within the caps). */
export const run = (
  spec: CampaignSpec.CampaignSpec,
  options: RunOptions = {}
): Effect.Effect<Summary, RunError, UploadPost.UploadPost | Ledger.Ledger> =>
  Effect.gen(function*() {
    const api = yield* UploadPost.UploadPost
    const ledger = yield* Ledger.Ledger
    const started = yield* Clock.currentTimeMillis
    const dryRun = options.dryRun === true
    const campaign = spec.name
    const runner = Runner.currentId
    const lease = options.lease ?? Duration.minutes(2)
    const policy = options.retry ?? api.settings.retry
    const maxSends = options.maxSends ?? spec.maxSends
    const emit = options.onEvent ?? (() => Effect.void)
    const matcher = Matcher.make(spec.match)
    const pacer = options.pacer ?? (yield* Pacer.make(spec.pace.perHour))

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
      sendsStarted: 0
    }
    const progress = (): Progress => ({
      comments: tally.comments,
      matched: tally.matched,
      sent: tally.sent,
      refused: tally.refused,
      pending: tally.pending,
      inDoubt: tally.inDoubt,
      skipped: tally.alreadySent + tally.claimedElsewhere
    })
    /** Set once: the reason new sends stop (a request to stop, or the daily limit). */
    const stopping = yield* Ref.make<Option.Option<"interrupted" | "daily_limit">>(Option.none())
    const stopped = yield* Deferred.make<void>()
    const requestStop = (why: "interrupted" | "daily_limit", reason: string) =>
      Ref.modify(stopping, (current) =>
        Option.isSome(current) ? [false, current] as const : [true, Option.some(why)] as const).pipe(
          Effect.flatMap((first) =>
            first
              ? Effect.zipRight(Deferred.succeed(stopped, undefined), emit(Event.Stopping({ reason })))
              : Effect.void
          )
        )
    if (options.stop !== undefined) {
      yield* Effect.forkScoped(Effect.zipRight(options.stop, requestStop("interrupted", "stop requested")))
    }

    let recovered = 0
    let reconciled = 0
    if (!dryRun) {
      yield* ledger.registerCampaign({
        name: campaign,
        platform: spec.platform,
        profileUser: spec.user,
        posts: spec.posts.map(postKey)
      })
      recovered = yield* Runner.recoverLeftoverClaims(ledger, campaign)
      if (options.reconcile !== false) {
        const result = yield* Reconcile.run(spec, {})
        reconciled = result.sent + result.pending
        if (result.sent + result.pending + result.unresolved > 0) {
          yield* emit(Event.Reconciled(result))
        }
      }
      yield* Effect.forkScoped(
        ledger.renewLeases(campaign, runner, lease).pipe(
          Effect.delay(Duration.times(Duration.decode(lease), 1 / 3)),
          Effect.forever,
          Effect.ignore
        )
      )
    }
    yield* emit(Event.Started({ campaign, posts: spec.posts.length, recovered }))

    const seen = new Set<string>()

    /** Comments of one page -> the people they bring in for the first time this run. */
    const targetsOf = (post: string, comments: ReadonlyArray<UploadPost.Comment>): Array<Target> => {
      const targets: Array<Target> = []
      for (const comment of comments) {
        tally.comments++
        if (comment.userId === undefined || comment.userId.length === 0) {
          tally.dropped["no user id (deleted or restricted account)"] =
            (tally.dropped["no user id (deleted or restricted account)"] ?? 0) + 1
          continue
        }
        if (seen.has(comment.userId)) {
          continue
        }
        const keyword = Matcher.match(matcher, comment.text)
        if (Option.isNone(keyword)) {
          continue
        }
        seen.add(comment.userId)
        targets.push({
          campaign,
          platform: spec.platform,
          userId: comment.userId,
          username: comment.username,
          postId: post,
          commentId: comment.id,
          commentText: comment.text,
          commentTime: comment.timestamp,
          keyword: keyword.value
        })
      }
      tally.matched += targets.length
      return targets
    }

    /** Looks the people of a page up in the ledger: settled ones are skipped, new ones recorded as pending. */
    const unsettled = (targets: Array<Target>): Effect.Effect<Array<Target>, Ledger.LedgerError> =>
      Effect.gen(function*() {
        if (targets.length === 0) {
          return targets
        }
        const states = yield* ledger.states(
          campaign,
          spec.platform,
          targets.map((target) =>
            target.userId
          )
        )
        const open: Array<Target> = []
        const fresh: Array<Target> = []
        for (const target of targets) {
          const state = states.get(target.userId)
          switch (state) {
            case undefined:
              fresh.push(target)
              open.push(target)
              break
            case "pending":
              open.push(target)
              break
            case "sent":
              tally.alreadySent++
              break
            case "claimed":
              tally.claimedElsewhere++
              break
            case "refused":
            case "in_doubt":
              // Settled for this run: refusals are final, doubts wait for reconciliation.
              break
          }
        }
        tally.fresh += fresh.length
        if (!dryRun && fresh.length > 0) yield* ledger.discover(fresh)
        return open
      })

    /** A fatal answer (bad request, bad key) stops the campaign after the sends in flight settle. */
    const fatal = yield* Ref.make<Option.Option<Errors.InvalidRequest | Errors.Unauthorized>>(Option.none())

    const deliver = (target: Target): Effect.Effect<void, Ledger.LedgerError> =>
      Effect.gen(function*() {
        if (Option.isSome(yield* Ref.get(stopping)) || Option.isSome(yield* Ref.get(fatal))) return
        const message = Template.render(Template.pick(spec.messages, campaign, target.userId), {
          username: target.username,
          userId: target.userId,
          keyword: target.keyword ?? "",
          comment: target.commentText,
          commentId: target.commentId,
          postId: target.postId
        })
        const refusal = yield* refusalBeforeSending(target, message)
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
        const won = yield* ledger.claim(key, { message, runner, lease })
        if (!won) {
          tally.claimedElsewhere++
          return
        }
        if (Option.isSome(refusal)) {
          return yield* settle(target, Ledger.Settlement.Refused({ reason: refusal.value }))
        }
        yield* sendClaimed(target, message)
      })

    /** Refusals known without asking the platform: a message over its length, a private reply too late. */
    const refusalBeforeSending = (target: Target, message: string) =>
      Effect.gen(function*() {
        const tooLong = Template.checkLength(spec.platform, message)
        if (tooLong._tag === "Left") return Option.some(tooLong.left)
        if (spec.delivery === "private_reply" && target.commentTime !== undefined) {
          const now = yield* Clock.currentTimeMillis
          if (now - target.commentTime.getTime() > Duration.toMillis(privateReplyWindow)) {
            return Option.some("the comment is older than 7 days; Instagram allows a private reply only within 7 days")
          }
        }
        return Option.none<string>()
      })

    const sendOnce = (target: Target, message: string): Effect.Effect<UploadPost.Delivered, Errors.SendError> =>
      spec.delivery === "private_reply"
        ? api.privateReply({ user: spec.user, commentId: target.commentId, message })
        : api.sendDm({ platform: spec.platform, user: spec.user, recipientId: target.userId, message })

    /**
     * Sends to a claimed person and settles the outcome. An attempt that has started is never abandoned: each is
     * uninterruptible, and an interruption between attempts settles from what the last attempt said.
     */
    const sendClaimed = (target: Target, message: string) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const lastAttempt = yield* Ref.make<Option.Option<Exit.Exit<UploadPost.Delivered, Errors.SendError>>>(
            Option.none()
          )
          const attempt = Effect.exit(sendOnce(target, message)).pipe(
            Effect.tap((exit) => Ref.set(lastAttempt, Option.some(exit))),
            Effect.flatten,
            Effect.uninterruptible
          )
          const outcome = yield* Effect.exit(restore(Retry.retrying(Effect.zipRight(pacer.take, attempt), policy)))
          const decided = Exit.isInterrupted(outcome) ? yield* Ref.get(lastAttempt) : Option.some(outcome)
          const now = new Date(yield* Clock.currentTimeMillis)
          yield* settle(target, settlementOf(decided, now))
          if (Exit.isFailure(outcome) && !Exit.isInterrupted(outcome)) {
            const error = outcome.cause._tag === "Fail" ? outcome.cause.error : undefined
            if (error?._tag === "DailyLimitReached") {
              yield* emit(Event.DailyLimit({ detail: error.detail }))
              yield* requestStop("daily_limit", error.message)
            }
            if (error?._tag === "InvalidRequest" || error?._tag === "Unauthorized") {
              yield* Ref.update(fatal, Option.orElse(() => Option.some(error)))
            }
          }
        })
      )

    const settle = (target: Target, settlement: Ledger.Settlement) =>
      Effect.gen(function*() {
        const key = { campaign, platform: spec.platform, userId: target.userId }
        yield* ledger.settle(key, runner, settlement)
        const person = who(target)
        switch (settlement._tag) {
          case "Sent":
            tally.sent++
            return yield* emit(Event.Sent({ ...person, messageId: settlement.messageId, progress: progress() }))
          case "Refused":
            tally.refused++
            return yield* emit(Event.Refused({ ...person, reason: settlement.reason, progress: progress() }))
          case "Pending":
            tally.pending++
            return yield* emit(Event.Deferred({ ...person, reason: settlement.reason, progress: progress() }))
          case "InDoubt":
            tally.inDoubt++
            return yield* emit(Event.InDoubt({ ...person, reason: settlement.reason, progress: progress() }))
        }
      })

    // Pages keep being read while earlier people are sent to: the buffer decouples the two.
    const pipeline = Stream.fromIterable(spec.posts).pipe(
      Stream.flatMap((post) =>
        api.comments({ platform: spec.platform, user: spec.user, post: toPostRef(post) }).pipe(
          Stream.chunks,
          Stream.mapEffect((page) =>
            Effect.gen(function*() {
              const targets = yield* unsettled(targetsOf(postKey(post), Array.from(page)))
              yield* emit(Event.PageRead({ post: postKey(post), comments: page.length, progress: progress() }))
              return targets
            })
          ),
          Stream.flattenIterables
        )
      ),
      Stream.interruptWhen(Deferred.await(stopped)),
      Stream.buffer({ capacity: 1024 }),
      Stream.mapEffect(deliver, { concurrency: spec.pace.concurrency, unordered: true })
    )
    yield* Stream.runDrain(pipeline)

    // People left pending by earlier runs whom this run did not meet again (their comment may be gone).
    yield* ledger.pendingEntries(campaign).pipe(
      Stream.filter((entry) => !seen.has(entry.userId)),
      Stream.interruptWhen(Deferred.await(stopped)),
      Stream.tap(() => Effect.sync(() => tally.matched++)),
      Stream.mapEffect(deliver, { concurrency: spec.pace.concurrency, unordered: true }),
      Stream.runDrain,
      Effect.when(() => !dryRun)
    )

    const fatalError = yield* Ref.get(fatal)
    if (Option.isSome(fatalError)) return yield* Effect.fail(fatalError.value)

    const stoppedBy = yield* Ref.get(stopping)
    const totals = dryRun ? undefined : yield* ledger.counts(campaign)
    const counts: Counts = {
      comments: tally.comments,
      dropped: Object.values(tally.dropped).reduce((a, b) => a + b, 0),
      matched: totals === undefined ? tally.matched : Object.values(totals).reduce((a, b) => a + b, 0),
      new: tally.fresh,
      sent: tally.sent,
      already_sent: totals === undefined ? tally.alreadySent : totals.sent - tally.sent,
      refused: totals?.refused ?? tally.refused,
      pending: totals?.pending ?? 0,
      in_doubt: totals?.in_doubt ?? 0,
      claimed_elsewhere: totals?.claimed ?? tally.claimedElsewhere,
      would_send: tally.wouldSend,
      held_by_cap: tally.heldByCap,
      reconciled
    }
    const outcome: Outcome = dryRun
      ? "dry_run"
      : Option.isSome(stoppedBy)
      ? stoppedBy.value
      : counts.pending + counts.in_doubt + counts.claimed_elsewhere > 0
      ? "incomplete"
      : "completed"
    const finished = yield* Clock.currentTimeMillis
    return { campaign, outcome, counts, dropped: { ...tally.dropped }, elapsedMillis: finished - started }
  }).pipe(Effect.scoped)

const who = (target: Target) => ({ userId: target.userId, username: target.username })

const settlementOf = (
  outcome: Option.Option<Exit.Exit<UploadPost.Delivered, Errors.SendError>>,
  now: Date
): Ledger.Settlement => {
  if (Option.isNone(outcome)) {
    return Ledger.Settlement.Pending({ reason: "interrupted before the request was made" })
  }
  const exit = outcome.value
  if (Exit.isSuccess(exit)) return Ledger.Settlement.Sent({ messageId: exit.value.messageId, at: now })
  if (exit.cause._tag !== "Fail") {
    return Ledger.Settlement.InDoubt({ reason: "the send was interrupted while the request was in flight" })
  }
  const error = exit.cause.error
  switch (error._tag) {
    case "RecipientRefused":
      return Ledger.Settlement.Refused({ reason: error.reason })
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
