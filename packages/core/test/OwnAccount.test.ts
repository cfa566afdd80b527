/**
 * The account itself: the profile endpoint read defensively (its envelope is unconfirmed), the campaign file's
 * override, the notice when nobody tells, and discovery dropping the account's own comments.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Discovery from "../src/campaign/Discovery.js"
import { Recorder } from "../src/campaign/Recording.js"
import * as Step from "../src/campaign/Step.js"
import type * as CampaignSpec from "../src/CampaignSpec.js"
import * as Ledger from "../src/Ledger.js"
import * as Matcher from "../src/Matcher.js"
import * as OwnAccount from "../src/OwnAccount.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as UploadPost from "../src/UploadPost.js"
import { services } from "./support/scriptedClient.js"
import { smallCampaign as campaign } from "./support/smallCampaign.js"
import * as TestHttpClient from "./support/testHttpClient.js"

/** Answers every request with `status` and `body`, and keeps the URLs asked. */
const answering = (status: number, body: unknown) => {
  const urls: Array<string> = []
  const layer = TestHttpClient.layer((request) => {
    urls.push(request.url)
    return { status, body: typeof body === "string" ? body : JSON.stringify(body) }
  })
  return { urls, layer }
}

const instagram = { username: "17841400000000042", handle: "@studio.gram", reauth_required: false }

const profileOf = (status: number, body: unknown) => {
  const transport = answering(status, body)
  return Effect.flatMap(UploadPost.UploadPost, (api) => api.profile({ user: "studio" })).pipe(
    Effect.either,
    Effect.provide(services(transport.layer)),
    Effect.map((result) => ({ result, urls: transport.urls }))
  )
}

describe("UploadPost.profile", () => {
  it.effect("reads the documented envelope: the Instagram account's id (username) and @name (handle)", () =>
    Effect.gen(function*() {
      const { result, urls } = yield* profileOf(200, {
        success: true,
        profile: {
          username: "studio",
          social_accounts: { instagram, tiktok: "", facebook: null, youtube: 5, linkedin: "Studio Ltd" }
        }
      })
      assert.strictEqual(result._tag, "Right")
      if (result._tag !== "Right") return
      assert.deepStrictEqual([...(result.right.accounts ?? new Map())], [
        ["instagram", { userId: "17841400000000042", handle: "studio.gram", reauthRequired: false }],
        ["linkedin", { userId: undefined, handle: undefined, reauthRequired: false }]
      ])
      assert.strictEqual(OwnAccount.fromProfile(result.right, "linkedin"), undefined, "connected, not named")
      assert.deepStrictEqual(OwnAccount.fromProfile(result.right, "instagram"), {
        userId: "17841400000000042",
        username: "studio.gram",
        source: "profile"
      })
      assert.strictEqual(OwnAccount.fromProfile(result.right, "tiktok"), undefined, "\"\" is not connected")
      assert.deepStrictEqual(urls, ["http://127.0.0.1:9/uploadposts/users/studio"])
    }))

  it.effect("reads a profile at the top level too, and a reauth_required account", () =>
    Effect.gen(function*() {
      const { result } = yield* profileOf(200, {
        success: true,
        social_accounts: { instagram: { ...instagram, reauth_required: true } }
      })
      assert.strictEqual(result._tag === "Right" && result.right.accounts?.get("instagram")?.reauthRequired, true)
    }))

  it.effect("an answer without social_accounts tells nothing; one that lies about its shape is malformed", () =>
    Effect.gen(function*() {
      const silent = yield* profileOf(200, { success: true })
      assert.isTrue(silent.result._tag === "Right" && silent.result.right.accounts === undefined)
      const lying = yield* profileOf(200, { success: true, profile: { social_accounts: ["instagram"] } })
      assert.strictEqual(lying.result._tag === "Left" && lying.result.left._tag, "MalformedResponse")
      const notJson = yield* profileOf(200, "<html>")
      assert.strictEqual(notJson.result._tag === "Left" && notJson.result.left._tag, "MalformedResponse")
    }))

  it.effect("a profile name with control characters or a slash stays one path segment", () =>
    Effect.gen(function*() {
      const transport = answering(404, { success: false, message: "Profile not found" })
      const result = yield* Effect.flatMap(UploadPost.UploadPost, (api) => api.profile({ user: "a/b\u0000\n?x" })).pipe(
        Effect.flip,
        Effect.provide(services(transport.layer))
      )
      assert.strictEqual(result._tag, "InvalidRequest")
      assert.deepStrictEqual(transport.urls, ["http://127.0.0.1:9/uploadposts/users/a%2Fb%00%0A%3Fx"])
    }))
})

describe("OwnAccount.resolve", () => {
  const resolve = (spec: CampaignSpec.CampaignSpec, status: number, body: unknown) => {
    const transport = answering(status, body)
    const notices: Array<string> = []
    return OwnAccount.resolve(spec, (text) => Effect.sync(() => void notices.push(text))).pipe(
      Effect.either,
      Effect.provide(services(transport.layer)),
      Effect.map((result) => ({ result, notices, requests: transport.urls.length }))
    )
  }

  it.effect("the campaign file's account wins, without a request", () =>
    Effect.gen(function*() {
      const spec = yield* campaign({ account: { user_id: "1789", username: "@Studio" } })
      const { notices, requests, result } = yield* resolve(spec, 500, {})
      assert.deepStrictEqual(result, Either.right({ userId: "1789", username: "Studio", source: "campaign" as const }))
      assert.deepStrictEqual([notices, requests], [[], 0])
    }))

  it.effect("the profile's answer otherwise; when it does not tell, one notice names the campaign key", () =>
    Effect.gen(function*() {
      const spec = yield* campaign()
      const told = yield* resolve(spec, 200, { profile: { social_accounts: { instagram } } })
      assert.strictEqual(told.result._tag === "Right" && told.result.right?.userId, "17841400000000042")
      assert.deepStrictEqual(told.notices, [])
      for (const [status, body] of [[200, { success: true }], [404, { success: false, message: "no" }]] as const) {
        const silent = yield* resolve(spec, status, body)
        assert.deepStrictEqual(silent.result, Either.right(undefined))
        assert.strictEqual(silent.notices.length, 1)
        assert.include(silent.notices[0], "account: { user_id: ..., username: ... }")
      }
    }))

  it.effect("a refused key fails: nothing else would work", () =>
    Effect.gen(function*() {
      const spec = yield* campaign()
      const { result } = yield* resolve(spec, 401, { success: false, message: "Invalid or expired token" })
      assert.strictEqual(result._tag === "Left" && result.left._tag, "Unauthorized")
    }))
})

describe("Discovery with the account known", () => {
  it.effect("drops the account's own comments (by id or by @name, any case) and counts them as dropped", () =>
    Effect.gen(function*() {
      const spec = yield* campaign()
      const recorder = new Recorder(spec.name, () => Effect.void, 0)
      const comment = (id: string, userId: string, username: string) => ({
        id,
        post: "p1",
        text: "the guide is here",
        timestamp: undefined,
        userId,
        username
      })
      const discoverer: Discovery.Discoverer = {
        spec,
        ledger: yield* Ledger.Ledger,
        recorder,
        matcher: Matcher.compile(spec.match),
        step: Step.stepsOf(spec)[0],
        ownAccount: { userId: "17841400000000042", username: "studio.gram", source: "profile" },
        rejudge: false
      }
      const targets = Discovery.targetsOf(discoverer, new Discovery.Seen(), {
        _tag: "Page",
        post: "p1",
        comments: [
          comment("c1", "17841400000000042", "studio.gram"),
          comment("c2", "2001", "anna"),
          comment("c3", "17841499999999999", "Studio.Gram")
        ]
      })
      assert.deepStrictEqual(targets.map((target) => target.userId), ["2001"])
      assert.deepStrictEqual(recorder.tally.dropped, { "the account's own comment": 2 })
    }).pipe(Effect.provide(SqliteLedger.layerMemory())))
})
