/**
 * A campaign, end to end, as one Stream pipeline:
 *
 * posts -> comments (paged) -> drop unusable -> match -> first matching comment per person wins
 *       -> skip people the ledger has settled -> claim (durable) -> render -> send (paced, bounded concurrency,
 *       transient retry) -> settle (durable) -> progress event
 *
 * People left `pending` by an earlier run are retried even when their comment is gone. A send that may have gone
 * out is never repeated: it is settled `in_doubt`, and only reconciliation resolves it.
 *
 * A resume reads only what is new: a post read to its end by an earlier run is read down to the first page of
 * comments that run saw (comments are listed newest first), so its cost grows with the new comments and the people
 * still pending, not with everything seen before.
 */
import { Effect, Stream } from "effect"
import * as Engine from "./campaign/Engine.js"
import type * as CampaignSpec from "./CampaignSpec.js"
import * as DryRun from "./DryRun.js"
import type * as Ledger from "./Ledger.js"
import type * as Run from "./Run.js"
import type * as UploadPost from "./UploadPost.js"

export { probeInterval } from "./campaign/DailyLimit.js"
export { privateReplyWindow } from "./campaign/Step.js"
/** Who the account is (its comments never match): give it to `run` or `watch` as `ownAccount`. */
export { resolve as ownAccount } from "./OwnAccount.js"
export type { Counts, Outcome, Person, Progress, RunError, Summary } from "./Run.js"
export { Event } from "./Run.js"

/**
 * What a run is told beyond its campaign. Its pace, the profile's daily budget and when to stop come from its
 * context instead: `Pacer.Pacer` (default: the campaign's `pace`), `DailyBudget.DailyBudget` (default: what this
 * run's own sends are told; `SharedPacer.layer` provides both for runners that share a profile) and
 * `StopSignal.StopSignal` (default: run until done).
 */
export interface RunOptions<R = never> extends Engine.Options<R> {
  /** Read comments and report who would get which message; send nothing, write nothing (`DryRun.layer`). */
  readonly dryRun?: boolean
}

/**
 * Runs a campaign once: every post read down to what an earlier run read in full, every new matching commenter and
 * everyone left pending sent to (within the caps).
 */
export const run = <R = never>(
  spec: CampaignSpec.CampaignSpec,
  options: RunOptions<R> = {}
): Effect.Effect<Run.Summary, Run.RunError, UploadPost.UploadPost | Ledger.Ledger | R> =>
  Effect.gen(function*() {
    const engine = yield* Engine.make(spec, options)
    // Paused: nothing read, sent or written. Ended: nothing read; people still pending end expired.
    const halt = yield* engine.halt("run")
    if (halt?._tag === "Paused") return yield* engine.summary
    const posts = halt === undefined ? yield* engine.resolvePosts : []
    yield* engine.open(posts.length)
    yield* engine.pass(Stream.fromIterable(posts).pipe(Stream.flatMap((post) => engine.newPages(post))))
    yield* engine.retryPending
    yield* engine.failIfFatal
    return yield* engine.summary
  }).pipe(Effect.scoped, options.dryRun === true ? Effect.provide(DryRun.layer) : (program) => program)
