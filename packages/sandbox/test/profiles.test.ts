/**
 * Several profiles and API keys: each profile's own posts, cap, account and conversations; keys that own some
 * profiles; keys revoked and profiles needing a new login while the sandbox runs.
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import type { DataSet } from "../src/index.js"
import { Control, Sandbox } from "../src/index.js"
import { now } from "./fixtures.js"
import { decode, Failure, get, post, type Target } from "./support.js"

const listed = (postId: string, prefix: string): DataSet.Listed => ({
  _tag: "Listed",
  posts: [{
    id: postId,
    comments: [
      { id: `${prefix}-c1`, text: "GUIDE please", timestamp: "2026-03-28T10:00:00+0000", user: { id: `${prefix}-u1` } },
      { id: `${prefix}-c2`, text: "guide!!", timestamp: "2026-03-28T11:00:00+0000", user: { id: `${prefix}-u2` } }
    ]
  }]
})

/** Two profiles: "alpha" (cap 1) and "beta" (cap 5); key-a owns alpha, key-ab owns both. */
const agency = <A, E, R>(f: (sandbox: Sandbox.SandboxHandle) => Effect.Effect<A, E, R>) =>
  Sandbox.make({
    now,
    profiles: [
      { name: "alpha", data: listed("a1", "a"), dailyDmLimit: 1, account: { userId: "17841400000000111" } },
      { name: "beta", data: listed("b1", "b"), dailyDmLimit: 5 }
    ],
    keys: [{ key: "key-a", profiles: ["alpha"] }, { key: "key-ab" }]
  }).pipe(Effect.flatMap(f))

const as = (sandbox: Sandbox.SandboxHandle, apiKey: string): Target => ({ baseUrl: sandbox.baseUrl, apiKey })

const comments = (target: Target, user: string, postId: string) =>
  get(target, "/uploadposts/comments", { platform: "instagram", user, post_id: postId })

const reply = (user: string, commentId: string) => ({
  platform: "instagram",
  user,
  comment_id: commentId,
  message: "Here is your guide"
})

describe("several profiles and keys", () => {
  it.scoped("serve each profile's own posts, and only to keys that own the profile", () =>
    agency((sandbox) =>
      Effect.gen(function*() {
        const keyA = as(sandbox, "key-a")
        const keyAb = as(sandbox, "key-ab")
        assert.strictEqual(sandbox.apiKey, "key-a")
        assert.strictEqual(sandbox.profile, "alpha")
        assert.deepStrictEqual(sandbox.keyNames, ["key-a", "key-ab"])
        assert.deepStrictEqual(yield* sandbox.postIds, ["a1", "b1"])

        assert.strictEqual((yield* comments(keyA, "alpha", "a1")).status, 200)
        const notOwned = yield* comments(keyA, "beta", "b1")
        assert.deepStrictEqual([notOwned.status, notOwned.body], [400, { success: false, error: "Invalid account" }])
        const sendNotOwned = yield* post(keyA, "/uploadposts/comments/reply", reply("beta", "b-c1"))
        assert.deepStrictEqual([sendNotOwned.status, decode(Failure)(sendNotOwned).error], [400, "Invalid account"])
        assert.strictEqual((yield* comments(keyAb, "beta", "b1")).status, 200)
        const otherProfilesPost = yield* comments(keyAb, "beta", "a1")
        assert.deepStrictEqual([otherProfilesPost.status, decode(Failure)(otherProfilesPost).message], [
          400,
          "Post not found"
        ])
        const otherProfilesComment = yield* post(keyAb, "/uploadposts/comments/reply", reply("beta", "a-c1"))
        assert.deepStrictEqual([otherProfilesComment.status, decode(Failure)(otherProfilesComment).error], [
          400,
          "Comment not found"
        ])

        assert.strictEqual((yield* get(keyA, "/uploadposts/users/beta")).status, 404)
        const betaAnswer = yield* get(keyAb, "/uploadposts/users/beta")
        assert.strictEqual(betaAnswer.status, 200)
        const listedA = (yield* get(keyA, "/uploadposts/users")).body
        const listedAb = (yield* get(keyAb, "/uploadposts/users")).body
        const names = (body: unknown) =>
          typeof body === "object" && body !== null && "profiles" in body && Array.isArray(body.profiles)
            ? body.profiles.map((profile: { readonly username?: unknown }) => profile.username)
            : []
        assert.deepStrictEqual(names(listedA), ["alpha"])
        assert.deepStrictEqual(names(listedAb), ["alpha", "beta"])
        assert.strictEqual((yield* get(keyA, "/uploadposts/users/beta", {}, "no-such-key")).status, 401)
      })
    ).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scoped("give each profile its own daily cap, account and conversations; deliveries name their profile", () =>
    agency((sandbox) =>
      Effect.gen(function*() {
        const keyAb = as(sandbox, "key-ab")
        assert.strictEqual((yield* post(keyAb, "/uploadposts/comments/reply", reply("alpha", "a-c1"))).status, 200)
        const capped = yield* post(keyAb, "/uploadposts/comments/reply", reply("alpha", "a-c2"))
        assert.deepStrictEqual([capped.status, decode(Failure)(capped).error], [429, "Daily DM limit exceeded."])
        assert.strictEqual((yield* post(keyAb, "/uploadposts/comments/reply", reply("beta", "b-c1"))).status, 200)
        assert.strictEqual((yield* post(keyAb, "/uploadposts/comments/reply", reply("beta", "b-c2"))).status, 200)

        const deliveries = yield* sandbox.deliveries
        assert.deepStrictEqual(deliveries.map((delivery) => [delivery.profile, delivery.commentId]), [
          ["alpha", "a-c1"],
          ["beta", "b-c1"],
          ["beta", "b-c2"]
        ])
        const stats = yield* sandbox.stats
        assert.deepStrictEqual(stats.profiles["alpha"], { requests: 2, rateLimited: 0, deliveries: 1, dailyCount: 1 })
        assert.deepStrictEqual(stats.profiles["beta"], { requests: 2, rateLimited: 0, deliveries: 2, dailyCount: 2 })

        const profiles = yield* sandbox.profiles
        assert.deepStrictEqual(profiles.map((profile) => [profile.name, profile.account.id, profile.dailyDmLimit]), [
          ["alpha", "17841400000000111", 1],
          ["beta", profiles[1]?.account.id ?? "", 5]
        ])
        assert.notStrictEqual(profiles[1]?.account.id, "17841400000000111")

        const conversations = (user: string) =>
          Effect.map(
            get(keyAb, "/uploadposts/dms/conversations", { platform: "instagram", user }),
            (answer) => JSON.stringify(answer.body)
          )
        const alpha = yield* conversations("alpha")
        const beta = yield* conversations("beta")
        assert.include(alpha, "a-u1")
        assert.notInclude(alpha, "b-u1")
        assert.include(beta, "b-u1")
        assert.notInclude(beta, "a-u1")
      })
    ).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scoped("revoke a key at run time over the control: 401 from then on, other keys unaffected, restorable", () =>
    agency((sandbox) =>
      Effect.gen(function*() {
        const keyA = as(sandbox, "key-a")
        const keyAb = as(sandbox, "key-ab")
        const remote = yield* Control.remote({ baseUrl: sandbox.baseUrl, apiKey: "key-ab" })
        assert.strictEqual((yield* comments(keyA, "alpha", "a1")).status, 200)

        const revoked = yield* remote.setKey({ key: "key-a", revoked: true })
        assert.deepStrictEqual(revoked, { key: "key-a", profiles: ["alpha"], plan: null, revoked: true })
        const refused = yield* comments(keyA, "alpha", "a1")
        assert.deepStrictEqual([refused.status, refused.body], [401, { success: false, message: "Invalid API key" }])
        assert.strictEqual((yield* get(keyA, "/uploadposts/me")).status, 401)
        assert.strictEqual(
          (yield* comments(keyAb, "alpha", "a1")).status,
          200,
          "another key of the profile still works"
        )
        // A revoked key still drives the control, so a test can undo what it did.
        const remoteA = yield* Control.remote({ baseUrl: sandbox.baseUrl, apiKey: "key-a" })
        assert.deepStrictEqual((yield* remoteA.keys).map((key) => [key.key, key.revoked]), [
          ["key-a", true],
          ["key-ab", false]
        ])

        const stats = yield* remote.stats
        assert.deepStrictEqual(stats.keys["key-a"], {
          requests: 3,
          rateLimited: 0,
          maxPerMinute: 3,
          maxPerTenMinutes: 3
        })
        assert.strictEqual(stats.keys["key-ab"]?.requests, 1)
        assert.deepStrictEqual(stats.responses, { "200": 2, "401": 2 })

        const unknown = yield* Effect.flip(remote.setKey({ key: "nope", revoked: true }))
        assert.strictEqual(unknown._tag, "KeyNotFound")
        yield* remote.setKey({ key: "key-a", revoked: false })
        assert.strictEqual((yield* comments(keyA, "alpha", "a1")).status, 200)
      })
    ).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scoped("put a profile into needs re-login at run time, and change its cap", () =>
    agency((sandbox) =>
      Effect.gen(function*() {
        const keyAb = as(sandbox, "key-ab")
        const remote = yield* Control.remote({ baseUrl: sandbox.baseUrl, apiKey: "key-ab" })
        const reauth = (user: string) =>
          Effect.map(get(keyAb, `/uploadposts/users/${user}`), (answer) => JSON.stringify(answer.body))
        assert.include(yield* reauth("beta"), `"reauth_required":false`)

        const state = yield* remote.setProfile("beta", { reauthRequired: true, dailyDmLimit: 0 })
        assert.deepStrictEqual([state.name, state.reauthRequired, state.dailyDmLimit], ["beta", true, 0])
        assert.include(yield* reauth("beta"), `"reauth_required":true`)
        assert.include(yield* reauth("alpha"), `"reauth_required":false`, "the other profile is untouched")
        const capped = yield* post(keyAb, "/uploadposts/comments/reply", reply("beta", "b-c1"))
        assert.strictEqual(capped.status, 429)

        const missing = yield* Effect.flip(remote.setProfile("gamma", { reauthRequired: true }))
        assert.strictEqual(missing._tag === "ProfileNotFound" && missing.profile, "gamma")
        const badPatch = yield* post(
          { baseUrl: `${new URL(sandbox.baseUrl).origin}/__sandbox`, apiKey: "key-ab" },
          "/profiles/beta",
          { reauth: true }
        )
        assert.strictEqual(badPatch.status, 400, "unknown keys are refused")
      })
    ).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scoped("add posts and messages to the profile named, keeping post ids unique across profiles", () =>
    agency((sandbox) =>
      Effect.gen(function*() {
        const remote = yield* Control.remote({ baseUrl: sandbox.baseUrl, apiKey: "key-ab" })
        yield* remote.addPost({ id: "b2", profile: "beta", generatedComments: 3 })
        const taken = yield* Effect.flip(remote.addPost({ id: "a1", profile: "beta" }))
        assert.strictEqual(taken._tag, "PostExists")
        const nobody = yield* Effect.flip(remote.addPost({ id: "z1", profile: "gamma" }))
        assert.strictEqual(nobody._tag, "ProfileNotFound")
        assert.deepStrictEqual((yield* sandbox.profiles).map((profile) => profile.postIds), [["a1"], ["b1", "b2"]])
        const added = yield* remote.addComment({ postId: "b2", text: "GUIDE" })
        assert.strictEqual((yield* comments(as(sandbox, "key-ab"), "beta", "b2")).status, 200)
        assert.include(JSON.stringify((yield* comments(as(sandbox, "key-ab"), "beta", "b2")).body), added.id)

        yield* remote.personWrites({ userId: "b-u1", text: "hi", profile: "beta" })
        const dm = (user: string) => ({ platform: "instagram", user, recipient_id: "b-u1", message: "hello" })
        assert.strictEqual((yield* post(as(sandbox, "key-ab"), "/uploadposts/dms/send", dm("beta"))).status, 200)
        const elsewhere = yield* post(as(sandbox, "key-ab"), "/uploadposts/dms/send", dm("alpha"))
        assert.strictEqual(elsewhere.status, 400, "writing to beta's account opens no window with alpha's")
      })
    ).pipe(Effect.provide(FetchHttpClient.layer)))

  it.effect("refuse to start on keys naming unknown profiles, duplicate names or a post in two profiles", () =>
    Effect.gen(function*() {
      const start = (options: Sandbox.SandboxOptions) =>
        Effect.scoped(Sandbox.make(options)).pipe(
          Effect.exit,
          Effect.map((exit) => Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "started")
        )
      assert.include(
        yield* start({ profiles: [{ name: "alpha" }], keys: [{ key: "k", profiles: ["beta"] }] }),
        `key "k" names profile "beta", which is not configured`
      )
      assert.include(
        yield* start({ profiles: [{ name: "alpha" }, { name: "alpha" }] }),
        `profile "alpha" is listed twice`
      )
      assert.include(yield* start({ profiles: [{ name: "a" }], keys: [{ key: "k" }, { key: "k" }] }), "listed twice")
      assert.include(
        yield* start({ profiles: [{ name: "a", data: listed("p", "x") }, { name: "b", data: listed("p", "y") }] }),
        "post id p belongs to two profiles"
      )
      assert.include(yield* start({ profiles: [{ name: "" }] }), `profile "" is empty or holds white space`)
      assert.include(yield* start({ profiles: [{ name: "a" }], keys: [{ key: "k\n" }] }), "holds white space")
      assert.strictEqual(yield* start({ profiles: [{ name: "a" }], keys: [{ key: "k" }] }), "started")
    }))
})
