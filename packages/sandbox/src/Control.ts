/**
 * Control of a running sandbox: deliveries, new comments and posts, people writing to the account, the daily counter,
 * fault knobs and request counts. The same operations are served over HTTP under /__sandbox/, and `remote` drives a sandbox in another
 * process through them.
 */
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Effect, Schema } from "effect"
import * as DataSet from "./DataSet.js"
import * as Delivery from "./Delivery.js"
import * as Faults from "./Faults.js"

/** A comment to add to a post; it appears newest. Time defaults to the sandbox's now. */
export const NewComment = Schema.Struct({
  postId: Schema.NonEmptyString,
  text: Schema.String,
  id: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  timestamp: Schema.optionalWith(DataSet.Timestamp, { exact: true }),
  user: Schema.optionalWith(DataSet.CommentUser, { exact: true }),
  username: Schema.optionalWith(Schema.String, { exact: true }),
  /** Written by the account itself (its id and @name), as Instagram lists the account's own comments. */
  byAccount: Schema.optionalWith(Schema.Boolean, { exact: true })
})
export type NewComment = typeof NewComment.Type

/** A post to add: listed comments, or `generatedComments` computed from the seed. */
export const NewPost = Schema.Struct({
  id: Schema.NonEmptyString,
  url: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  platform: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  caption: Schema.optionalWith(Schema.String, { exact: true }),
  timestamp: Schema.optionalWith(DataSet.Timestamp, { exact: true }),
  comments: Schema.optionalWith(Schema.Array(DataSet.Comment), { exact: true }),
  generatedComments: Schema.optionalWith(Schema.NonNegativeInt, { exact: true }),
  /** The profile it belongs to (default: the first). */
  profile: Schema.optionalWith(Schema.NonEmptyString, { exact: true })
})
export type NewPost = typeof NewPost.Type

/** A message a person writes to the account; time defaults to the sandbox's now. */
export const NewMessage = Schema.Struct({
  /** The person's platform-scoped id (a commenter's `user.id`). */
  userId: Schema.NonEmptyString,
  text: Schema.String,
  /** Shown in their conversation when the sandbox does not know the person's username. */
  username: Schema.optionalWith(Schema.String, { exact: true }),
  timestamp: Schema.optionalWith(DataSet.Timestamp, { exact: true }),
  /** The profile whose account they write to (default: the first). */
  profile: Schema.optionalWith(Schema.NonEmptyString, { exact: true })
})
export type NewMessage = typeof NewMessage.Type

/** A message written to the account, as recorded. */
export const Message = Schema.Struct({
  id: Schema.String,
  userId: Schema.String,
  username: Schema.String,
  text: Schema.String,
  /** Instagram's form, e.g. "2026-03-28T12:00:00+0000". */
  timestamp: Schema.String
})
export type Message = typeof Message.Type

export const PostSummary = Schema.Struct({
  id: Schema.String,
  url: Schema.String,
  platform: Schema.String,
  comments: Schema.Number
})
export type PostSummary = typeof PostSummary.Type

/** Requests a key made: all of them, those answered 429 for the rate, and the most in one fixed minute / ten minutes. */
export const KeyTraffic = Schema.Struct({
  requests: Schema.Number,
  rateLimited: Schema.Number,
  maxPerMinute: Schema.Number,
  maxPerTenMinutes: Schema.Number
})
export type KeyTraffic = typeof KeyTraffic.Type

/** A profile's requests (those that named it as `user`), 429s for the rate, deliveries and today's DM count. */
export const ProfileTraffic = Schema.Struct({
  requests: Schema.Number,
  rateLimited: Schema.Number,
  deliveries: Schema.Number,
  dailyCount: Schema.Number
})
export type ProfileTraffic = typeof ProfileTraffic.Type

export const Stats = Schema.Struct({
  /** Requests per API endpoint, keyed like "GET /uploadposts/comments". */
  requests: Schema.Record({ key: Schema.String, value: Schema.Number }),
  /** API answers per HTTP status, keyed like "200", "429". */
  responses: Schema.Record({ key: Schema.String, value: Schema.Number }),
  deliveries: Schema.Number,
  /** Sends counted against today's DM limit (of the first profile). */
  dailyCount: Schema.Number,
  /** Per configured key, revoked or not. */
  keys: Schema.Record({ key: Schema.String, value: KeyTraffic }),
  /** Per profile. */
  profiles: Schema.Record({ key: Schema.String, value: ProfileTraffic }),
  /** Comments added by the arrivals so far. */
  arrivedComments: Schema.Number
})
export type Stats = typeof Stats.Type

/** A change to a profile while running. */
export const ProfilePatch = Schema.Struct({
  /** The account needs a new login: the profile's answer says `reauth_required: true`. */
  reauthRequired: Schema.optionalWith(Schema.Boolean, { exact: true }),
  dailyDmLimit: Schema.optionalWith(Schema.NonNegativeInt, { exact: true })
})
export type ProfilePatch = typeof ProfilePatch.Type

export const ProfileState = Schema.Struct({
  name: Schema.String,
  account: Schema.Struct({ id: Schema.String, handle: Schema.String }),
  postIds: Schema.Array(Schema.String),
  reauthRequired: Schema.Boolean,
  dailyDmLimit: Schema.Number
})
export type ProfileState = typeof ProfileState.Type

export const KeyState = Schema.Struct({
  key: Schema.String,
  profiles: Schema.Array(Schema.String),
  /** Its own plan; null: the `plan` knob's. */
  plan: Schema.NullOr(Faults.Plan),
  revoked: Schema.Boolean
})
export type KeyState = typeof KeyState.Type

/** A key revoked (it is then answered 401 like an unknown key) or restored. */
export const KeyPatch = Schema.Struct({ key: Schema.String, revoked: Schema.Boolean })
export type KeyPatch = typeof KeyPatch.Type

export const ArrivalsSummary = Schema.Struct({
  arrived: Schema.Number,
  posts: Schema.Array(Schema.Struct({ postId: Schema.String, perMinute: Schema.Number, hot: Schema.Boolean }))
})
export type ArrivalsSummary = typeof ArrivalsSummary.Type

export class PostNotFound extends Schema.TaggedError<PostNotFound>()("PostNotFound", {
  postId: Schema.String
}) {
  override get message(): string {
    return `The sandbox has no post ${this.postId}; read the post ids first or add the post.`
  }
}

export class PostExists extends Schema.TaggedError<PostExists>()("PostExists", {
  postId: Schema.String
}) {
  override get message(): string {
    return `The sandbox already has a post ${this.postId}; choose another id.`
  }
}

export class CommentExists extends Schema.TaggedError<CommentExists>()("CommentExists", {
  commentId: Schema.String
}) {
  override get message(): string {
    return `The sandbox already has a comment ${this.commentId}; choose another id or leave it out.`
  }
}

export class ProfileNotFound extends Schema.TaggedError<ProfileNotFound>()("ProfileNotFound", {
  profile: Schema.String
}) {
  override get message(): string {
    return `The sandbox has no profile ${JSON.stringify(this.profile)}; read the profiles first.`
  }
}

export class KeyNotFound extends Schema.TaggedError<KeyNotFound>()("KeyNotFound", {}) {
  override get message(): string {
    return "The sandbox has no such API key; only configured keys can be revoked or restored."
  }
}

export const ControlError = Schema.Union(PostNotFound, PostExists, CommentExists, ProfileNotFound, KeyNotFound)

/** A remote control call that did not get a usable answer. */
export class ControlRequestFailed extends Schema.TaggedError<ControlRequestFailed>()("ControlRequestFailed", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Sandbox control ${this.operation} failed: ${this.reason}. Check that the sandbox runs and the key matches.`
  }
}

export interface SandboxControl<E = never> {
  readonly deliveries: Effect.Effect<ReadonlyArray<Delivery.Delivery>, E>
  readonly addComment: (comment: NewComment) => Effect.Effect<DataSet.Comment, PostNotFound | CommentExists | E>
  readonly addPost: (post: NewPost) => Effect.Effect<PostSummary, PostExists | CommentExists | ProfileNotFound | E>
  /**
   * The person writes to the account: their 24-hour messaging window opens from the message's time and the message
   * shows in their conversation (sender: the person). A private reply does not do this; only a message does.
   */
  readonly personWrites: (message: NewMessage) => Effect.Effect<Message, ProfileNotFound | E>
  /** Starts a new day for the daily DM limit. */
  readonly resetDaily: Effect.Effect<void, E>
  readonly faults: Effect.Effect<Faults.Faults, E>
  /** Applies a partial update and returns the knobs now in force. */
  readonly setFaults: (patch: Faults.FaultsPatch) => Effect.Effect<Faults.Faults, E>
  readonly stats: Effect.Effect<Stats, E>
  /** Every profile's post ids, the first profile's first. */
  readonly postIds: Effect.Effect<ReadonlyArray<string>, E>
  readonly profiles: Effect.Effect<ReadonlyArray<ProfileState>, E>
  /** Puts a profile into "needs re-login" (or back), or changes its daily DM cap. */
  readonly setProfile: (name: string, patch: ProfilePatch) => Effect.Effect<ProfileState, ProfileNotFound | E>
  readonly keys: Effect.Effect<ReadonlyArray<KeyState>, E>
  /** Revokes a key (`revoked: true`: every request with it is then answered 401) or restores it. */
  readonly setKey: (patch: KeyPatch) => Effect.Effect<KeyState, KeyNotFound | E>
  readonly arrivals: Effect.Effect<ArrivalsSummary, E>
}

/** Bodies of the /__sandbox/ answers. */
export const DeliveriesBody = Schema.Struct({ deliveries: Schema.Array(Delivery.Delivery) })
export const CommentBody = Schema.Struct({ comment: DataSet.Comment })
export const PostBody = Schema.Struct({ post: PostSummary })
export const MessageBody = Schema.Struct({ message: Message })
export const FaultsBody = Schema.Struct({ faults: Faults.Faults })
export const PostIdsBody = Schema.Struct({ postIds: Schema.Array(Schema.String) })
export const ErrorBody = Schema.Struct({ error: ControlError })
export const ProfilesBody = Schema.Struct({ profiles: Schema.Array(ProfileState) })
export const ProfileBody = Schema.Struct({ profile: ProfileState })
export const KeysBody = Schema.Struct({ keys: Schema.Array(KeyState) })
export const KeyBody = Schema.Struct({ key: KeyState })

/**
 * Drives a sandbox in another process. `baseUrl` is the API base the sandbox prints ("http://127.0.0.1:8787/api");
 * the control endpoints live beside it under /__sandbox/.
 */
export const remote = (options: {
  readonly baseUrl: string
  readonly apiKey: string
}): Effect.Effect<SandboxControl<ControlRequestFailed>, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (httpClient) => {
    const client = httpClient.pipe(
      HttpClient.mapRequest((request) =>
        request.pipe(
          HttpClientRequest.prependUrl(`${new URL(options.baseUrl).origin}/__sandbox`),
          HttpClientRequest.setHeader("authorization", `Apikey ${options.apiKey}`)
        )
      )
    )
    const call = <A, I, E, EI>(
      operation: string,
      request: HttpClientRequest.HttpClientRequest,
      schema: Schema.Schema<A, I>,
      errors: Schema.Schema<E, EI>
    ): Effect.Effect<A, E | ControlRequestFailed> => {
      const failed = (reason: string) => new ControlRequestFailed({ operation, reason })
      return client.execute(request).pipe(
        Effect.mapError((error) => failed(error.message)),
        Effect.flatMap((response) =>
          response.status < 300
            ? HttpClientResponse.schemaBodyJson(schema)(response).pipe(
              Effect.mapError((error) => failed(error.message))
            )
            : HttpClientResponse.schemaBodyJson(Schema.Struct({ error: errors }))(response).pipe(
              Effect.mapError(() => failed(`status ${response.status}`)),
              Effect.flatMap((body) => Effect.fail(body.error))
            )
        )
      )
    }
    const json = (path: string, body: unknown) =>
      HttpClientRequest.post(path).pipe(HttpClientRequest.bodyUnsafeJson(body))
    return {
      deliveries: call("deliveries", HttpClientRequest.get("/deliveries"), DeliveriesBody, Schema.Never).pipe(
        Effect.map((body) => body.deliveries)
      ),
      addComment: (comment) =>
        call("add comment", json("/comments", comment), CommentBody, Schema.Union(PostNotFound, CommentExists))
          .pipe(Effect.map((body) => body.comment)),
      addPost: (post) =>
        call("add post", json("/posts", post), PostBody, Schema.Union(PostExists, CommentExists, ProfileNotFound)).pipe(
          Effect.map((body) => body.post)
        ),
      personWrites: (message) =>
        call("person writes", json("/messages", message), MessageBody, ProfileNotFound).pipe(
          Effect.map((body) => body.message)
        ),
      resetDaily: Effect.asVoid(call("reset daily", json("/reset-daily", {}), Schema.Unknown, Schema.Never)),
      faults: call("faults", HttpClientRequest.get("/faults"), FaultsBody, Schema.Never).pipe(
        Effect.map((body) => body.faults)
      ),
      setFaults: (patch) =>
        call("set faults", json("/faults", patch), FaultsBody, Schema.Never).pipe(Effect.map((body) => body.faults)),
      stats: call("stats", HttpClientRequest.get("/stats"), Stats, Schema.Never),
      postIds: call("post ids", HttpClientRequest.get("/posts"), PostIdsBody, Schema.Never).pipe(
        Effect.map((body) => body.postIds)
      ),
      profiles: call("profiles", HttpClientRequest.get("/profiles"), ProfilesBody, Schema.Never).pipe(
        Effect.map((body) => body.profiles)
      ),
      setProfile: (name, patch) =>
        call("set profile", json(`/profiles/${encodeURIComponent(name)}`, patch), ProfileBody, ProfileNotFound).pipe(
          Effect.map((body) => body.profile)
        ),
      keys: call("keys", HttpClientRequest.get("/keys"), KeysBody, Schema.Never).pipe(Effect.map((body) => body.keys)),
      setKey: (patch) =>
        call("set key", json("/keys", patch), KeyBody, KeyNotFound).pipe(Effect.map((body) => body.key)),
      arrivals: call("arrivals", HttpClientRequest.get("/arrivals"), ArrivalsSummary, Schema.Never)
    }
  })
