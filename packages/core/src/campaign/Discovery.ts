/**
 * Discovery: the people of a page. Comments without a usable commenter are dropped, the rest matched; the first
 * matching comment of a person in a pass wins. The ledger then says who is open: settled people are skipped, new ones
 * recorded as pending, and (with `auto`) people skipped before are judged again when this comment is newer than theirs. A person the ledger refuses to record is reported and never sent to (a send must be claimed
 * durably first).
 */
import { Effect, Option } from "effect"
import type * as CampaignSpec from "../CampaignSpec.js"
import type * as Ledger from "../Ledger.js"
import * as Matcher from "../Matcher.js"
import type { Page } from "./Reading.js"
import type { Recorder } from "./Recording.js"
import type { Step, Target } from "./Step.js"

export type { Target } from "./Step.js"

const noUserId = "no user id (deleted or restricted account)"

export interface Discoverer {
  readonly spec: CampaignSpec.CampaignSpec
  readonly ledger: Ledger.Ledger
  readonly recorder: Recorder
  readonly matcher: Matcher.Matcher
  /** The step people enter when they are found: the first message. */
  readonly step: Step
  /**
   * Whether a skipped person met again with a newer matching comment is judged again (`delivery: auto`): the row takes
   * the newer comment and is pending once more.
   */
  readonly rejudge: boolean
}

/** The matching people of a page not met before in this pass (`seen`, which it adds them to). */
export const targetsOf = (discoverer: Discoverer, seen: Set<string>, page: Page): Array<Target> => {
  const { matcher, recorder, spec } = discoverer
  const targets: Array<Target> = []
  for (const comment of page.comments) {
    recorder.comments++
    if (comment.userId === undefined || comment.userId.length === 0) {
      recorder.drop(noUserId)
      continue
    }
    if (seen.has(comment.userId)) continue
    const keyword = Matcher.match(matcher, comment.text)
    if (Option.isNone(keyword)) continue
    seen.add(comment.userId)
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
  return targets
}

/** Looks people up in the ledger: the open ones (new or pending) go on; new ones are recorded as pending. */
export const unsettled: (
  discoverer: Discoverer,
  targets: Array<Target>
) => Effect.Effect<Array<Target>, Ledger.LedgerError> = Effect.fn("Discovery.unsettled")(
  function*(discoverer: Discoverer, targets: Array<Target>) {
    if (targets.length === 0) return targets
    const { ledger, recorder, spec, step } = discoverer
    const states = yield* ledger.states(spec.name, spec.platform, step.kind, targets.map((target) => target.userId))
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
        recorder.alreadySent++
      } else if (state === "claimed") {
        recorder.claimedElsewhere++
      } else if (state === "skipped" && discoverer.rejudge && target.commentTime !== undefined) {
        const key = { campaign: target.campaign, platform: target.platform, userId: target.userId, step: step.kind }
        if (yield* ledger.reopen(key, { _tag: "Commented", comment: target })) open.push(target)
      }
      // refused is final; in_doubt waits for reconciliation; a skip is final unless the person comes back.
    }
    recorder.matched += targets.length
    recorder.fresh += fresh.length
    if (fresh.length === 0) return open
    const { unrecorded } = yield* ledger.record(fresh)
    if (unrecorded.length === 0) return open
    for (const person of unrecorded) {
      const name = person.username === undefined ? `user ${person.userId}` : `@${person.username} (${person.userId})`
      yield* recorder.report(`the ledger could not record ${name}, who is not sent to: ${person.reason}`)
    }
    const refused = new Set(unrecorded.map((person) => person.userId))
    return open.filter((target) => !refused.has(target.userId))
  }
)
