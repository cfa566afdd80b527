/**
 * The official Upload-Post npm client against the sandbox: the sandbox must answer what the real client expects.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { UploadPost } from "upload-post"
import { DataSet, Sandbox } from "../src/index.js"

const Page = Schema.Struct({
  success: Schema.Literal(true),
  comments: Schema.Array(DataSet.Comment),
  pagination: Schema.Struct({ next_cursor: Schema.NullOr(Schema.String), has_next: Schema.Boolean })
})

describe("the official upload-post client", () => {
  it.scopedLive("reads a demo post's comments page by page to the end", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make()
      const client = new UploadPost(sandbox.apiKey)
      // The client's typings do not declare baseUrl, but it reads the field on every request.
      Object.assign(client, { baseUrl: sandbox.baseUrl })
      const postId = DataSet.postId(1)
      const ids: Array<string> = []
      let after: string | undefined
      let pages = 0
      do {
        const cursor = after
        const answer = yield* Effect.promise(() =>
          client.getPostComments({
            user: sandbox.profile,
            platform: "instagram",
            postId,
            limit: 25,
            ...(cursor === undefined ? {} : { after: cursor })
          })
        )
        const page = Schema.decodeUnknownSync(Page)(answer)
        ids.push(...page.comments.map((comment) => comment.id))
        after = page.pagination.next_cursor ?? undefined
        pages += 1
      } while (after !== undefined)
      assert.strictEqual(pages, 5)
      assert.strictEqual(ids.length, 110)
      assert.strictEqual(new Set(ids).size, 110)
    }))

  it.scopedLive("lists the profile with the account's identity, and sends a private reply but no DM outside the window", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make()
      const client = new UploadPost(sandbox.apiKey)
      Object.assign(client, { baseUrl: sandbox.baseUrl })
      const users = yield* Effect.promise(() => client.listUsers())
      assert.deepStrictEqual(users.profiles?.map((profile) => profile.username), ["demo"])
      assert.deepStrictEqual(users.profiles?.[0]?.social_accounts?.["instagram"], {
        username: sandbox.account.id,
        handle: sandbox.account.handle,
        display_name: sandbox.account.handle,
        reauth_required: false
      })
      const page = Schema.decodeUnknownSync(Page)(
        yield* Effect.promise(() =>
          client.getPostComments({ user: "demo", platform: "instagram", postId: "17900000000000003" })
        )
      )
      const newest = page.comments.find((comment) =>
        comment.user?.id !== undefined && comment.user.id !== sandbox.account.id
      )
      const reply = yield* Effect.promise(() =>
        client.replyToComment({ user: "demo", commentId: newest?.id ?? "", message: "Here is your guide" })
      )
      assert.strictEqual(reply.success, true)
      assert.deepStrictEqual((yield* sandbox.deliveries).map((d) => [d.kind, d.commentId]), [[
        "private_reply",
        newest?.id
      ]])
    }))

  it.scopedLive("surfaces the sandbox's error text through the client", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.make()
      const client = new UploadPost("wrong-key")
      Object.assign(client, { baseUrl: sandbox.baseUrl })
      const error = yield* Effect.flip(Effect.tryPromise(() => client.getPostComments({ user: "demo", postId: "1" })))
      assert.match(String(error.cause), /Upload-Post API error: Invalid API key/)
    }))
})
