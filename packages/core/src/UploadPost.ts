/**
 * The Upload-Post API client: comments as a paged `Stream`, DM send, private and public replies, conversations,
 * media, the key check and the profile. Every failure is typed (see `UploadPostError`); sends and single reads are one
 * attempt each, so that callers place pacing and `Retry.retrying` around exactly one request. Requests go through the
 * `HttpClient` of the context, so that its middleware and tracing see each of them.
 */
import { HttpBody, HttpClient, HttpClientRequest } from "@effect/platform"
import {
  Cause,
  Chunk,
  Clock,
  Config,
  ConfigError,
  Context,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  type ParseResult,
  Redacted,
  Schema,
  Stream
} from "effect"
import * as ErrorTable from "./internal/errorTable.js"
import * as RequestDeadline from "./internal/requestDeadline.js"
import * as WireJson from "./internal/wireJson.js"
import * as RequestBudget from "./RequestBudget.js"
import * as RequestMetrics from "./RequestMetrics.js"
import * as Retry from "./Retry.js"
import * as Errors from "./UploadPostError.js"
import * as Wire from "./UploadPostSchema.js"

export const defaultBaseUrl = "https://api.upload-post.com/api"

export interface Settings {
  /** The API root, e.g. `https://api.upload-post.com/api`; plain http only for loopback hosts. */
  readonly baseUrl: string
  readonly apiKey: Redacted.Redacted<string>
  /** A read or send with no answer after this long fails (a send then is in doubt). */
  readonly requestTimeout: Duration.DurationInput
  /** The policy the comment stream applies to each page; sends take it from the caller. */
  readonly retry: Retry.RetryPolicy
  /**
   * How a refused key's message names the setting to check: `UPLOAD_POST_API_KEY` when read from the environment;
   * by default the key given in code.
   */
  readonly apiKeySetting?: string
}

/** Where settings given in code are named in messages: by their field, never by an environment variable. */
const inCode = { apiKey: "apiKey", baseUrl: "baseUrl", refusedKey: "the API key given in code (apiKey)" } as const

/** Settings as code gives them: the URL and the key, the rest defaulted. */
export type SettingsInput = Omit<Settings, "requestTimeout" | "retry"> & Partial<Settings>

export class UploadPostConfig extends Context.Tag("@comment-dm/core/UploadPostConfig")<UploadPostConfig, Settings>() {
  /** Settings given in code, checked like the environment's. */
  static readonly layer = (settings: SettingsInput) =>
    Layer.effect(
      UploadPostConfig,
      Effect.map(
        Effect.all([checkBaseUrl(settings.baseUrl, inCode.baseUrl), checkApiKey(settings.apiKey, inCode.apiKey)]),
        ([baseUrl, { apiKey }]) => ({
          requestTimeout: Duration.seconds(30),
          retry: Retry.defaultPolicy,
          apiKeySetting: inCode.refusedKey,
          ...settings,
          baseUrl,
          apiKey
        })
      )
    )

  /**
   * `UPLOAD_POST_API_KEY` (required; or the variable `keyVariable` names, such as a campaign's `api_key_env`) and
   * `UPLOAD_POST_BASE_URL` (default the production API). The key is checked here, before any request: whitespace
   * around it (a trailing newline from a key file) is removed with a `notice`; anything else that cannot travel in a
   * header is a configuration error.
   */
  static readonly fromEnvWith = (options: {
    readonly notice: (text: string) => Effect.Effect<void>
    readonly keyVariable?: string | undefined
  }) =>
    Layer.effect(
      UploadPostConfig,
      Effect.gen(function*() {
        const variable = options.keyVariable ?? "UPLOAD_POST_API_KEY"
        // Read as an option so that a missing key gets a readable message (a missing redacted value has none).
        const key = yield* Config.option(Config.redacted(variable))
        if (Option.isNone(key) || Redacted.value(key.value).trim().length === 0) {
          return yield* Effect.fail(ConfigError.MissingData(
            [variable],
            `${variable} is not set: export your Upload-Post API key (or point UPLOAD_POST_BASE_URL at the sandbox and use its key)`
          ))
        }
        const { apiKey, trimmed } = yield* checkApiKey(key.value, variable)
        if (trimmed) {
          yield* options.notice(
            `notice: ${variable} has whitespace around the key (e.g. the newline at the end of a key file); ` +
              "it was removed"
          )
        }
        const rawBaseUrl = yield* Config.string("UPLOAD_POST_BASE_URL").pipe(Config.withDefault(defaultBaseUrl))
        const baseUrl = yield* checkBaseUrl(rawBaseUrl, "UPLOAD_POST_BASE_URL")
        return {
          apiKey,
          baseUrl,
          requestTimeout: Duration.seconds(30),
          retry: Retry.defaultPolicy,
          apiKeySetting: variable
        }
      })
    )

  /**
   * Settings read through `Config` (as `@effect/sql-sqlite-node`'s `layerConfig`), e.g.
   * `{ baseUrl: Config.string("API_URL"), apiKey: Config.redacted("API_KEY") }`, then checked as {@link layer} checks.
   */
  static readonly layerConfig = (
    config: Config.Config.Wrap<SettingsInput>
  ): Layer.Layer<UploadPostConfig, ConfigError.ConfigError> =>
    Layer.unwrapEffect(Effect.map(
      Config.unwrap(config),
      (settings) => UploadPostConfig.layer({ apiKeySetting: "the apiKey Config given to layerConfig", ...settings })
    ))

  /** {@link fromEnvWith} with notices logged as warnings. */
  static readonly fromEnv = UploadPostConfig.fromEnvWith({ notice: Effect.logWarning })
}

/** What a character of a key is, for a message that must not show it (it may be an escape sequence). */
const describeCharacter = (codePoint: number): string => {
  const code = `U+${codePoint.toString(16).toUpperCase().padStart(4, "0")}`
  if (codePoint < 0x20 || (codePoint >= 0x7f && codePoint < 0xa0)) return `a control character (${code})`
  if (/\s/u.test(String.fromCodePoint(codePoint))) return `a space (${code})`
  return `a character outside printable ASCII (${code})`
}

/**
 * An API key as it can go in a header: whitespace around it removed (`trimmed` says so), then visible ASCII only. A
 * control character or an emoji would otherwise fail every request with ERR_INVALID_CHAR, retried for nothing; the
 * reference documents no key format, but a key is a token, so a space or a letter outside ASCII inside it means a
 * paste went wrong. The key itself never appears in the message.
 */
export const checkApiKey = (
  key: Redacted.Redacted<string>,
  setting: string
): Effect.Effect<
  { readonly apiKey: Redacted.Redacted<string>; readonly trimmed: boolean },
  ConfigError.ConfigError
> => {
  const raw = Redacted.value(key)
  const text = raw.trim()
  if (text === "") return Effect.fail(ConfigError.MissingData([setting], `${setting} is empty: give the API key`))
  const characters = Array.from(text)
  const position = characters.findIndex((character) => !/^[\x21-\x7e]$/.test(character))
  if (position >= 0) {
    const what = describeCharacter(characters[position]!.codePointAt(0)!)
    return Effect.fail(ConfigError.InvalidData(
      [setting],
      `${setting} contains ${what} at character ${position + 1}: an API key is a token of visible ASCII ` +
        "characters; copy it again from the Upload-Post dashboard"
    ))
  }
  return Effect.succeed({ apiKey: text === raw ? key : Redacted.make(text), trimmed: text !== raw })
}

const loopbackHost = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i

/** Whether a base URL points at this machine (the sandbox), where plain http and short poll intervals are fine. */
export const isLoopbackUrl = (text: string): boolean => {
  try {
    return loopbackHost.test(new URL(text).hostname)
  } catch {
    return false
  }
}

/**
 * The key travels in a header: refuse to send it in clear text to anything but this machine. `setting` names where
 * the URL came from (`UPLOAD_POST_BASE_URL`, `baseUrl`) in the error.
 */
export const checkBaseUrl = (text: string, setting: string): Effect.Effect<string, ConfigError.ConfigError> => {
  const invalid = (why: string) => Effect.fail(ConfigError.InvalidData([setting], `${setting}: ${why}`))
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return invalid(`"${text}" is not a URL (expected e.g. ${defaultBaseUrl})`)
  }
  if (url.protocol === "https:") return Effect.succeed(text.replace(/\/+$/, ""))
  if (url.protocol === "http:" && loopbackHost.test(url.hostname)) return Effect.succeed(text.replace(/\/+$/, ""))
  if (url.protocol === "http:") {
    return invalid(
      `plain http to ${url.hostname} would send the API key unencrypted; use https (http is allowed only for localhost)`
    )
  }
  return invalid(`unsupported protocol ${url.protocol} in "${text}"; use https`)
}

/** A post named by its platform id or by its URL. */
export type PostRef = { readonly postId: string } | { readonly postUrl: string }

export const postLabel = (post: PostRef): string => "postId" in post ? post.postId : post.postUrl

/** A comment as the pipeline sees it: the wire variants folded into one shape. */
export interface Comment {
  readonly id: string
  /** The post as the campaign names it (id or URL). */
  readonly post: string
  readonly text: string
  readonly timestamp: Date | undefined
  readonly userId: string | undefined
  readonly username: string | undefined
}

export interface CommentPage {
  readonly comments: ReadonlyArray<Comment>
  readonly nextCursor: Option.Option<string>
}

export interface CommentsRequest {
  readonly platform: string
  readonly user: string
  readonly post: PostRef
  /** 1 to 50; the API rejects anything else. Default 50. */
  readonly limit?: number
}

export interface Delivered {
  readonly messageId: string
  readonly recipientId: string | undefined
}

export interface DmRequest {
  readonly platform: string
  readonly user: string
  readonly recipientId: string
  readonly message: string
}

export interface PrivateReplyRequest {
  readonly user: string
  readonly commentId: string
  readonly message: string
  readonly buttons?: ReadonlyArray<{ readonly title: string; readonly url: string }>
}

export interface PublicReplyRequest {
  readonly platform: string
  readonly user: string
  readonly commentId: string
  readonly message: string
}

export interface Account {
  readonly email: string | undefined
  readonly plan: string | undefined
}

/** A connected social account of a profile, as `GET /uploadposts/users/{profile}` tells it. */
export interface SocialAccount {
  /** The account's own platform user id (Instagram: `social_accounts.instagram.username`). */
  readonly userId: string | undefined
  /** The account's @name, without the @. */
  readonly handle: string | undefined
  /** The platform wants the account connected again in Upload-Post before anything works. */
  readonly reauthRequired: boolean
}

export interface Profile {
  readonly username: string | undefined
  /**
   * The profile's social accounts by platform, connected ones only; `undefined` when the answer holds no
   * `social_accounts` at all (the API did not tell).
   */
  readonly accounts: ReadonlyMap<string, SocialAccount> | undefined
}

export interface ConversationMessage {
  readonly id: string
  readonly createdTime: Date | undefined
  readonly fromId: string | undefined
  readonly toIds: ReadonlyArray<string>
  readonly text: string
}

export interface Conversation {
  readonly id: string
  readonly participantIds: ReadonlyArray<string>
  readonly messages: ReadonlyArray<ConversationMessage>
}

export interface MediaItem {
  readonly id: string
  readonly url: string | undefined
  readonly caption: string | undefined
  readonly timestamp: Date | undefined
}

export const maxPageSize = 50

const normaliseComment = (post: string) => (wire: Wire.WireComment): Comment => ({
  id: wire.id,
  post,
  text: wire.text,
  timestamp: Wire.parseTimestamp(wire.timestamp),
  userId: wire.user?.id ?? undefined,
  username: wire.user?.username ?? wire.username ?? undefined
})

export class UploadPost extends Effect.Service<UploadPost>()("@comment-dm/core/UploadPost", {
  effect: Effect.gen(function*() {
    const settings = yield* UploadPostConfig
    const timeout = Duration.decode(settings.requestTimeout)
    const client = yield* HttpClient.HttpClient
    // The key's request budget when the program provides one (the commands do); without one, requests go at once.
    const budget = yield* Effect.serviceOption(RequestBudget.RequestBudget)
    // The timeout as a timer in the client where it can (`KeepAliveHttpClient`), else the general timeout around it.
    const withinTimeout: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E | typeof timedOut> =
      RequestDeadline.isApplied(client)
        ? RequestDeadline.within(timeout)
        : Effect.timeoutFail({ duration: timeout, onTimeout: (): typeof timedOut => timedOut })
    // Every request starts from these: the headers are made once here, not per request.
    const headers = {
      authorization: `Apikey ${Redacted.value(settings.apiKey)}`,
      accept: "application/json"
    }
    const key = Redacted.value(settings.apiKey)
    /** A platform that echoes the key in an error must not put it into messages, logs or the ledger. */
    const hideKey = (text: string): string => key.length === 0 ? text : text.split(key).join("[API key]")
    const get = (path: string, query: Readonly<Record<string, string>>, profile = query["user"]): Call => ({
      endpoint: `GET ${path}`,
      profile,
      request: HttpClientRequest.get(settings.baseUrl + path, { headers, urlParams: query })
    })
    const post = (path: string, body: Readonly<Record<string, unknown>> & { readonly user: string }): Call => ({
      endpoint: `POST ${path}`,
      profile: body.user,
      request: HttpClientRequest.post(settings.baseUrl + path, {
        headers,
        body: HttpBody.text(JSON.stringify(body), "application/json")
      })
    })

    /**
     * One request, one answer read whole within the timeout: failures without an answer (the client's
     * `HttpClientError`s, the timeout), statuses and bodies all end up typed. The request takes from the key's budget
     * before it goes out (the wait is not part of its timeout), and the budget reads its answer.
     */
    const call = <A>(
      operation: ErrorTable.Operation,
      { endpoint, profile, request }: Call,
      decode: Decoder<A>
    ): Effect.Effect<A, AnswerError> => {
      // Counted where every request is made, answered or not, and 429s by their answer (for `/metrics`).
      const exchange = Effect.zipRight(RequestMetrics.countRequest(endpoint), client.execute(request)).pipe(
        Effect.tap((response) => response.status === 429 ? RequestMetrics.countRateLimited(endpoint) : Effect.void),
        Effect.flatMap((response) =>
          Effect.map(response.text, (text): Answer => ({ status: response.status, headers: response.headers, text }))
        ),
        withinTimeout,
        Effect.catchAll((failure) =>
          Effect.fail(
            failure === timedOut || Cause.isTimeoutException(failure.cause)
              ? ErrorTable.classifyTransport(endpoint, operation, undefined, true)
              : ErrorTable.classifyTransport(endpoint, operation, failure, false)
          )
        )
      )
      return Option.match(budget, {
        onNone: () => exchange,
        onSome: (key) => key.metered({ priority: operation, profile }, exchange)
      }).pipe(Effect.flatMap((answer) => interpret(endpoint, operation, answer, decode)))
    }

    const interpret = <A>(
      endpoint: string,
      operation: ErrorTable.Operation,
      answer: Answer,
      decode: Decoder<A>
    ): Effect.Effect<A, AnswerError> => {
      const { status, text } = answer
      const body = parseJson(text)
      const ok = status >= 200 && status < 300
      const refusedInBody = typeof body === "object" && body !== null && "success" in body && body.success === false
      if (ok && !refusedInBody) {
        const decoded = body === notJson
          ? Either.left("the body is not JSON")
          : Either.mapLeft(decode(body), (error) => WireJson.describe(body, error))
        if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
        return operation === "send"
          ? Effect.fail(
            new Errors.SendInDoubt({
              endpoint,
              detail: `HTTP ${status} with an unreadable body (${ErrorTable.excerpt(hideKey(decoded.left))})`
            })
          )
          : Effect.fail(
            new Errors.MalformedResponse({
              endpoint,
              status,
              problem: hideKey(decoded.left),
              excerpt: ErrorTable.excerpt(hideKey(text))
            })
          )
      }
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.fail(ErrorTable.classify({
          endpoint,
          operation,
          status,
          headers: answer.headers,
          detail: hideKey(ErrorTable.detailOf(body === notJson ? undefined : body, hideKey(text))),
          now,
          keySetting: settings.apiKeySetting ?? inCode.refusedKey
        })))
    }

    const commentPage = (request: CommentsRequest, after: Option.Option<string>) => {
      const label = postLabel(request.post)
      const http = get("/uploadposts/comments", {
        platform: request.platform,
        user: request.user,
        ...("postId" in request.post ? { post_id: request.post.postId } : { post_url: request.post.postUrl }),
        limit: String(request.limit ?? maxPageSize),
        ...(Option.isSome(after) ? { after: after.value } : {})
      })
      return call("read", http, decodeCommentPage).pipe(
        Effect.flatMap((page): Effect.Effect<CommentPage, Errors.MalformedResponse> => {
          const hasNext = page.pagination?.has_next === true
          const cursor = page.pagination?.next_cursor ?? undefined
          if (hasNext && cursor === undefined) {
            return Effect.fail(
              new Errors.MalformedResponse({
                endpoint: http.endpoint,
                status: 200,
                problem: "pagination.has_next is true but next_cursor is missing",
                excerpt: JSON.stringify(page.pagination)
              })
            )
          }
          return Effect.succeed({
            comments: page.comments.map(normaliseComment(label)),
            nextCursor: hasNext && cursor !== undefined ? Option.some(cursor) : Option.none()
          })
        }),
        narrowRead
      )
    }

    /** Every cursor the read has followed, so that a cursor that comes round again ends the read. */
    const comments = (request: CommentsRequest): Stream.Stream<Comment, Errors.ReadError | Errors.CursorCycle> =>
      Stream.suspend(() => {
        const followed = new Set<string>()
        return Stream.paginateChunkEffect(Option.none<string>(), (after) =>
          commentPage(request, after).pipe(
            Retry.retrying(settings.retry),
            Effect.flatMap((page) => {
              Option.map(after, (cursor) => followed.add(cursor))
              const next = page.nextCursor
              if (Option.isSome(next) && (followed.has(next.value) || Option.contains(after, next.value))) {
                return Effect.fail(
                  new Errors.CursorCycle({
                    endpoint: "GET /uploadposts/comments",
                    post: postLabel(request.post),
                    cursor: next.value,
                    pages: followed.size + 1
                  })
                )
              }
              return Effect.succeed(
                [Chunk.unsafeFromArray(page.comments), Option.map(next, Option.some)] as const
              )
            })
          ))
      })

    const sendDm = (request: DmRequest): Effect.Effect<Delivered, Errors.SendError> =>
      call(
        "send",
        post("/uploadposts/dms/send", {
          platform: request.platform,
          user: request.user,
          recipient_id: request.recipientId,
          message: request.message
        }),
        decodeSendAnswer
      ).pipe(
        Effect.map((answer) => ({ messageId: answer.message_id, recipientId: answer.recipient_id ?? undefined })),
        narrowSend
      )

    const privateReply = (request: PrivateReplyRequest): Effect.Effect<Delivered, Errors.SendError> =>
      call(
        "send",
        post("/uploadposts/comments/reply", {
          platform: "instagram",
          user: request.user,
          comment_id: request.commentId,
          message: request.message,
          ...(request.buttons === undefined ? {} : { buttons: request.buttons })
        }),
        decodeSendAnswer
      ).pipe(
        Effect.map((answer) => ({ messageId: answer.message_id, recipientId: answer.recipient_id ?? undefined })),
        narrowSend
      )

    const publicReply = (request: PublicReplyRequest): Effect.Effect<{ readonly id: string }, Errors.SendError> =>
      call(
        "send",
        post("/uploadposts/comments/public-reply", {
          platform: request.platform,
          user: request.user,
          comment_id: request.commentId,
          message: request.message
        }),
        decodePublicReplyAnswer
      ).pipe(Effect.map((answer) => ({ id: answer.id })), narrowSend)

    const conversations = (
      request: { readonly platform: string; readonly user: string }
    ): Effect.Effect<ReadonlyArray<Conversation>, Errors.ReadError> =>
      call(
        "read",
        get("/uploadposts/dms/conversations", { platform: request.platform, user: request.user }),
        decodeConversationsAnswer
      ).pipe(
        Effect.map((answer) =>
          answer.conversations.map((conversation) => ({
            id: conversation.id,
            participantIds: conversation.participants?.data.map((party) => party.id) ?? [],
            messages: (conversation.messages?.data ?? []).map((message) => ({
              id: message.id,
              createdTime: Wire.parseTimestamp(message.created_time),
              fromId: message.from?.id,
              toIds: message.to?.data.map((party) => party.id) ?? [],
              text: message.message ?? ""
            }))
          }))
        ),
        narrowRead
      )

    const media = (
      request: { readonly platform: string; readonly user: string; readonly limit?: number }
    ): Effect.Effect<ReadonlyArray<MediaItem>, Errors.ReadError> =>
      call(
        "read",
        get("/uploadposts/media", {
          platform: request.platform,
          user: request.user,
          ...(request.limit === undefined ? {} : { limit: String(request.limit) })
        }),
        decodeMediaAnswer
      ).pipe(
        Effect.map((answer) =>
          answer.media.map((item) => ({
            id: item.id,
            url: item.url ?? undefined,
            caption: item.caption ?? undefined,
            timestamp: Wire.parseTimestamp(item.timestamp)
          }))
        ),
        narrowRead
      )

    const me: Effect.Effect<Account, Errors.ReadError> = call(
      "read",
      get("/uploadposts/me", {}),
      decodeMeAnswer
    ).pipe(Effect.map((answer) => ({ email: answer.email ?? undefined, plan: answer.plan ?? undefined })), narrowRead)

    const profile = (request: { readonly user: string }): Effect.Effect<Profile, Errors.ReadError> =>
      call(
        "read",
        get(`/uploadposts/users/${encodeURIComponent(request.user)}`, {}, request.user),
        decodeProfileAnswer
      ).pipe(Effect.map(profileOf), narrowRead)

    return {
      /** The settings in force (the key stays redacted). */
      settings,
      me,
      /** The profile named `user` and its social accounts: whose comments are the account's own, who needs re-login. */
      profile,
      /** One page of comments, one attempt. */
      commentPage,
      /**
       * Every comment of a post, newest first, page after page; each page is retried by the policy. A cursor that
       * comes round again fails the stream with `CursorCycle` after the pages before it.
       */
      comments,
      sendDm,
      privateReply,
      publicReply,
      conversations,
      media
    } as const
  })
}) {
  /**
   * The client configured from the environment. Like `Default`, it takes the `HttpClient` from the context: the
   * program picks it (`KeepAliveHttpClient.layer()` as the command does, `NodeHttpClient.layer`, a test client).
   */
  static readonly fromEnv = UploadPost.Default.pipe(Layer.provide(UploadPostConfig.fromEnv))
}

/** What one answer can fail with. */
type AnswerError = Errors.ReadError | Errors.SendError

/** A request and how errors name it: method and path, as the API reference does. */
interface Call {
  readonly endpoint: string
  /** The profile the request names as `user`, which the per-profile request limit counts. */
  readonly profile: string | undefined
  readonly request: HttpClientRequest.HttpClientRequest
}

/** An answer read whole: header names in lower case. */
interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly text: string
}

const timedOut: unique symbol = Symbol("timedOut")

/** A schema's decoder, made once per schema rather than per answer. */
type Decoder<A> = (input: unknown) => Either.Either<A, ParseResult.ParseError>

const decodeCommentPage: Decoder<Wire.CommentPage> = Schema.decodeUnknownEither(Wire.CommentPage)

const decodeSendAnswer = Schema.decodeUnknownEither(Wire.SendAnswer)

const decodePublicReplyAnswer = Schema.decodeUnknownEither(Wire.PublicReplyAnswer)

const decodeConversationsAnswer = Schema.decodeUnknownEither(Wire.ConversationsAnswer)

const decodeMediaAnswer = Schema.decodeUnknownEither(Wire.MediaAnswer)

const decodeMeAnswer = Schema.decodeUnknownEither(Wire.MeAnswer)

const decodeProfileAnswer = Schema.decodeUnknownEither(Wire.ProfileAnswer)

const decodeSocialAccount = Schema.decodeUnknownOption(Wire.WireSocialAccount)

const nonEmpty = (text: string | null | undefined): string | undefined =>
  text === null || text === undefined || text.trim() === "" ? undefined : text.trim()

/** The profile in whichever envelope it came; an entry `""` or null (not connected) is left out. */
const profileOf = (answer: typeof Wire.ProfileAnswer.Type): Profile => {
  const wire = answer.profile ?? answer
  const raw = wire.social_accounts ?? undefined
  if (raw === undefined) return { username: nonEmpty(wire.username), accounts: undefined }
  const accounts = new Map<string, SocialAccount>()
  for (const [platform, value] of Object.entries(raw)) {
    // A non-empty text is some other form of a connected account: connected, its identity not told.
    if (typeof value === "string" && value.trim() !== "") {
      accounts.set(platform, { userId: undefined, handle: undefined, reauthRequired: false })
      continue
    }
    const account = decodeSocialAccount(value)
    if (Option.isNone(account)) continue
    const reauth = account.value.reauth_required
    accounts.set(platform, {
      userId: nonEmpty(account.value.username),
      handle: nonEmpty(account.value.handle)?.replace(/^@/, ""),
      reauthRequired: reauth === true || reauth === "true"
    })
  }
  return { username: nonEmpty(wire.username), accounts }
}

const notJson: unique symbol = Symbol("notJson")

const parseJson = (text: string): unknown => {
  try {
    return WireJson.parse(text)
  } catch {
    return notJson
  }
}

/** A read never ends in refusal or doubt; the table only yields those for sends. */
const narrowRead = <A, R>(self: Effect.Effect<A, AnswerError, R>): Effect.Effect<A, Errors.ReadError, R> =>
  Effect.catchTags(self, {
    RecipientRefused: (error) =>
      Effect.fail(new Errors.InvalidRequest({ endpoint: error.endpoint, status: error.status, detail: error.reason })),
    UnrecognisedRefusal: (error) =>
      Effect.fail(new Errors.InvalidRequest({ endpoint: error.endpoint, status: error.status, detail: error.detail })),
    SendInDoubt: (error) => Effect.fail(new Errors.Transient({ endpoint: error.endpoint, detail: error.detail }))
  })

/** A send's unreadable 2xx is already turned into doubt; a malformed answer otherwise means the same. */
const narrowSend = <A, R>(self: Effect.Effect<A, AnswerError, R>): Effect.Effect<A, Errors.SendError, R> =>
  Effect.catchTag(
    self,
    "MalformedResponse",
    (error) => Effect.fail(new Errors.SendInDoubt({ endpoint: error.endpoint, detail: error.message }))
  )
