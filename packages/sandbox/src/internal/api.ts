/**
 * The Upload-Post endpoints under /api, with the answers and failure texts of the real service.
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Context, Effect, Either, Option, Schema } from "effect"
import type * as DataSet from "../DataSet.js"
import * as Delivery from "../Delivery.js"
import * as Cursor from "./cursor.js"
import { apiKeyOf, type Env, invalidApiKey, json } from "./env.js"
import * as Gate from "./gate.js"
import { type Post, type Store, toWire } from "./store.js"
import * as Time from "./time.js"

type Answer =
  | { readonly _tag: "Reply"; readonly status: number; readonly body: unknown }
  | { readonly _tag: "Drop" }

/** Sandbox time the request arrived, before the answer delay. */
class Arrival extends Context.Tag("@comment-dm/sandbox/Arrival")<Arrival, number>() {}

/** The profile the request acts on and the key's profiles (see `Accounts.resolve`). */
class Caller extends Context.Tag("@comment-dm/sandbox/Caller")<Caller, Gate.Admission>() {}

type Handler = Effect.Effect<
  Answer,
  never,
  | HttpServerRequest.HttpServerRequest
  | HttpServerRequest.ParsedSearchParams
  | HttpRouter.RouteContext
  | Arrival
  | Caller
>

const reply = (status: number, body: unknown): Answer => ({ _tag: "Reply", status, body })
const failure = (status: number, error: string): Answer => reply(status, { success: false, error })
const failureMessage = (status: number, message: string): Answer => reply(status, { success: false, message })
const drop: Answer = { _tag: "Drop" }

const internalError = failure(500, "An internal server error occurred.")
const invalidAccount = failure(400, "Invalid account")
const dailyLimit = failure(429, "Daily DM limit exceeded.")
/** Meta's answer to a DM to someone who has not written to the account in the last 24 hours. */
const outsideWindow = failure(400, "(#10) This message is sent outside of allowed window.")
const supportedPlatforms = new Set(["instagram", "facebook", "youtube", "linkedin", "tiktok"])

const param = (name: string) =>
  Effect.map(HttpServerRequest.ParsedSearchParams, (params): string | undefined => {
    const value = params[name]
    const first = Array.isArray(value) ? value[0] : value
    return first === undefined || first === "" ? undefined : first
  })

/** A limit query value: the fallback when absent, NaN when not a whole number. */
const parseLimit = (text: string | undefined, fallback: number): number =>
  text === undefined ? fallback : /^\d+$/.test(text) ? Number(text) : Number.NaN

const body = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => request.json).pipe(
  Effect.option,
  Effect.map(Option.getOrUndefined)
)

/** The answer of the `oddRefusal` knob, when it covers this recipient. */
const oddRefusalFor = (store: Store, recipientId: string | undefined): Answer | undefined => {
  const odd = store.faults.oddRefusal
  if (odd === null || recipientId === undefined) return undefined
  return odd.recipients === "all" || odd.recipients.includes(recipientId) ? failure(odd.status, odd.text) : undefined
}

const Field = Schema.NonEmptyString

const SendDm = Schema.Struct({ platform: Field, user: Field, recipient_id: Field, message: Field })

const PrivateReply = Schema.Struct({
  platform: Field,
  user: Field,
  comment_id: Field,
  message: Field,
  buttons: Schema.optional(Schema.Unknown)
})

const Button = Delivery.Button

/**
 * The buttons of a private reply, checked as Upload-Post documents them: at most 3, each a title of 1 to 20 characters
 * and an http(s) URL. Answered like the other problems of the request: a 400 with the text in `error`.
 */
const checkButtons = (buttons: unknown): Either.Either<ReadonlyArray<typeof Button.Type>, string> => {
  const list = Schema.decodeUnknownOption(Schema.Array(Button))(buttons)
  if (Option.isNone(list)) return Either.left("buttons must be a list of items, each with a title and a url")
  if (list.value.length > 3) return Either.left(`buttons must be at most 3, got ${list.value.length}`)
  for (const button of list.value) {
    const length = [...button.title].length
    if (length === 0 || length > 20) {
      return Either.left(`buttons must have a title of 1 to 20 characters, got ${length}`)
    }
    if (!URL.canParse(button.url) || !/^https?:$/.test(new URL(button.url).protocol)) {
      return Either.left("buttons must have a valid http(s) url")
    }
  }
  return Either.right(list.value)
}

const PublicReply = Schema.Struct({ platform: Field, user: Field, comment_id: Field, message: Field })

/** The profile a request names: the path's, the query's `user` or the body's `user`. */
const userOf = Effect.gen(function*() {
  const { username } = yield* HttpRouter.params
  if (username !== undefined) return username
  const query = yield* param("user")
  const request = yield* HttpServerRequest.HttpServerRequest
  if (query !== undefined || request.method !== "POST") return query
  const raw = yield* body
  return typeof raw === "object" && raw !== null && "user" in raw && typeof raw.user === "string" ? raw.user : undefined
})

export const router = (env: Env): HttpRouter.HttpRouter => {
  /** The gate (rate limits, key), latency and injected read errors, in that order, then the handler. */
  const answer = (admission: Gate.Admission, kind: "read" | "send", handler: Handler): Handler => {
    if (admission.refusal === "rate") {
      return Effect.succeed(failureMessage(429, "Too many requests, retry after the reset"))
    }
    if (admission.refusal === "key") return Effect.succeed(reply(401, invalidApiKey))
    const faults = admission.store.faults
    return env.pause(faults.latency).pipe(
      Effect.zipRight(kind === "read" ? env.chance(faults.readErrorRate) : Effect.succeed(false)),
      Effect.flatMap((injected) => injected ? Effect.succeed(internalError) : handler)
    )
  }

  const endpoint = (name: string, kind: "read" | "send", handler: Handler) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const arrivedAt = yield* env.now
      const admission = Gate.admit(env, apiKeyOf(request.headers), yield* userOf, arrivedAt)
      const window = admission.window
      env.traffic.countEndpoint(name)
      const result = yield* answer(admission, kind, handler).pipe(
        Effect.provideService(Arrival, arrivedAt),
        Effect.provideService(Caller, admission)
      )
      if (result._tag === "Drop") {
        env.traffic.countStatus("reset")
        NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
        return HttpServerResponse.empty()
      }
      env.traffic.countStatus(String(result.status))
      return json(
        result.status,
        result.body,
        window === undefined ? {} : {
          "x-ratelimit-limit": String(window.limit),
          "x-ratelimit-remaining": String(window.remaining),
          "x-ratelimit-reset": String(window.reset),
          ...(window.exceeded ? { "retry-after": String(window.retryAfterSeconds) } : {})
        }
      )
    })

  /** After a delivery: the answer, or (by the reset knob) a destroyed connection. */
  const delivered = (store: Store, body: unknown) =>
    Effect.map(env.chance(store.faults.resetAfterDeliveryRate), (reset) => reset ? drop : reply(200, body))

  const me: Handler = Effect.map(Caller, ({ store }) =>
    reply(200, {
      success: true,
      email: `${store.profile}@sandbox.upload-post.local`,
      plan: store.accountAnswers.plan ?? "sandbox"
    }))

  /**
   * The profile and its connected accounts, as the official client's `UserProfile` reads it. For Instagram, `username`
   * is the account's user id (the author id of its own comments) and `handle` its @name, as Upload-Post documents; the
   * `{success, profile}` envelope of the single-profile answer is not confirmed.
   */
  const profileBody = (store: Store) => {
    const told = store.accountAnswers.told !== false
    const connected = {
      ...(told ? { username: store.account.id, handle: store.account.handle } : {}),
      display_name: store.account.handle,
      reauth_required: store.faults.reauthRequired || store.accountAnswers.reauthRequired === true
    }
    const platforms = new Set(["instagram", ...store.platforms()])
    return {
      username: store.profile,
      created_at: Time.formatInstagram(store.startMillis - 90 * Time.dayMillis),
      social_accounts: Object.fromEntries([...platforms].map((platform) => [platform, connected]))
    }
  }

  const profile: Handler = Effect.zipWith(
    HttpRouter.params,
    Caller,
    ({ username }, { store }) =>
      username === store.profile
        ? reply(200, { success: true, profile: profileBody(store) })
        : failureMessage(404, "User profile not found")
  )

  const profiles: Handler = Effect.map(
    Caller,
    ({ owned }) => reply(200, { success: true, profiles: owned.map(profileBody) })
  )

  const comments: Handler = Effect.gen(function*() {
    const { store } = yield* Caller
    const platform = yield* param("platform")
    const user = yield* param("user")
    const postId = yield* param("post_id")
    const postUrl = yield* param("post_url")
    const missing = [
      ...(platform === undefined ? ["platform"] : []),
      ...(user === undefined ? ["user"] : []),
      ...(postId === undefined && postUrl === undefined ? ["post_id or post_url"] : [])
    ]
    if (platform === undefined || user === undefined || missing.length > 0) {
      return failureMessage(400, `Missing required parameters: ${missing.join(", ")}`)
    }
    if (!supportedPlatforms.has(platform)) return failureMessage(400, `Unsupported platform: ${platform}`)
    const limit = parseLimit(yield* param("limit"), 50)
    if (!(limit >= 1 && limit <= 50)) return failureMessage(400, "limit must be between 1 and 50")
    if (user !== store.profile) return invalidAccount
    const post = store.findPost(platform, {
      ...(postId === undefined ? {} : { id: postId }),
      ...(postUrl === undefined ? {} : { url: postUrl })
    })
    if (post === undefined) return failureMessage(400, "Post not found")
    const count = store.commentCount(post)
    const after = yield* param("after")
    // The first page starts at the newest comment (an empty page for a post without comments); a cursor names the
    // comment a page ended at, so it always leaves at least one comment before it.
    const end = after === undefined ? count : Cursor.decode(after, post.id)
    if (end === undefined || end > count || (after !== undefined && end < 1)) {
      return failureMessage(400, "Invalid cursor: use next_cursor from the previous page")
    }
    const first = Math.max(0, end - limit)
    const page: Array<DataSet.Comment> = []
    for (let sequence = end - 1; sequence >= first; sequence--) {
      const comment = store.commentAt(post, sequence)
      if (comment !== undefined) page.push(toWire(comment))
    }
    // The cursor-loop knob: every page below the first points back at the first page (a cursor naming the end), which
    // points on to the second as before: the reader goes round for ever.
    const loops = end < count && store.faults.cursorLoops.includes(post.id)
    const next = loops ? count : first > 0 ? first : undefined
    return reply(200, {
      success: true,
      comments: page,
      pagination: {
        next_cursor: next === undefined ? null : Cursor.encode(post.id, next),
        has_next: next !== undefined
      }
    })
  })

  const media: Handler = Effect.gen(function*() {
    const { store } = yield* Caller
    const platform = yield* param("platform")
    const user = yield* param("user")
    if (platform === undefined || user === undefined) {
      return failureMessage(400, "Missing required query parameters: platform, user")
    }
    const limit = parseLimit(yield* param("limit"), 25)
    if (!(limit >= 1 && limit <= 50)) return failureMessage(400, "limit must be between 1 and 50")
    if (user !== store.profile) return invalidAccount
    const posts = store.postsNewestFirst(platform)
    const cursor = yield* param("cursor")
    const start = cursor === undefined
      ? 0
      : posts.findIndex((post) => Cursor.encode(post.id, post.index) === cursor) + 1
    if (start === 0 && cursor !== undefined) {
      return failureMessage(400, "Invalid cursor: use next_cursor from the previous page")
    }
    const page: ReadonlyArray<Post> = posts.slice(start, start + limit)
    const last = page.at(-1)
    const hasMore = start + limit < posts.length
    return reply(200, {
      success: true,
      media: page.map((post) => ({
        id: post.id,
        url: post.url,
        caption: post.caption,
        timestamp: Time.formatInstagram(post.timestamp)
      })),
      pagination: {
        limit,
        next_cursor: hasMore && last !== undefined ? Cursor.encode(last.id, last.index) : null,
        has_more: hasMore
      }
    })
  })

  const conversations: Handler = Effect.gen(function*() {
    const { store } = yield* Caller
    const platform = yield* param("platform")
    const user = yield* param("user")
    if (platform === undefined || user === undefined) {
      return failure(400, "Missing required query parameters: platform, user")
    }
    if (store.faults.conversationsFailing) return internalError
    if (user !== store.profile) return invalidAccount
    const account = { id: store.account.id, username: store.account.handle }
    return reply(200, {
      success: true,
      conversations: store.conversationList(store.faults.maxConversations ?? undefined).map(
        (conversation) => {
          const person = { id: conversation.recipientId, username: conversation.username }
          return {
            id: `t_${conversation.recipientId}`,
            participants: { data: [person, account] },
            messages: {
              data: conversation.messages.slice(-store.faults.messagesPerConversation).reverse().map((message) => ({
                id: message.id,
                created_time: Time.formatInstagram(message.createdTime),
                from: message.fromPerson === true ? person : account,
                to: { data: [message.fromPerson === true ? account : person] },
                message: message.text
              }))
            }
          }
        }
      )
    })
  })

  const sendDm: Handler = Effect.gen(function*() {
    const { store } = yield* Caller
    const input = Schema.decodeUnknownOption(SendDm)(yield* body)
    if (Option.isNone(input)) return failure(400, "Missing required fields: platform, user, recipient_id, message")
    const { message, recipient_id: recipientId, user } = input.value
    if (user !== store.profile) return invalidAccount
    const now = yield* env.now
    if (store.dailyLimitReached(now)) return dailyLimit
    if (yield* env.chance(store.faults.sendErrorRate)) return internalError
    const odd = oddRefusalFor(store, recipientId)
    if (odd !== undefined) return odd
    if (!store.windowOpen(recipientId, now)) return outsideWindow
    if (store.faults.unreachableRecipients.includes(recipientId)) {
      return failure(400, "(#551) This person isn't available right now.")
    }
    const delivery = store.deliver({ kind: "dm", recipientId, message }, now, yield* Arrival)
    return yield* delivered(store, {
      success: true,
      recipient_id: recipientId,
      message_id: delivery.messageId,
      message: "DM sent successfully"
    })
  })

  const privateReply: Handler = Effect.gen(function*() {
    const { store } = yield* Caller
    const raw = yield* body
    const platform = typeof raw === "object" && raw !== null && "platform" in raw ? raw.platform : undefined
    if (typeof platform === "string" && platform !== "" && platform !== "instagram") {
      return failure(400, "Private replies are only supported on Instagram")
    }
    const input = Schema.decodeUnknownOption(PrivateReply)(raw)
    if (Option.isNone(input)) return failure(400, "Missing required fields: platform, user, comment_id, message")
    const { buttons, comment_id: commentId, message, user } = input.value
    const checked = buttons === undefined ? undefined : checkButtons(buttons)
    if (checked?._tag === "Left") return failure(400, checked.left)
    if (user !== store.profile) return invalidAccount
    const found = store.findComment(commentId)
    if (found === undefined) return failure(400, "Comment not found")
    const now = yield* env.now
    if (store.dailyLimitReached(now)) return dailyLimit
    if (yield* env.chance(store.faults.sendErrorRate)) return internalError
    const recipientId = found.comment.user?.id
    const odd = oddRefusalFor(store, recipientId)
    if (odd !== undefined) return odd
    const refusal = store.privateReplyRefusal(commentId, found.comment, now)
    if (refusal !== undefined || recipientId === undefined) {
      return failure(400, refusal ?? "(#551) This person isn't available right now.")
    }
    const delivery = store.deliver(
      {
        kind: "private_reply",
        recipientId,
        username: found.comment.user?.username ?? found.comment.username,
        commentId,
        message,
        ...(checked === undefined ? {} : { buttons: checked.right })
      },
      now,
      yield* Arrival
    )
    return yield* delivered(store, { success: true, recipient_id: recipientId, message_id: delivery.messageId })
  })

  const publicReply: Handler = Effect.gen(function*() {
    const { store } = yield* Caller
    const input = Schema.decodeUnknownOption(PublicReply)(yield* body)
    if (Option.isNone(input)) return failure(400, "Missing required fields: platform, user, comment_id, message")
    const { comment_id: commentId, message, user } = input.value
    if (user !== store.profile) return invalidAccount
    const found = store.findComment(commentId)
    if (found === undefined) return failure(400, "Comment not found")
    const now = yield* env.now
    if (store.dailyLimitReached(now)) return dailyLimit
    if (yield* env.chance(store.faults.sendErrorRate)) return internalError
    const delivery = store.deliver(
      {
        kind: "public_reply",
        recipientId: found.comment.user?.id ?? "",
        commentId,
        message
      },
      now,
      yield* Arrival
    )
    return yield* delivered(store, { success: true, id: delivery.messageId })
  })

  return HttpRouter.empty.pipe(
    HttpRouter.get("/api/uploadposts/me", endpoint("GET /uploadposts/me", "read", me)),
    HttpRouter.get("/api/uploadposts/users", endpoint("GET /uploadposts/users", "read", profiles)),
    HttpRouter.get("/api/uploadposts/users/:username", endpoint("GET /uploadposts/users/{profile}", "read", profile)),
    HttpRouter.get("/api/uploadposts/comments", endpoint("GET /uploadposts/comments", "read", comments)),
    HttpRouter.get("/api/uploadposts/media", endpoint("GET /uploadposts/media", "read", media)),
    HttpRouter.get(
      "/api/uploadposts/dms/conversations",
      endpoint("GET /uploadposts/dms/conversations", "read", conversations)
    ),
    HttpRouter.post("/api/uploadposts/dms/send", endpoint("POST /uploadposts/dms/send", "send", sendDm)),
    HttpRouter.post(
      "/api/uploadposts/comments/reply",
      endpoint("POST /uploadposts/comments/reply", "send", privateReply)
    ),
    HttpRouter.post(
      "/api/uploadposts/comments/public-reply",
      endpoint("POST /uploadposts/comments/public-reply", "send", publicReply)
    )
  )
}
