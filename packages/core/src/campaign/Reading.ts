/**
 * Reading: the posts of a campaign, and their comments page by page. A read of a post ends with a `Reached` item
 * carrying its read mark, which the engine writes once the people of the pages before it are recorded; a later read
 * of the post, by a run or a watcher's poll, stops at the first page that holds nothing new since that mark (comments
 * are listed newest first). This is the one way both resume.
 */
import { Chunk, Clock, Duration, Effect, Option, Ref, Stream } from "effect"
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

export const postRef = (post: PostRef): UploadPost.PostRef =>
  post._tag === "PostId" ? { postId: post.id } : { postUrl: post.url }

export const postKey = (post: PostRef): string => post._tag === "PostId" ? post.id : post.url

/**
 * What a read mark was made under: a mark made under other rules (other keywords, another `since`) is not used. A
 * campaign without `since` keeps the key it had before `since` existed.
 */
export const matchKeyOf = (spec: CampaignSpec.CampaignSpec): string =>
  Crypto.createHash("sha256").update(
    JSON.stringify([spec.platform, spec.user, spec.match, ...(spec.since === undefined ? [] : [spec.since])])
  ).digest("hex")

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
 * `cutShort` runs, and the other posts go on; so does a daily-limit answer, which pauses sends.
 */
export const allPages = (
  reader: Reader,
  post: PostRef,
  cutShort: Effect.Effect<void> = Effect.void
): Stream.Stream<Page, ReadFailure> => {
  const { api, spec } = reader
  const key = postKey(post)
  const endRead = (then: Effect.Effect<void>) => Stream.drain(Stream.fromEffect(Effect.zipRight(cutShort, then)))
  return api.comments({ platform: spec.platform, user: spec.user, post: postRef(post) }).pipe(
    Stream.chunks,
    Stream.map((chunk): Page => ({ _tag: "Page", post: key, comments: Chunk.toReadonlyArray(chunk) })),
    Stream.catchTags({
      CursorCycle: (cycle) => endRead(reader.report(cycle.message)),
      DailyLimitReached: (limit) => endRead(reader.limitReached(limit.detail))
    })
  )
}

/**
 * Where a read stands against the ids an earlier read saw: the place of the next comment in the list, and the place
 * of the first comment seen before, once one is met.
 */
interface Position {
  readonly place: number
  readonly firstKnownAt: number | undefined
}

const start: Position = { place: 0, firstKnownAt: undefined }

/**
 * Whether a page holds a comment the earlier read did not see, and how many. The earlier ids are the post's newest
 * comments as a run of consecutive ones, so from the first of them met on, they cover the next `known.size` places of
 * the list; a comment below that run was listed below it then, and is old even when the mark does not hold it. An
 * unknown comment inside the run is new (it came in out of order).
 */
export const scanPage = (
  known: ReadonlySet<string>,
  position: Position,
  comments: ReadonlyArray<{ readonly id: string }>
): readonly [Position, boolean, number] => {
  let { firstKnownAt, place } = position
  let fresh = 0
  for (const comment of comments) {
    const at = place++
    if (known.has(comment.id)) firstKnownAt ??= at
    else if (firstKnownAt === undefined || at < firstKnownAt + known.size) fresh++
  }
  return [{ place, firstKnownAt }, fresh > 0, fresh]
}

/**
 * The read marks of one campaign's posts, as the engine resumes from them: read from the ledger at a post's first
 * read in this process, then kept, and written once the people of the pages before a `Reached` are recorded (not
 * when a read found nothing new). A mark made under other match rules is not used.
 */
export class Marks {
  private readonly marks = new Map<string, Option.Option<Ledger.ReadMark>>()
  private readonly matchKey: string
  constructor(
    private readonly reader: Pick<Reader, "ledger" | "spec">,
    /** Comment ids a mark keeps: enough to recognise a page of old comments among newer ones. */
    readonly size: number
  ) {
    this.matchKey = matchKeyOf(reader.spec)
  }

  earlier(post: string): Effect.Effect<Option.Option<Ledger.ReadMark>, Ledger.LedgerError> {
    const known = this.marks.get(post)
    if (known !== undefined) return Effect.succeed(known)
    return Effect.map(this.reader.ledger.readMark(this.reader.spec.name, post), (stored) => {
      const usable = Option.filter(stored, (mark) => mark.matchKey === this.matchKey)
      this.marks.set(post, usable)
      return usable
    })
  }

  write(reached: Reached): Effect.Effect<void, Ledger.LedgerError> {
    const { mark } = reached
    const before = Option.getOrUndefined(this.marks.get(mark.post) ?? Option.none())
    if (before !== undefined && sameIds(before.newestIds, mark.newestIds) && before.comments === mark.comments) {
      return Effect.void
    }
    return Effect.zipRight(
      this.reader.ledger.markRead(mark),
      Effect.sync(() => this.marks.set(mark.post, Option.some(mark)))
    )
  }

  /** Forgets the posts no longer followed (`posts: recent` moved on). */
  keepOnly(posts: ReadonlyArray<PostRef>): void {
    const followed = new Set(posts.map(postKey))
    for (const key of this.marks.keys()) if (!followed.has(key)) this.marks.delete(key)
  }
}

const sameIds = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && a.every((id, index) => id === b[index])

/**
 * Reads one post once, as a run and every poll of a watcher do: down to the first page that holds nothing new since
 * the post's read mark (every page when it has none), then a `Reached` with the new mark: the ids of this read's
 * newest comments, then the earlier ones. A read cut short leaves no mark. `countPage` hears every page requested.
 */
export const newPages = (
  reader: Reader,
  marks: Marks,
  post: PostRef,
  countPage: Effect.Effect<void> = Effect.void
): Stream.Stream<Item, ReadFailure | Ledger.LedgerError> =>
  Stream.unwrap(Effect.gen(function*() {
    const key = postKey(post)
    const earlier = Option.getOrUndefined(yield* marks.earlier(key))
    const earlierIds = earlier?.newestIds ?? []
    const known = new Set(earlierIds)
    const firstRead = known.size === 0
    const cutShort = yield* Ref.make(false)
    const readIds = yield* Ref.make<ReadonlyArray<string>>([])
    // The comments this read saw first, added to the earlier reads' (unknown when the earlier mark did not count).
    const comments = yield* Ref.make(earlier === undefined ? 0 : earlier.comments)
    const pages = allPages(reader, post, Ref.set(cutShort, true)).pipe(
      Stream.tap(() => countPage),
      Stream.mapAccum(start, (position, page) => {
        const [next, news, fresh] = scanPage(known, position, page.comments)
        return [next, { page, news, fresh }] as const
      }),
      Stream.takeWhile(({ news }) => firstRead || news),
      Stream.tap(({ fresh }) => Ref.update(comments, (n) => n === undefined ? undefined : n + fresh)),
      Stream.map(({ page }) => page),
      Stream.tap((page) =>
        Ref.update(readIds, (ids) =>
          ids.length >= marks.size ? ids : ids.concat(page.comments.map((comment) =>
            comment.id
          )).slice(0, marks.size))
      )
    )
    const reached = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const newest = yield* Ref.get(readIds)
      const item: Item = {
        _tag: "Reached",
        mark: {
          campaign: reader.spec.name,
          post: key,
          newestIds: Array.from(new Set([...newest, ...earlierIds])).slice(0, marks.size),
          matchKey: matchKeyOf(reader.spec),
          readAt: new Date(now),
          comments: yield* Ref.get(comments)
        }
      }
      return item
    })
    return pages.pipe(
      Stream.concat(Stream.unwrap(Effect.map(Ref.get(cutShort), (cut) =>
        cut ? Stream.empty : Stream.fromEffect(reached))))
    )
  }))
