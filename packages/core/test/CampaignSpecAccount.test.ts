/** The campaign file's optional `account`: the account itself, for a profile whose answer does not tell it. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as CampaignSpec from "../src/CampaignSpec.js"

const minimal = {
  name: "spring-guide",
  platform: "instagram",
  user: "my-profile",
  posts: ["17900000000000001"],
  message: "Hi @{{username}}"
}

const problems = (account: unknown) =>
  Effect.map(
    Effect.flip(CampaignSpec.decode({ ...minimal, account })),
    (error) => error.issues.map((issue) => `${issue.path}: ${issue.message}`)
  )

describe("CampaignSpec account", () => {
  it.effect("is optional: a file without it decodes as before", () =>
    Effect.map(CampaignSpec.decode(minimal), (spec) => assert.isFalse("account" in spec)))

  it.effect("takes user_id (a string or a number read exactly), username (a leading @ dropped), or both", () =>
    Effect.gen(function*() {
      const both = yield* CampaignSpec.decode({
        ...minimal,
        account: { user_id: " 17841400000000042 ", username: "@my.brand" }
      })
      assert.deepStrictEqual(both.account, { userId: "17841400000000042", username: "my.brand" })
      const number = yield* CampaignSpec.decode({ ...minimal, account: { user_id: 1789 } })
      assert.deepStrictEqual(number.account, { userId: "1789" })
      const big = yield* CampaignSpec.decode({ ...minimal, account: { user_id: 17841400000000042n } })
      assert.deepStrictEqual(big.account, { userId: "17841400000000042" })
      const name = yield* CampaignSpec.decode({ ...minimal, account: { username: "brand_01" } })
      assert.deepStrictEqual(name.account, { username: "brand_01" })
    }))

  it.effect("refuses an empty object, unknown keys, and ids or names with spaces, controls or nothing in them", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* problems({}), ["account: expected user_id, username or both, got {}"])
      assert.deepStrictEqual(yield* problems({ user_id: "1", handle: "x" }), [
        "account: unknown key \"handle\""
      ])
      const bad = yield* problems({ user_id: "17 84\u0000", username: "my brand\u001b[2J" })
      assert.strictEqual(bad.length, 2)
      assert.match(bad[0]!, /^account\.user_id: expected the account's user id/)
      assert.match(bad[1]!, /^account\.username: expected the account's @name/)
      assert.match((yield* problems({ user_id: "", username: "@" })).join("\n"), /user_id[\s\S]*username/)
      assert.match((yield* problems("me")).join(), /account: expected an object with user_id, username or both/)
      assert.match((yield* problems({ user_id: -5 })).join(), /user_id: expected the account's user id/)
    }))

  it.effect("suggests the key for a near miss at the top level", () =>
    Effect.map(
      Effect.flip(CampaignSpec.decode({ ...minimal, acount: { user_id: "1" } })),
      (error) => assert.include(error.message, "did you mean \"account\"?")
    ))
})
