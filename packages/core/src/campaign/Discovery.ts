/**
 * Discovery: the people of a page. Comments without a usable commenter and the account's own are dropped, the rest
 * matched; the first matching comment of a person in a pass wins. The ledger then says who is open: settled people are
 * skipped, new ones recorded as pending, and (with `auto`) people skipped before are judged again when this comment is
 * newer than theirs. A person the ledger refuses to record is reported and never sent to (a send must be claimed
 * durably first).
 */
import { Effect, Option } from "effect"
import type * as CampaignSpec from "../CampaignSpec.js"
import type * as Ledger from "../Ledger.js"
import * as Matcher from "../Matcher.js"
import * as OwnAccount from "../OwnAccount.js"
import * as Period from "./Period.js"
import type { Page } from "./Reading.js"
import type { Recorder } from "./Recording.js"
import type { Step, Target } from "./Step.js"

export type { Target } from "./Step.js"

const noUserId = "no user id (deleted or restricted account)"
const ownComment = "the account's own comment"

export interface Discoverer {
  readonly spec: CampaignSpec.CampaignSpec
  readonly ledger: Ledger.Service
  readonly recorder: Recorder
  readonly matcher: Matcher.Matcher
  /** The step people enter when they are found: the first message. */
  readonly step: Step
  /** The account itself, when known: its comments are dropped, never matched. */
  readonly ownAccount?: OwnAccount.OwnAccount | undefined
  /**
   * Whether a skipped person met again with a newer matching comment is judged again (`delivery: auto`): the row takes
   * the newer comment and is pending once more.
   */
  readonly rejudge: boolean
  /** The earliest comment time considered (`since`), once the run has opened the campaign; older ones are dropped. */
  readonly cutoff?: { current: number | undefined } | undefined
}

const forgottenPerson = "a forgotten person (comment-dm forget)"

/** The people a pass has met, with the time of the newest matching comment of each that it handed on. */
export class Seen {
  readonly newest = new Map<string, number>()
  /** People met whose ledger row keeps its own comment: the retry of the pending after the pass sends by the row. */
  readonly deferred = new Set<string>()

  has(userId: string): boolean {
    return this.newest.has(userId)
  }

  /** Whether the retry of the pending after the pass takes the person: not met in the pass, or left to it. */
  leftToRetry(userId: string): boolean {
    return !this.newest.has(userId) || this.deferred.has(userId)
  }
}

/**
 * The matching people of a page not met before in this pass (`seen`, which it adds them to); with `rejudge`, also a
 * person met before whose comment here is newer (their newest matching comment is the one a private reply answers).
 * The recorder is told of the page's comments and of those dropped.
 */
export const targetsOf = (discoverer: Discoverer, seen: Seen, page: Page): Array<Target> => {
  const { matcher, ownAccount, spec } = discoverer
  const targets: Array<Target> = []
  const dropped: Array<string> = []
  for (const comment of page.comments) {
    if (comment.userId === undefined || comment.userId.length === 0) {
      dropped.push(noUserId)
      continue
    }
    if (ownAccount !== undefined && OwnAccount.isOwn(ownAccount, comment)) {
      dropped.push(ownComment)
      continue
    }
    const cutoff = discoverer.cutoff?.current
    const tooOld = cutoff === undefined ? undefined : Period.droppedFor(cutoff, comment.timestamp)
    if (tooOld !== undefined) {
      dropped.push(tooOld)
      continue
    }
    const time = comment.timestamp?.getTime() ?? Number.NEGATIVE_INFINITY
    const known = seen.newest.get(comment.userId)
    if (known !== undefined && !(discoverer.rejudge && time > known)) continue
    const keyword = Matcher.match(matcher, comment.text)
    if (Option.isNone(keyword)) continue
    seen.newest.set(comment.userId, time)
    targets.push({
      campaign: spec.name,
      platform: spec.platform,
      userId: comment.userId,
      step: discoverer.step.kind,
      username: comment.username,
      postId: page.post,
      commentId: comment.id,
      commentText: comment.text,
      commentTime: comment.timestamp,
      keyword: keyword.value
    })
  }
  discoverer.recorder.readPage({ comments: page.comments.length, dropped })
  return targets
}

/** The people of a page the ledger says are open, and how many it could not record. */
export interface Unsettled {
  readonly open: Array<Target>
  /** People the ledger refused to record: the read that met them must not be marked as read past them. */
  readonly unrecorded: number
}

const keyOf = (discoverer: Discoverer, target: Target): Ledger.RecipientKey => ({
  campaign: target.campaign,
  platform: target.platform,
  userId: target.userId,
  step: discoverer.step.kind
})

/** Looks people up in the ledger: the open ones (new or pending) go on; new ones are recorded as pending. */
export const unsettled: (
  discoverer: Discoverer,
  targets: Array<Target>,
  seen?: Seen
) => Effect.Effect<Unsettled, Ledger.LedgerError> = Effect.fn("Discovery.unsettled")(
  function*(discoverer: Discoverer, found: Array<Target>, seen?: Seen) {
    const { ledger, recorder, spec, step } = discoverer
    const targets = yield* withoutForgotten(discoverer, found)
    if (targets.length === 0) return { open: targets, unrecorded: 0 }
    const states = yield* ledger.states(spec.name, spec.platform, step.kind, targets.map((target) => target.userId))
    const open: Array<Target> = []
    const fresh: Array<Target> = []
    let alreadySent = 0
    let claimedElsewhere = 0
    for (const target of targets) {
      const state = states.get(target.userId)
      if (state === undefined) {
        fresh.push(target)
        open.push(target)
      } else if (state === "pending" && !discoverer.rejudge) {
        open.push(target)
      } else if (state === "pending") {
        // The row keeps the person's newest comment: this one when it is newer, else the row's own, which the retry
        // of the pending after the pass sends by.
        if (yield* ledger.reopen(keyOf(discoverer, target), { _tag: "Commented", comment: target })) open.push(target)
        else seen?.deferred.add(target.userId)
      } else if (state === "sent") {
        alreadySent++
      } else if (state === "claimed") {
        claimedElsewhere++
      } else if (state === "skipped" && discoverer.rejudge && target.commentTime !== undefined) {
        if (yield* ledger.reopen(keyOf(discoverer, target), { _tag: "Commented", comment: target })) open.push(target)
      }
      // refused is final; in_doubt waits for reconciliation; a skip is final unless the person comes back.
    }
    recorder.lookedUp({ matched: targets.length, fresh: fresh.length, alreadySent, claimedElsewhere })
    if (fresh.length === 0) return { open, unrecorded: 0 }
    const { unrecorded } = yield* ledger.record(fresh)
    if (unrecorded.length === 0) return { open, unrecorded: 0 }
    for (const person of unrecorded) {
      const name = person.username === undefined ? `user ${person.userId}` : `@${person.username} (${person.userId})`
      yield* recorder.report(`the ledger could not record ${name}, who is not sent to: ${person.reason}`)
    }
    const refused = new Set(unrecorded.map((person) => person.userId))
    return { open: open.filter((target) => !refused.has(target.userId)), unrecorded: unrecorded.length }
  }
)

/** The people `comment-dm forget` left a tombstone for are dropped, counted as such, and never recorded. */
const withoutForgotten = (discoverer: Discoverer, targets: Array<Target>) =>
  Effect.map(
    targets.length === 0
      ? Effect.succeed(new Set<string>())
      : discoverer.ledger.forgotten(discoverer.spec.platform, discoverer.spec.user, targets.map((t) => t.userId)),
    (forgotten) => {
      if (forgotten.size === 0) return targets
      const kept = targets.filter((target) => !forgotten.has(target.userId))
      discoverer.recorder.readPage({
        comments: 0,
        dropped: Array.from({ length: targets.length - kept.length }, () => forgottenPerson)
      })
      return kept
    }
  )
