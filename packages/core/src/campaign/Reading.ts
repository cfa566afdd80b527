/**
 * Reading: the posts of a campaign, and their comments page by page. A read that reaches a post's end ends with a
 * `ReadMark` item, which the engine writes once the people of the pages before it are recorded: a later read of the
 * post stops at the first page whose comments that read saw (comments are listed newest first).
 */
import { Chunk, Clock, Duration, Effect, Option, Stream } from "effect"
import * as Crypto from "node:crypto"
import type * as CampaignSpec from "../CampaignSpec.js"
import type * as Ledger from "../Ledger.js"
import * as Retry from "../Retry.js"
import type * as UploadPost from "../UploadPost.js"
import * as Errors from "../UploadPostError.js"
import { nextUtcDay } from "./DailyLimit.js"

/** How a read fails: a daily-limit answer is not among them, it pauses sends instead. */
export type ReadFailure = Exclude<Errors.ReadError, Errors.DailyLimitReached>

export type PostRef = CampaignSpec.PostId | CampaignSpec.PostUrl

/** One page of one post's comments. */
export interface Page {
  readonly _tag: "Page"
  readonly post: string
  readonly comments: ReadonlyArray<UploadPost.Comment>
}

/** A read reached the post's end (or the comments an earlier read saw): its mark, to write after its people. */
export interface Reached {
  readonly _tag: "Reached"
  readonly mark: Ledger.ReadMark
}

export type Item = Page | Reached

/** Comment ids a read mark keeps: two pages of the largest size, enough to recognise a page of old comments. */
const markSize = 100

export const postRef = (post: PostRef): UploadPost.PostRef =>
  post._tag === "PostId" ? { postId: post.id } : { postUrl: post.url }

export const postKey = (post: PostRef): string => post._tag === "PostId" ? post.id : post.url

/** What a read mark was made under: a mark made under other rules (e.g. other keywords) is not used. */
export const matchKeyOf = (spec: CampaignSpec.CampaignSpec): string =>
  Crypto.createHash("sha256").update(JSON.stringify([spec.platform, spec.user, spec.match])).digest("hex")

/** A list read answered with the daily limit: a rate limit until the next UTC day, so a watcher polls on later. */
const limitedRead = (limit: Errors.DailyLimitReached) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.fail(
      new Errors.RateLimited({
        endpoint: limit.endpoint,
        detail: limit.detail,
        retryAfter: Duration.millis(nextUtcDay(now).getTime() - now)
      })
    ))

export interface Reader {
  readonly api: UploadPost.UploadPost
  readonly spec: CampaignSpec.CampaignSpec
  readonly ledger: Ledger.Service
  readonly retry: Retry.RetryPolicy
  /** Tells of a problem once (a cursor cycle). */
  readonly report: (detail: string) => Effect.Effect<void>
  /** A read answered with the daily limit: the read ends there, and sends pause. */
  readonly limitReached: (detail: string) => Effect.Effect<void>
}

/**
 * What a `posts: recent` lookup answered with the daily limit does: in a run it ends that read like a comments read
 * (`cut`: no posts from it, sends pause, and the run ends at the daily limit); a watcher looks up again later
 * (`retryLater`: a rate limit until the next UTC day).
 */
export type LimitedLookup = "cut" | "retryLater"

/** The posts to read now: `posts: recent` is looked up through /uploadposts/media each time. */
export const resolvePosts = (
  reader: Reader,
  limited: LimitedLookup
): Effect.Effect<ReadonlyArray<PostRef>, ReadFailure> => {
  const { api, retry, spec } = reader
  return Effect.forEach(spec.posts, (post) =>
    post._tag === "Recent"
      ? Retry.retrying(api.media({ platform: spec.platform, user: spec.user, limit: post.count }), retry).pipe(
        Effect.map((media) => media.slice(0, post.count).map((item): PostRef => ({ _tag: "PostId", id: item.id }))),
        Effect.catchTag("DailyLimitReached", (limit) =>
          limited === "cut" ? Effect.as(reader.limitReached(limit.detail), []) : limitedRead(limit))
      )
      : Effect.succeed([post])).pipe(Effect.map((lists) => lists.flat()))
}

/**
 * Every comment of a post, page by page. A cursor that comes round again ends the post's read there: it is reported,
 * `onCutShort` is told, and the other posts go on; so does a daily-limit answer, which pauses sends.
 */
export const allPages = (
  reader: Reader,
  post: PostRef,
  onCutShort: () => void = () => {}
): Stream.Stream<Page, ReadFailure> => {
  const { api, spec } = reader
  const key = postKey(post)
  const cutShort = (then: Effect.Effect<void>) =>
    Stream.drain(Stream.fromEffect(Effect.zipRight(Effect.sync(onCutShort), then)))
  return api.comments({ platform: spec.platform, user: spec.user, post: postRef(post) }).pipe(
    Stream.chunks,
    Stream.map((chunk): Page => ({ _tag: "Page", post: key, comments: Chunk.toReadonlyArray(chunk) })),
    Stream.catchTags({
      CursorCycle: (cycle) => cutShort(reader.report(cycle.message)),
      DailyLimitReached: (limit) => cutShort(reader.limitReached(limit.detail))
    })
  )
}

/**
 * The pages of a post a run must read, then its read mark. A post read before under the same rules is read down to
 * the first page whose comments the earlier read saw (that page included, as a margin): everything below it was read
 * then and its people recorded. A read cut short leaves no mark.
 */
export const pagesToRead = (reader: Reader, post: PostRef): Stream.Stream<Item, ReadFailure | Ledger.LedgerError> =>
  Stream.unwrap(Effect.gen(function*() {
    const { ledger, spec } = reader
    const key = postKey(post)
    const matchKey = matchKeyOf(spec)
    const previous = Option.filter(yield* ledger.readMark(spec.name, key), (mark) => mark.matchKey === matchKey)
    const earlierIds = Option.match(previous, { onNone: () => [], onSome: (mark) => mark.newestIds })
    let cutShort = false
    const all = allPages(reader, post, () => (cutShort = true))
    const known = new Set(earlierIds)
    const pages = Option.isNone(previous)
      ? all
      : all.pipe(Stream.takeUntil((page) => page.comments.every((comment) => known.has(comment.id))))
    const newest: Array<string> = []
    const reached = Effect.map(Clock.currentTimeMillis, (now): Item => ({
      _tag: "Reached",
      mark: {
        campaign: spec.name,
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
      Stream.concat(Stream.unwrap(Effect.sync(() => cutShort ? Stream.empty : Stream.fromEffect(reached))))
    )
  }))

/** Writes a read mark: only once the people of the pages before it are recorded. */
export const markRead = (ledger: Ledger.Service, reached: Reached) => ledger.markRead(reached.mark)
