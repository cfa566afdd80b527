/**
 * What the sandbox serves: posts and their comments, either listed comment by comment (a JSON file) or generated
 * lazily from a seed.
 */
import { FileSystem } from "@effect/platform"
import { Data, Effect, ParseResult, Schema } from "effect"
import * as Time from "./internal/time.js"

/** Any ISO-8601 date, e.g. Instagram's "2026-03-28T10:15:00+0000". */
export const Timestamp = Schema.String.pipe(
  Schema.filter((text) => Time.parse(text) !== undefined, {
    message: () => "expected an ISO-8601 date such as 2026-03-28T10:15:00+0000"
  })
)

export const CommentUser = Schema.Struct({
  id: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  username: Schema.optionalWith(Schema.String, { exact: true })
})

/** A comment as the comments endpoint serves it; `username` on the comment is the older flat form. */
export const Comment = Schema.Struct({
  id: Schema.NonEmptyString,
  text: Schema.String,
  timestamp: Timestamp,
  user: Schema.optionalWith(CommentUser, { exact: true }),
  username: Schema.optionalWith(Schema.String, { exact: true })
})
export type Comment = typeof Comment.Type

export const Post = Schema.Struct({
  id: Schema.NonEmptyString,
  url: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  platform: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  caption: Schema.optionalWith(Schema.String, { exact: true }),
  timestamp: Schema.optionalWith(Timestamp, { exact: true }),
  comments: Schema.Array(Comment)
})
export type Post = typeof Post.Type

/**
 * The Instagram account behind the profile: its user id (comments whose `user.id` is this id are the account's own)
 * and its @handle.
 */
export const Account = Schema.Struct({
  id: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  handle: Schema.optionalWith(Schema.NonEmptyString, { exact: true })
})
export type Account = typeof Account.Type

/** A message a person wrote to the account before the sandbox started (what opens the 24-hour messaging window). */
export const Message = Schema.Struct({
  from: Schema.NonEmptyString,
  text: Schema.String,
  timestamp: Timestamp
})
export type Message = typeof Message.Type

/** The JSON data set file: `{ "profile"?, "account"?, "messages"?, "posts": [...] }`. */
export const DataSetJson = Schema.Struct({
  profile: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  account: Schema.optionalWith(Account, { exact: true }),
  /** When present, exactly these people wrote to the account; when absent, a seeded share of the commenters did. */
  messages: Schema.optionalWith(Schema.Array(Message), { exact: true }),
  posts: Schema.Array(Post)
})
export type DataSetJson = typeof DataSetJson.Type

/** Posts whose comments are all listed. */
export interface Listed {
  readonly _tag: "Listed"
  readonly profile?: string
  readonly account?: Account
  /**
   * The messages people wrote to the account before the start. When absent, about 15% of the commenters (chosen by
   * the seed) wrote within the 24 hours before the start and about 10% earlier; the others never did.
   */
  readonly messages?: ReadonlyArray<Message>
  readonly posts: ReadonlyArray<Post>
}

export interface GeneratedPost {
  readonly id: string
  readonly url: string
  readonly platform: string
  readonly caption: string
  /** Number of comments; comment i is computed on demand. */
  readonly comments: number
  /** When the post went up, in days before the sandbox started; its comments spread from then until the start. */
  readonly ageDays: number
}

/** Posts whose comments are computed from the seed on demand. */
export interface Generated {
  readonly _tag: "Generated"
  readonly profile?: string
  readonly account?: Account
  readonly posts: ReadonlyArray<GeneratedPost>
  /** Size of the commenter pool; people comment again, on the same post and across posts. */
  readonly people: number
  /** Share of comments that ask for the guide ("GUIDE please", "guíde🔥", "ＧＵＩＤＥ", ...). */
  readonly matchRatio: number
  /** Share of comments in the older flat form (`username` on the comment, `user: {id}` only). */
  readonly flatUsernameShare: number
  /** Share of comments without `user` (deleted accounts). */
  readonly missingUserShare: number
  /** Share of comments whose `user` lacks an id. */
  readonly missingUserIdShare: number
  /**
   * How many people who asked for the guide on the first post have a closed messaging window unless the
   * sandbox is given its own refused recipients, so a rehearsal shows refusals.
   */
  readonly closedWindows: number
  /** Share of people who wrote to the account within the 24 hours before the start (their messaging window is open). */
  readonly recentMessageShare: number
  /** Share of people who wrote to the account earlier, 2 to 60 days before the start (window closed). */
  readonly oldMessageShare: number
  /** Share of comments written by the account itself (some of them ask for the guide, as a creator's prompt does). */
  readonly ownCommentShare: number
}

export type DataSet = Listed | Generated

/** A data set, or a sandbox configuration file (`what`), that cannot be served. */
export class DataSetError extends Data.TaggedError("DataSetError")<{
  readonly source: string
  readonly reason: string
  readonly what?: string
}> {
  override get message(): string {
    return `The ${this.what ?? "data set"} ${this.source} is not usable: ${this.reason}. ` +
      "See packages/sandbox/README.md for the format."
  }
}

/** The id of generated post `index` (0-based): "17900000000000001", "17900000000000002", ... */
export const postId = (index: number): string => "179" + String(index + 1).padStart(14, "0")

const shortcodeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

/** A reel URL with an Instagram-like 11-character shortcode derived from the post id. */
export const reelUrl = (id: string): string => {
  let shortcode = "C"
  let value = BigInt(id.replace(/\D/g, "") || "0") * 2654435761n
  while (shortcode.length < 11) {
    shortcode += shortcodeAlphabet[Number(value % 64n)]
    value = value / 64n + 7n
  }
  return `https://www.instagram.com/reel/${shortcode}/`
}

export interface GenerateOptions {
  /** Comments per post. */
  readonly comments: number
  /** Number of posts (default 1), ids from `postId(firstPost)` on. */
  readonly posts?: number
  /** Index of the first post's id (default 0), so that several generated profiles have distinct post ids. */
  readonly firstPost?: number
  /** Size of the commenter pool (default: half the comments, at least 1). */
  readonly people?: number
  readonly matchRatio?: number
  readonly flatUsernameShare?: number
  readonly missingUserShare?: number
  readonly missingUserIdShare?: number
  /** Age of the oldest post in days (default 10, so some comments are older than 7 days). */
  readonly spanDays?: number
  readonly closedWindows?: number
  /** Default 0.15: people whose window is open at the start. */
  readonly recentMessageShare?: number
  /** Default 0.1: people who wrote earlier, window closed. */
  readonly oldMessageShare?: number
  /** Default 0: comments by the account itself. */
  readonly ownCommentShare?: number
  readonly profile?: string
  readonly account?: Account
}

/** The shares of people who wrote to the account, recently and long ago, unless a data set says otherwise. */
export const defaultRecentMessageShare = 0.15
export const defaultOldMessageShare = 0.1

/** Generated posts; the newest post is the last, each post `spanDays / posts` days younger than the one before. */
export const generate = (options: GenerateOptions): Generated => {
  const count = Math.max(1, options.posts ?? 1)
  const spanDays = options.spanDays ?? 10
  const posts = Array.from({ length: count }, (_, index): GeneratedPost => {
    const id = postId((options.firstPost ?? 0) + index)
    return {
      id,
      url: reelUrl(id),
      platform: "instagram",
      caption: `Comment GUIDE and I'll send you the guide (part ${index + 1})`,
      comments: options.comments,
      ageDays: (spanDays * (count - index)) / count
    }
  })
  return {
    _tag: "Generated",
    ...(options.profile === undefined ? {} : { profile: options.profile }),
    ...(options.account === undefined ? {} : { account: options.account }),
    posts,
    people: Math.max(1, options.people ?? Math.ceil((options.comments * count) / 2)),
    matchRatio: options.matchRatio ?? 0.4,
    flatUsernameShare: options.flatUsernameShare ?? 0.05,
    missingUserShare: options.missingUserShare ?? 0.02,
    missingUserIdShare: options.missingUserIdShare ?? 0.01,
    closedWindows: options.closedWindows ?? 0,
    recentMessageShare: options.recentMessageShare ?? defaultRecentMessageShare,
    oldMessageShare: options.oldMessageShare ?? defaultOldMessageShare,
    ownCommentShare: options.ownCommentShare ?? 0
  }
}

/**
 * The default data set: three reels with fixed ids 17900000000000001..3, 330 generated comments from 180 people (a
 * few of them by the account itself), about 15% of the people with an open messaging window, and two people asking
 * for the guide whose window is closed whatever they wrote.
 */
export const demo: Generated = {
  _tag: "Generated",
  profile: "demo",
  posts: [
    { comments: 160, ageDays: 10, caption: "My spring routine. Comment GUIDE for the free guide 📘" },
    { comments: 110, ageDays: 5, caption: "Three mistakes everyone makes. Comment GUIDE for the checklist" },
    { comments: 60, ageDays: 1, caption: "Behind the scenes 🎬" }
  ].map((post, index) => {
    const id = postId(index)
    return { id, url: reelUrl(id), platform: "instagram", ...post }
  }),
  people: 180,
  matchRatio: 0.45,
  flatUsernameShare: 0.06,
  missingUserShare: 0.03,
  missingUserIdShare: 0.02,
  closedWindows: 2,
  recentMessageShare: defaultRecentMessageShare,
  oldMessageShare: defaultOldMessageShare,
  ownCommentShare: 0.02
}

const findDuplicate = (ids: ReadonlyArray<string>): string | undefined => {
  const seen = new Set<string>()
  for (const id of ids) {
    if (seen.has(id)) return id
    seen.add(id)
  }
  return undefined
}

const duplicateReason = (json: DataSetJson): string | undefined => {
  const post = findDuplicate(json.posts.map((post) => post.id))
  if (post !== undefined) return `post id ${post} appears twice`
  const comment = findDuplicate(json.posts.flatMap((post) => post.comments.map((comment) => comment.id)))
  return comment === undefined ? undefined : `comment id ${comment} appears twice`
}

/** Checks a parsed JSON value against the data set format; unknown keys are rejected. */
export const fromJson = (input: unknown, source = "input"): Effect.Effect<Listed, DataSetError> =>
  Schema.decodeUnknown(DataSetJson, { onExcessProperty: "error", errors: "all" })(input).pipe(
    Effect.mapError((error) => new DataSetError({ source, reason: ParseResult.TreeFormatter.formatErrorSync(error) })),
    Effect.flatMap((json) => {
      const reason = duplicateReason(json)
      return reason === undefined
        ? Effect.succeed<Listed>({ _tag: "Listed", ...json })
        : Effect.fail(new DataSetError({ source, reason }))
    })
  )

/** Reads and checks a JSON data set file. */
export const load = (path: string): Effect.Effect<Listed, DataSetError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((error) => new DataSetError({ source: path, reason: error.message }))
    )
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (error) => new DataSetError({ source: path, reason: `not JSON (${String(error)})` })
    })
    return yield* fromJson(json, path)
  })
