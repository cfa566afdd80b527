/**
 * The sandbox's state. Every method is synchronous, so each call is atomic with respect to other requests; the
 * HTTP layer and the control API wrap calls in `Effect.sync`.
 */
import { Either } from "effect"
import * as Control from "../Control.js"
import * as DataSet from "../DataSet.js"
import type * as Delivery from "../Delivery.js"
import * as Faults from "../Faults.js"
import * as Generator from "./generator.js"
import * as Inbound from "./inbound.js"
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

/**
 * How the messaging window is modelled: `faithful` (each person's last message to the account, from the data set or the
 * seed, opens a 24-hour window) or `open` (every person wrote an hour before the start and the window never closes).
 */
export type Windows = "faithful" | "open"

/** The account behind the profile as a sandbox option: what `/me` and `GET /uploadposts/users/{profile}` tell. */
export interface Account {
  /** Its platform user id (default: the data set's, else made from the profile name). */
  readonly userId?: string
  /** Its @name (default: the data set's, else the profile name). */
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
  readonly windows: Windows
  readonly account?: Account
  readonly seed: number
  readonly data: DataSet.DataSet
  /** Sandbox time when it started; generated comments end here. */
  readonly startMillis: number
  readonly faults: Faults.FaultsPatch
  /** What the profiles of one sandbox share; a store of its own by default. */
  readonly shared?: Shared
}

/**
 * What the profiles of one sandbox share: deliveries in the order they happened, and counters that keep comment ids
 * (added, public replies) and generated posts' positions (part of their comment ids) unique across profiles.
 */
export interface Shared {
  readonly deliveries: Array<Delivery.Delivery>
  readonly counters: { comments: number; posts: number }
  /** Several profiles: each delivery names its profile. */
  readonly tagDeliveries: boolean
}

export const makeShared = (tagDeliveries: boolean): Shared => ({
  deliveries: [],
  counters: { comments: 0, posts: 0 },
  tagDeliveries
})

const defaultSettings: Generator.Settings = {
  people: 1000,
  matchRatio: 0.4,
  flatUsernameShare: 0.05,
  missingUserShare: 0.02,
  missingUserIdShare: 0.01,
  ownCommentShare: 0
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
  /** The Instagram account behind the profile: the other side of every conversation, the author of own comments. */
  readonly account: Generator.Account
  readonly windows: Windows
  /** What the profile's answers tell of the account (the sandbox's `account` option). */
  readonly accountAnswers: Account
  readonly seed: number
  readonly settings: Generator.Settings
  private readonly inboundShares: Inbound.Shares
  /** The data set's messages to the account by person, when it lists them (then nobody else wrote). */
  private readonly listedMessages: Map<string, Array<ConversationMessage>> | undefined
  /** When people last wrote to the account while the sandbox ran (the control's `personWrites`). */
  private readonly written = new Map<string, number>()
  /** The ids of the generated people who wrote before the start; computed on the first conversations read. */
  private seededPool: { readonly people: Int32Array; readonly times: Float64Array } | undefined
  faults: Faults.Faults
  readonly deliveries: Array<Delivery.Delivery>
  private readonly shared: Shared

  private readonly posts: Array<Post> = []
  private readonly postsById = new Map<string, Post>()
  private readonly postsByUrl = new Map<string, Post>()
  /** Generated posts by their position among every profile's posts (the one in their comment ids). */
  private readonly postsByPlacement = new Map<number, Post>()
  private readonly listedComments = new Map<string, { readonly post: Post; readonly comment: StoredComment }>()
  private readonly usernames = new Map<string, string>()
  private readonly conversations = new Map<string, Conversation>()
  /** The commenters of listed posts, with their usernames (see `seededMessages`). */
  private readonly writers = new Map<string, string | undefined>()
  /** Sandbox time at the start: seeded messages to the account are dated before it. */
  readonly startMillis: number
  private readonly privateReplies = new Set<string>()
  private daily: { day: number; count: number }
  private messages = 0
  /** Deliveries of this profile (the shared list holds every profile's). */
  private delivered = 0

  constructor(options: Options) {
    this.profile = options.profile
    this.shared = options.shared ?? makeShared(false)
    this.deliveries = this.shared.deliveries
    this.accountAnswers = options.account ?? {}
    this.account = {
      id: options.account?.userId ?? options.data.account?.id ??
        "178414" + String(Prng.hashString(options.profile)).padStart(11, "0"),
      handle: options.account?.handle ?? options.data.account?.handle ?? options.profile
    }
    this.windows = options.windows
    this.seed = options.seed
    this.settings = options.data._tag === "Generated" ? options.data : defaultSettings
    this.inboundShares = options.data._tag === "Generated"
      ? { recent: options.data.recentMessageShare, old: options.data.oldMessageShare }
      : { recent: DataSet.defaultRecentMessageShare, old: DataSet.defaultOldMessageShare }
    this.listedMessages = options.data._tag === "Listed" && options.data.messages !== undefined
      ? this.groupMessages(options.data.messages)
      : undefined
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
              postIndex: this.shared.counters.posts++,
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

  hasPost(id: string): boolean {
    return this.postsById.has(id)
  }

  /** The platforms the posts are on. */
  platforms(): ReadonlySet<string> {
    return new Set(this.posts.map((post) => post.platform))
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
      : Generator.commentAt(this.settings, this.seed, post.base.placement, sequence, this.account)
  }

  findComment(id: string): { readonly post: Post; readonly comment: StoredComment } | undefined {
    const listed = this.listedComments.get(id)
    if (listed !== undefined) return listed
    const generated = Generator.parseCommentId(id)
    const post = generated === undefined ? undefined : this.postsByPlacement.get(generated.postIndex)
    if (generated === undefined || post?.base._tag !== "Generated" || generated.index >= post.base.placement.count) {
      return undefined
    }
    return {
      post,
      comment: Generator.commentAt(this.settings, this.seed, post.base.placement, generated.index, this.account)
    }
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
        ? { user: { id: this.account.id, username: this.account.handle } }
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
    // The generated pool may be new: the people who wrote before the start are counted again on the next read.
    this.seededPool = undefined
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
          postIndex: this.shared.counters.posts++,
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
      readonly buttons?: ReadonlyArray<Delivery.Button>
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
      ...(this.shared.tagDeliveries ? { profile: this.profile } : {}),
      kind: delivery.kind,
      recipientId: delivery.recipientId,
      ...(delivery.commentId === undefined ? {} : { commentId: delivery.commentId }),
      message: delivery.message,
      ...(delivery.buttons === undefined ? {} : { buttons: delivery.buttons }),
      messageId,
      at: new Date(now).toISOString(),
      receivedAt: new Date(receivedAt).toISOString()
    }
    this.deliveries.push(record)
    this.delivered += 1
    return record
  }

  // The messaging window

  /**
   * Whether `/dms/send` may reach the person now: never for refused recipients; always with open windows; otherwise
   * when the person's last message to the account is less than 24 hours old.
   */
  windowOpen(recipientId: string, now: number): boolean {
    if (this.faults.refusedRecipients.includes(recipientId)) return false
    if (this.windows === "open") return true
    const last = this.lastInbound(recipientId)
    return last !== undefined && now - last < Time.dayMillis
  }

  /** A person writes to the account (the control's `personWrites`): it opens their window and shows in their conversation. */
  personWrites(input: Control.NewMessage, now: number): Control.Message {
    const createdTime = input.timestamp === undefined ? now : Time.parse(input.timestamp) ?? now
    const message: ConversationMessage = { id: this.nextMessageId(), createdTime, text: input.text, fromPerson: true }
    const conversation = this.converse(input.userId, input.username, message)
    this.written.set(input.userId, Math.max(createdTime, this.written.get(input.userId) ?? createdTime))
    return {
      id: message.id,
      userId: input.userId,
      username: conversation.username,
      text: input.text,
      timestamp: Time.formatInstagram(createdTime)
    }
  }

  /**
   * Newest conversation first (by its latest message). Listed: everyone messaged or who wrote while the sandbox ran,
   * and the people who wrote before the start: the data set's `messages`, else the commenters of listed posts with a
   * seeded message and, with faithful windows, generated people with one. With open windows every commenter of a listed
   * post wrote an hour before the start; generated people are then listed only once messaged (there are too many).
   */
  conversationList(limit = Number.POSITIVE_INFINITY): ReadonlyArray<Conversation> {
    const refused = new Set(this.faults.refusedRecipients)
    const listed = new Set<string>([
      ...this.writers.keys(),
      ...(this.listedMessages?.keys() ?? []),
      ...[...refused].filter((recipientId) => this.isKnown(recipientId))
    ])
    const silent: Array<Conversation> = []
    for (const recipientId of listed) {
      if (this.conversations.has(recipientId)) continue
      const messages = this.seededMessages(recipientId)
      if (messages.length === 0) continue
      const username = this.writers.get(recipientId) ?? this.usernameOf(recipientId) ?? "unknown"
      silent.push({ recipientId, username, messages, activity: 0 })
    }
    const latest = (conversation: Conversation) =>
      conversation.messages.reduce((max, message) => Math.max(max, message.createdTime), Number.NEGATIVE_INFINITY)
    const head = [...this.conversations.values()].concat(silent)
      .map((conversation) => ({ conversation, latest: latest(conversation) }))
      .sort((a, b) => b.latest - a.latest || b.conversation.activity - a.conversation.activity)
    // The generated people who wrote before the start, newest first, merged in without building the ones not listed.
    const pool = this.windows === "faithful" ? this.generatedWriters() : { people: [], times: [] }
    const out: Array<Conversation> = []
    let next = 0
    let fromPool = 0
    while (out.length < limit && (next < head.length || fromPool < pool.people.length)) {
      const person = pool.people[fromPool]
      const time = pool.times[fromPool] ?? Number.NEGATIVE_INFINITY
      const candidate = head[next]
      if (candidate !== undefined && (person === undefined || candidate.latest >= time)) {
        out.push(candidate.conversation)
        next += 1
        continue
      }
      fromPool += 1
      const recipientId = Generator.personId(person ?? 0)
      if (this.conversations.has(recipientId) || listed.has(recipientId)) continue
      const messages = this.seededMessages(recipientId)
      if (messages.length > 0) {
        out.push({ recipientId, username: this.usernameOf(recipientId) ?? "unknown", messages, activity: 0 })
      }
    }
    return out.map((conversation) => ({
      ...conversation,
      messages: [...conversation.messages].sort((a, b) => a.createdTime - b.createdTime)
    }))
  }

  stats(now: number): { readonly deliveries: number; readonly dailyCount: number } {
    return {
      deliveries: this.delivered,
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
    if (stored.base._tag === "Generated") this.postsByPlacement.set(stored.base.placement.postIndex, stored)
    return stored
  }

  private insertListed(post: DataSet.Post, now: number): Post {
    const comments = post.comments.map(storedComment).sort((a, b) => a.timestamp - b.timestamp)
    const firstComment = comments[0]?.timestamp
    const timestamp = post.timestamp === undefined
      ? (firstComment ?? now) - 60 * 60 * 1000
      : Time.parse(post.timestamp) ?? now
    // Listed posts take a position too, so generated ones keep the ids they had before listed posts were added.
    this.shared.counters.posts += 1
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

  /** Whether the person is one of the sandbox's: a commenter of a listed post or one of the generated pool. */
  private isKnown(recipientId: string): boolean {
    if (this.writers.has(recipientId)) return true
    const person = Generator.parsePersonId(recipientId)
    return person !== undefined && person < this.settings.people &&
      this.posts.some((post) => post.base._tag === "Generated")
  }

  /**
   * What the person wrote to the account before the start. Refused recipients wrote two days before (their window is
   * closed); with open windows every known person wrote an hour before; otherwise the data set's messages, or one
   * drawn from the seed for a share of the known people.
   */
  private seededMessages(recipientId: string): Array<ConversationMessage> {
    const before = (ago: number, text = "Hi! Could you send me the guide?"): Array<ConversationMessage> => {
      const createdTime = this.startMillis - ago
      return [{ id: Inbound.messageId(recipientId, createdTime), createdTime, text, fromPerson: true }]
    }
    if (this.faults.refusedRecipients.includes(recipientId)) return before(2 * Time.dayMillis)
    if (this.windows === "open") return this.isKnown(recipientId) ? before(60 * 60 * 1000) : []
    if (this.listedMessages !== undefined) return [...(this.listedMessages.get(recipientId) ?? [])]
    if (!this.isKnown(recipientId)) return []
    const seeded = Inbound.seeded(this.seed, recipientId, this.startMillis, this.inboundShares)
    return seeded === undefined ? [] : before(this.startMillis - seeded.createdTime, seeded.text)
  }

  /** When the person last wrote to the account, before the start or since. */
  private lastInbound(recipientId: string): number | undefined {
    const times = [
      ...this.seededMessages(recipientId).map((message) => message.createdTime),
      ...(this.written.has(recipientId) ? [this.written.get(recipientId) ?? 0] : [])
    ]
    return times.length === 0 ? undefined : Math.max(...times)
  }

  /**
   * The generated people who wrote before the start, newest first, computed once (on the first conversations read) as
   * two flat arrays: a pass over the pool that keeps only person numbers and times.
   */
  private generatedWriters(): { readonly people: ArrayLike<number>; readonly times: ArrayLike<number> } {
    if (this.seededPool !== undefined) return this.seededPool
    const found: Array<{ readonly person: number; readonly time: number }> = []
    // A data set that lists its messages says who wrote: then nobody in the generated pool did.
    if (this.listedMessages === undefined && this.posts.some((post) => post.base._tag === "Generated")) {
      for (let person = 0; person < this.settings.people; person++) {
        const seeded = Inbound.seeded(this.seed, Generator.personId(person), this.startMillis, this.inboundShares)
        if (seeded !== undefined) found.push({ person, time: seeded.createdTime })
      }
    }
    found.sort((a, b) => b.time - a.time || a.person - b.person)
    this.seededPool = {
      people: Int32Array.from(found, (entry) => entry.person),
      times: Float64Array.from(found, (entry) => entry.time)
    }
    return this.seededPool
  }

  private groupMessages(messages: ReadonlyArray<DataSet.Message>): Map<string, Array<ConversationMessage>> {
    const byPerson = new Map<string, Array<ConversationMessage>>()
    for (const message of messages) {
      const createdTime = Time.parse(message.timestamp) ?? 0
      const list = byPerson.get(message.from) ?? []
      list.push({ id: Inbound.messageId(message.from, createdTime), createdTime, text: message.text, fromPerson: true })
      byPerson.set(message.from, list)
    }
    return byPerson
  }

  /** The first `count` distinct people who asked for the guide on the first post, newest first. */
  private guideAskers(count: number): ReadonlyArray<string> {
    const post = this.posts[0]
    if (count === 0 || post?.base._tag !== "Generated") return []
    const people = new Set<string>()
    for (let sequence = post.base.placement.count - 1; sequence >= 0 && people.size < count; sequence--) {
      const comment = Generator.commentAt(this.settings, this.seed, post.base.placement, sequence, this.account)
      if (comment.asksForGuide && comment.user?.id !== undefined) people.add(comment.user.id)
    }
    return [...people]
  }

  private converse(recipientId: string, username: string | undefined, message: ConversationMessage): Conversation {
    const conversation = this.conversations.get(recipientId) ?? {
      recipientId,
      username: username ?? this.usernameOf(recipientId) ?? "unknown",
      messages: this.seededMessages(recipientId),
      activity: 0
    }
    conversation.messages.push(message)
    conversation.activity = this.messages
    this.conversations.set(recipientId, conversation)
    return conversation
  }

  private nextMessageId(): string {
    this.messages += 1
    return Buffer.from(`ig_message:${this.account.id}:${this.messages}`).toString("base64url")
  }

  private nextCommentId(): string {
    this.shared.counters.comments += 1
    return "19" + String(this.shared.counters.comments).padStart(15, "0")
  }
}
