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
  generatedComments: Schema.optionalWith(Schema.NonNegativeInt, { exact: true })
})
export type NewPost = typeof NewPost.Type

/** A message a person writes to the account; time defaults to the sandbox's now. */
export const NewMessage = Schema.Struct({
  /** The person's platform-scoped id (a commenter's `user.id`). */
  userId: Schema.NonEmptyString,
  text: Schema.String,
  /** Shown in their conversation when the sandbox does not know the person's username. */
  username: Schema.optionalWith(Schema.String, { exact: true }),
  timestamp: Schema.optionalWith(DataSet.Timestamp, { exact: true })
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

export const Stats = Schema.Struct({
  /** Requests per API endpoint, keyed like "GET /uploadposts/comments". */
  requests: Schema.Record({ key: Schema.String, value: Schema.Number }),
  /** API answers per HTTP status, keyed like "200", "429". */
  responses: Schema.Record({ key: Schema.String, value: Schema.Number }),
  deliveries: Schema.Number,
  /** Sends counted against today's DM limit. */
  dailyCount: Schema.Number
})
export type Stats = typeof Stats.Type

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

export const ControlError = Schema.Union(PostNotFound, PostExists, CommentExists)

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
  readonly addPost: (post: NewPost) => Effect.Effect<PostSummary, PostExists | CommentExists | E>
  /**
   * The person writes to the account: their 24-hour messaging window opens from the message's time and the message
   * shows in their conversation (sender: the person). A private reply does not do this; only a message does.
   */
  readonly personWrites: (message: NewMessage) => Effect.Effect<Message, E>
  /** Starts a new day for the daily DM limit. */
  readonly resetDaily: Effect.Effect<void, E>
  readonly faults: Effect.Effect<Faults.Faults, E>
  /** Applies a partial update and returns the knobs now in force. */
  readonly setFaults: (patch: Faults.FaultsPatch) => Effect.Effect<Faults.Faults, E>
  readonly stats: Effect.Effect<Stats, E>
  readonly postIds: Effect.Effect<ReadonlyArray<string>, E>
}

/** Bodies of the /__sandbox/ answers. */
export const DeliveriesBody = Schema.Struct({ deliveries: Schema.Array(Delivery.Delivery) })
export const CommentBody = Schema.Struct({ comment: DataSet.Comment })
export const PostBody = Schema.Struct({ post: PostSummary })
export const MessageBody = Schema.Struct({ message: Message })
export const FaultsBody = Schema.Struct({ faults: Faults.Faults })
export const PostIdsBody = Schema.Struct({ postIds: Schema.Array(Schema.String) })
export const ErrorBody = Schema.Struct({ error: ControlError })

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
        call("add post", json("/posts", post), PostBody, Schema.Union(PostExists, CommentExists)).pipe(
          Effect.map((body) => body.post)
        ),
      personWrites: (message) =>
        call("person writes", json("/messages", message), MessageBody, Schema.Never).pipe(
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
      )
    }
  })
