/**
 * The sandbox's state. Every method is synchronous, so each call is atomic with respect to other requests; the
 * HTTP layer and the control API wrap calls in `Effect.sync`.
 */
import { Either } from "effect"
import * as Control from "../Control.js"
import type * as DataSet from "../DataSet.js"
import type * as Delivery from "../Delivery.js"
import * as Faults from "../Faults.js"
import * as Generator from "./generator.js"
import * as Prng from "./prng.js"
import * as Time from "./time.js"

export interface StoredComment {
  readonly id: string
  readonly text: string
  readonly timestamp: number
  readonly user?: { readonly id?: string; readonly username?: string }
  readonly username?: string
}

type Base =
  | { readonly _tag: "Listed"; readonly comments: ReadonlyArray<StoredComment> }
  | { readonly _tag: "Generated"; readonly placement: Generator.Placement }

export interface Post {
  readonly index: number
  readonly id: string
  readonly url: string
  readonly platform: string
  readonly caption: string
  readonly timestamp: number
  readonly base: Base
  /** Comments added while running; they follow the base comments in sequence, so they list first. */
  readonly added: Array<StoredComment>
}

export interface ConversationMessage {
  readonly id: string
  readonly createdTime: number
  readonly text: string
  /** Written by the person to the account; otherwise sent by the account to the person. */
  readonly fromPerson?: boolean
}

export interface Conversation {
  readonly recipientId: string
  readonly username: string
  /** Oldest first. */
  readonly messages: Array<ConversationMessage>
  /** Order of the latest message among all conversations. */
  activity: number
}

export interface RequestWindow {
  readonly limit: number
  readonly remaining: number
  /** Unix seconds when the window ends. */
  readonly reset: number
  readonly retryAfterSeconds: number
  readonly exceeded: boolean
}

/** The account behind the profile, as `/me` and `GET /uploadposts/users/{profile}` tell it. */
export interface Account {
  /** Its platform user id (default: made from the profile name). */
  readonly userId?: string
  /** Its @name (default: the profile name). */
  readonly handle?: string
  /** The plan `/me` names (default "sandbox"). */
  readonly plan?: string
  /** false: the profile's answer does not tell the account's id and @name, as an API that keeps them (default true). */
  readonly told?: boolean
  /** The profile's answer says the account must be connected again. */
  readonly reauthRequired?: boolean
}

export interface Options {
  readonly profile: string
  readonly account?: Account
  readonly seed: number
  readonly data: DataSet.DataSet
  /** Sandbox time when it started; generated comments end here. */
  readonly startMillis: number
  readonly faults: Faults.FaultsPatch
}

const defaultSettings: Generator.Settings = {
  people: 1000,
  matchRatio: 0.4,
  flatUsernameShare: 0.05,
  missingUserShare: 0.02,
  missingUserIdShare: 0.01
}

const sevenDays = 7 * Time.dayMillis

/** Post URLs match whatever the scheme, "www.", query string or trailing slash. */
export const normaliseUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return parsed.host.toLowerCase().replace(/^www\./, "") + parsed.pathname.replace(/\/?$/, "/")
  } catch {
    return url
  }
}

/** A comment as the comments endpoint serves it. */
export const toWire = (comment: StoredComment): DataSet.Comment => ({
  id: comment.id,
  text: comment.text,
  timestamp: Time.formatInstagram(comment.timestamp),
  ...(comment.username === undefined ? {} : { username: comment.username }),
  ...(comment.user === undefined ? {} : { user: comment.user })
})

const storedComment = (comment: DataSet.Comment): StoredComment => ({
  id: comment.id,
  text: comment.text,
  timestamp: Time.parse(comment.timestamp) ?? 0,
  ...(comment.user === undefined ? {} : { user: comment.user }),
  ...(comment.username === undefined ? {} : { username: comment.username })
})

export class Store {
  readonly profile: string
  readonly profileAccountId: string
  /** The account's @name: its own comments and messages carry it. */
  readonly accountHandle: string
  readonly account: Account
  readonly seed: number
  readonly settings: Generator.Settings
  faults: Faults.Faults
  readonly deliveries: Array<Delivery.Delivery> = []

  private readonly posts: Array<Post> = []
  private readonly postsById = new Map<string, Post>()
  private readonly postsByUrl = new Map<string, Post>()
  private readonly listedComments = new Map<string, { readonly post: Post; readonly comment: StoredComment }>()
  private readonly usernames = new Map<string, string>()
  private readonly conversations = new Map<string, Conversation>()
  /** The commenters of listed posts, who wrote to the account (see `conversationList`), with their usernames. */
  private readonly writers = new Map<string, string | undefined>()
  /** When the commenters of listed posts wrote to the account (see `conversationList`). */
  private readonly startMillis: number
  private readonly privateReplies = new Set<string>()
  private readonly windows = new Map<string, { start: number; count: number }>()
  private readonly requestCounts = new Map<string, number>()
  private readonly responseCounts = new Map<string, number>()
  private daily: { day: number; count: number }
  private messages = 0
  private newComments = 0

  constructor(options: Options) {
    this.profile = options.profile
    this.account = options.account ?? {}
    this.profileAccountId = this.account.userId ??
      "178414" + String(Prng.hashString(options.profile)).padStart(11, "0")
    this.accountHandle = this.account.handle ?? options.profile
    this.seed = options.seed
    this.settings = options.data._tag === "Generated" ? options.data : defaultSettings
    this.daily = { day: Math.floor(options.startMillis / Time.dayMillis), count: 0 }
    this.startMillis = options.startMillis
    if (options.data._tag === "Listed") {
      for (const post of options.data.posts) {
        this.insertListed(post, options.startMillis)
      }
    } else {
      for (const post of options.data.posts) {
        const startMillis = options.startMillis - Math.round(post.ageDays * Time.dayMillis)
        this.insert({
          id: post.id,
          url: post.url,
          platform: post.platform,
          caption: post.caption,
          timestamp: startMillis,
          base: {
            _tag: "Generated",
            placement: {
              postIndex: this.posts.length,
              count: post.comments,
              startMillis,
              endMillis: options.startMillis
            }
          }
        })
      }
    }
    const closedWindows = options.data._tag === "Generated" ? options.data.closedWindows : 0
    this.faults = Faults.apply(
      { ...Faults.defaults, refusedRecipients: this.guideAskers(closedWindows) },
      options.faults
    )
  }

  // Posts and comments

  postIds(): ReadonlyArray<string> {
    return this.posts.map((post) => post.id)
  }

  /** Newest first. */
  postsNewestFirst(platform: string): ReadonlyArray<Post> {
    return this.posts
      .filter((post) => post.platform === platform)
      .sort((a, b) => b.timestamp - a.timestamp || b.index - a.index)
  }

  findPost(platform: string, query: { readonly id?: string; readonly url?: string }): Post | undefined {
    const post = query.id === undefined
      ? this.postsByUrl.get(normaliseUrl(query.url ?? ""))
      : this.postsById.get(query.id)
    return post?.platform === platform ? post : undefined
  }

  commentCount(post: Post): number {
    return this.baseCount(post) + post.added.length
  }

  /** Comment number `sequence` of a post, 0 being the oldest. */
  commentAt(post: Post, sequence: number): StoredComment | undefined {
    const baseCount = this.baseCount(post)
    if (sequence >= baseCount) return post.added[sequence - baseCount]
    return post.base._tag === "Listed"
      ? post.base.comments[sequence]
      : Generator.commentAt(this.settings, this.seed, post.base.placement, sequence)
  }

  findComment(id: string): { readonly post: Post; readonly comment: StoredComment } | undefined {
    const listed = this.listedComments.get(id)
    if (listed !== undefined) return listed
    const generated = Generator.parseCommentId(id)
    const post = generated === undefined ? undefined : this.posts[generated.postIndex]
    if (generated === undefined || post?.base._tag !== "Generated" || generated.index >= post.base.placement.count) {
      return undefined
    }
    return { post, comment: Generator.commentAt(this.settings, this.seed, post.base.placement, generated.index) }
  }

  addComment(
    input: Control.NewComment,
    now: number
  ): Either.Either<StoredComment, Control.PostNotFound | Control.CommentExists> {
    const post = this.postsById.get(input.postId)
    if (post === undefined) return Either.left(new Control.PostNotFound({ postId: input.postId }))
    const id = input.id ?? this.nextCommentId()
    if (this.findComment(id) !== undefined) return Either.left(new Control.CommentExists({ commentId: id }))
    const comment = storedComment({
      id,
      text: input.text,
      timestamp: input.timestamp ?? new Date(now).toISOString(),
      ...(input.byAccount === true
        ? { user: { id: this.profileAccountId, username: this.accountHandle } }
        : input.user === undefined
        ? {}
        : { user: input.user }),
      ...(input.username === undefined ? {} : { username: input.username })
    })
    post.added.push(comment)
    this.index(post, comment)
    return Either.right(comment)
  }

  addPost(input: Control.NewPost, now: number): Either.Either<Post, Control.PostExists | Control.CommentExists> {
    if (this.postsById.has(input.id)) return Either.left(new Control.PostExists({ postId: input.id }))
    const comments = input.comments ?? []
    const taken = comments.find((comment) => this.findComment(comment.id) !== undefined)
    if (taken !== undefined) return Either.left(new Control.CommentExists({ commentId: taken.id }))
    if (input.generatedComments === undefined) {
      return Either.right(this.insertListed({ ...input, comments }, now))
    }
    const timestamp = input.timestamp === undefined ? now - Time.dayMillis : Time.parse(input.timestamp) ?? now
    return Either.right(this.insert({
      id: input.id,
      url: input.url ?? `https://www.instagram.com/reel/${input.id}/`,
      platform: input.platform ?? "instagram",
      caption: input.caption ?? "",
      timestamp,
      base: {
        _tag: "Generated",
        placement: {
          postIndex: this.posts.length,
          count: input.generatedComments,
          startMillis: timestamp,
          endMillis: Math.max(timestamp, now)
        }
      }
    }))
  }

  // Sending

  dailyCount(now: number): number {
    const day = Math.floor(now / Time.dayMillis)
    if (day !== this.daily.day) this.daily = { day, count: 0 }
    return this.daily.count
  }

  dailyLimitReached(now: number): boolean {
    return this.dailyCount(now) >= this.faults.dailyDmLimit
  }

  resetDaily(): void {
    this.daily = { ...this.daily, count: 0 }
  }

  privateReplyRefusal(commentId: string, comment: StoredComment, now: number): string | undefined {
    if (this.privateReplies.has(commentId)) return "(#10900) Activity already replied to"
    if (now - comment.timestamp > sevenDays) return "(#10903) This comment is too old for a private reply"
    const recipientId = comment.user?.id
    if (recipientId === undefined || this.faults.unreachableRecipients.includes(recipientId)) {
      return "(#551) This person isn't available right now."
    }
    return undefined
  }

  deliver(
    delivery: {
      readonly kind: Delivery.Kind
      readonly recipientId: string
      readonly username?: string | undefined
      readonly commentId?: string
      readonly message: string
    },
    now: number,
    receivedAt: number
  ): Delivery.Delivery {
    const messageId = delivery.kind === "public_reply" ? this.nextCommentId() : this.nextMessageId()
    this.dailyCount(now)
    this.daily.count += 1
    if (delivery.kind === "private_reply" && delivery.commentId !== undefined) {
      this.privateReplies.add(delivery.commentId)
    }
    if (delivery.kind !== "public_reply") {
      this.converse(delivery.recipientId, delivery.username, {
        id: messageId,
        createdTime: now,
        text: delivery.message
      })
    }
    const record: Delivery.Delivery = {
      kind: delivery.kind,
      recipientId: delivery.recipientId,
      ...(delivery.commentId === undefined ? {} : { commentId: delivery.commentId }),
      message: delivery.message,
      messageId,
      at: new Date(now).toISOString(),
      receivedAt: new Date(receivedAt).toISOString()
    }
    this.deliveries.push(record)
    return record
  }

  /**
   * Most recent first. The sandbox takes every commenter of a listed post as someone who wrote to the account, which is
   * what opens the messaging window: an hour before the sandbox started, or two days before for refused recipients,
   * whose window is closed. Each one's conversation lists that message, also when the account never wrote back.
   * Generated posts have too many commenters for that; their conversations hold only what was sent.
   */
  conversationList(): ReadonlyArray<Conversation> {
    const silent: Array<Conversation> = []
    for (const [recipientId, username] of this.writers) {
      if (this.conversations.has(recipientId)) continue
      silent.push({ recipientId, username: username ?? "unknown", messages: [this.wrote(recipientId)], activity: 0 })
    }
    return [...this.conversations.values()].sort((a, b) => b.activity - a.activity).concat(silent)
  }

  // Requests

  /** Counts a request against the key's fixed window and reports the window. */
  takeRequest(key: string, now: number): RequestWindow {
    const { requests, windowSeconds } = this.faults.requestLimit
    const windowMillis = windowSeconds * 1000
    const start = Math.floor(now / windowMillis) * windowMillis
    const current = this.windows.get(key)
    const window = current !== undefined && current.start === start ? current : { start, count: 0 }
    window.count += 1
    this.windows.set(key, window)
    const end = start + windowMillis
    return {
      limit: requests,
      remaining: Math.max(0, requests - window.count),
      reset: Math.ceil(end / 1000),
      retryAfterSeconds: Math.max(1, Math.ceil((end - now) / 1000)),
      exceeded: window.count > requests
    }
  }

  countRequest(endpoint: string): void {
    this.requestCounts.set(endpoint, (this.requestCounts.get(endpoint) ?? 0) + 1)
  }

  countResponse(status: string): void {
    this.responseCounts.set(status, (this.responseCounts.get(status) ?? 0) + 1)
  }

  stats(now: number): Control.Stats {
    return {
      requests: Object.fromEntries(this.requestCounts),
      responses: Object.fromEntries(this.responseCounts),
      deliveries: this.deliveries.length,
      dailyCount: this.dailyCount(now)
    }
  }

  usernameOf(userId: string): string | undefined {
    const known = this.usernames.get(userId)
    if (known !== undefined) return known
    const person = Generator.parsePersonId(userId)
    const generated = this.posts.some((post) => post.base._tag === "Generated")
    return person === undefined || !generated ? undefined : Generator.personUsername(this.seed, person)
  }

  // Internals

  private baseCount(post: Post): number {
    return post.base._tag === "Listed" ? post.base.comments.length : post.base.placement.count
  }

  private insert(post: Omit<Post, "index" | "added">): Post {
    const stored: Post = { ...post, index: this.posts.length, added: [] }
    this.posts.push(stored)
    this.postsById.set(stored.id, stored)
    this.postsByUrl.set(normaliseUrl(stored.url), stored)
    return stored
  }

  private insertListed(post: DataSet.Post, now: number): Post {
    const comments = post.comments.map(storedComment).sort((a, b) => a.timestamp - b.timestamp)
    const firstComment = comments[0]?.timestamp
    const timestamp = post.timestamp === undefined
      ? (firstComment ?? now) - 60 * 60 * 1000
      : Time.parse(post.timestamp) ?? now
    const stored = this.insert({
      id: post.id,
      url: post.url ?? `https://www.instagram.com/reel/${post.id}/`,
      platform: post.platform ?? "instagram",
      caption: post.caption ?? "",
      timestamp,
      base: { _tag: "Listed", comments }
    })
    for (const comment of comments) {
      this.index(stored, comment)
    }
    return stored
  }

  private index(post: Post, comment: StoredComment): void {
    this.listedComments.set(comment.id, { post, comment })
    const username = comment.user?.username ?? comment.username
    if (comment.user?.id !== undefined && username !== undefined) {
      this.usernames.set(comment.user.id, username)
    }
    if (comment.user?.id !== undefined && !this.writers.has(comment.user.id)) {
      this.writers.set(comment.user.id, username)
    }
  }

  /** The message a commenter of a listed post wrote to the account (see `conversationList`). */
  private wrote(recipientId: string): ConversationMessage {
    const id = Buffer.from(`ig_message:${recipientId}:wrote`).toString("base64url")
    const ago = this.faults.refusedRecipients.includes(recipientId) ? 2 * Time.dayMillis : 60 * 60 * 1000
    return { id, createdTime: this.startMillis - ago, text: "Hi! Could you send me the guide?", fromPerson: true }
  }

  /** The first `count` distinct people who asked for the guide on the first post, newest first. */
  private guideAskers(count: number): ReadonlyArray<string> {
    const post = this.posts[0]
    if (count === 0 || post?.base._tag !== "Generated") return []
    const people = new Set<string>()
    for (let sequence = post.base.placement.count - 1; sequence >= 0 && people.size < count; sequence--) {
      const comment = Generator.commentAt(this.settings, this.seed, post.base.placement, sequence)
      if (comment.asksForGuide && comment.user?.id !== undefined) people.add(comment.user.id)
    }
    return [...people]
  }

  private converse(recipientId: string, username: string | undefined, message: ConversationMessage): void {
    const conversation = this.conversations.get(recipientId) ?? {
      recipientId,
      username: username ?? this.usernameOf(recipientId) ?? "unknown",
      messages: this.writers.has(recipientId) ? [this.wrote(recipientId)] : [],
      activity: 0
    }
    conversation.messages.push(message)
    conversation.activity = this.messages
    this.conversations.set(recipientId, conversation)
  }

  private nextMessageId(): string {
    this.messages += 1
    return Buffer.from(`ig_message:${this.profileAccountId}:${this.messages}`).toString("base64url")
  }

  private nextCommentId(): string {
    this.newComments += 1
    return "19" + String(this.newComments).padStart(15, "0")
  }
}
