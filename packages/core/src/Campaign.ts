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
import { Effect, Stream } from "effect"
import type * as CampaignSpec from "./CampaignSpec.js"
import * as Session from "./internal/session.js"
import type * as Ledger from "./Ledger.js"
import type * as UploadPost from "./UploadPost.js"

export type { Budget, Counts, Outcome, Progress, RunError, Summary } from "./internal/session.js"
export { Event, privateReplyWindow } from "./internal/session.js"

export type RunOptions = Session.Options

/** Runs a campaign once: every post read to the end, every new matching commenter sent to (within the caps). */
export const run = (
  spec: CampaignSpec.CampaignSpec,
  options: RunOptions = {}
): Effect.Effect<Session.Summary, Session.RunError, UploadPost.UploadPost | Ledger.Ledger> =>
  Effect.gen(function*() {
    const session = yield* Session.make(spec, options)
    const posts = yield* session.resolvePosts
    yield* session.open(posts.length)
    yield* session.process(Stream.fromIterable(posts).pipe(Stream.flatMap(session.allPages)))
    yield* session.retryPending
    yield* session.failIfFatal
    return yield* session.summary
  }).pipe(Effect.scoped)
