import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as CampaignSpec from "../src/CampaignSpec.js"

const minimal = {
  name: "spring-guide",
  platform: "instagram",
  user: "my-profile",
  posts: ["17900000000000001"],
  message: "Hi @{{username}}"
} satisfies CampaignSpec.Input

/** The one problem of `api_key_env: value`. */
const problemOf = (value: unknown) =>
  Effect.map(Effect.flip(CampaignSpec.decode({ ...minimal, api_key_env: value })), (error) => {
    assert.lengthOf(error.issues, 1)
    assert.strictEqual(error.issues[0].path, "api_key_env")
    return error.message
  })

describe("CampaignSpec api_key_env", () => {
  it.effect("names the environment variable of the campaign's key; absent, the spec has none", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.decode({ ...minimal, api_key_env: "UPLOAD_POST_API_KEY_CLIENT_A" })
      assert.strictEqual(spec.apiKeyEnv, "UPLOAD_POST_API_KEY_CLIENT_A")
      assert.isFalse("apiKeyEnv" in (yield* CampaignSpec.decode(minimal)))
      const fromCode = yield* CampaignSpec.fromCode({ ...minimal, platform: "instagram", apiKeyEnv: "KEY_B" })
      assert.strictEqual(fromCode.apiKeyEnv, "KEY_B")
    }))

  it.effect("refuses a key written in its place, without quoting it", () =>
    Effect.gen(function*() {
      const keys = [
        "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl",
        "4F9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C",
        "sandbox-key",
        "abc 123",
        "KEY\u0000NUL"
      ]
      for (const key of keys) {
        const message = yield* problemOf(key)
        assert.include(message, "not the key itself", key)
        assert.notInclude(message, key)
      }
    }))

  it.effect("says what is expected of other values, never quoting them", () =>
    Effect.gen(function*() {
      assert.include(yield* problemOf("upload_post_key"), "write the name in capitals")
      for (const value of ["", 42, ["A"], { name: "A" }, "1ABC", "A".repeat(129)]) {
        const message = yield* problemOf(value)
        assert.include(message, "the name of the environment variable", JSON.stringify(value))
        if (typeof value === "string" && value.length > 0) assert.notInclude(message, value)
      }
    }))

  it.effect("suggests api_key_env for a misspelt key", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(CampaignSpec.decode({ ...minimal, api_keyenv: "KEY_A" }))
      assert.include(error.message, `did you mean "api_key_env"?`)
    }))
})
