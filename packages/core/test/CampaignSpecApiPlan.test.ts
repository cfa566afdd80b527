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

/** Every problem of `api_plan: value`, as `path: message`. */
const problemsOf = (value: unknown) =>
  Effect.map(
    Effect.flip(CampaignSpec.decode({ ...minimal, api_plan: value })),
    (error) => error.issues.map((issue) => `${issue.path}: ${issue.message}`)
  )

describe("CampaignSpec api_plan", () => {
  it.effect("reads the plan's limits, each optional; absent, the spec has none (its recorded version unchanged)", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.decode({
        ...minimal,
        api_plan: { per_minute: 250, per_10_minutes: 2500, per_profile_per_minute: 2 }
      })
      assert.deepStrictEqual(spec.apiPlan, { perMinute: 250, perTenMinutes: 2500, perProfilePerMinute: 2 })
      assert.deepStrictEqual((yield* CampaignSpec.decode({ ...minimal, api_plan: {} })).apiPlan, {})
      assert.isFalse("apiPlan" in (yield* CampaignSpec.decode(minimal)))
      const fromCode = yield* CampaignSpec.fromCode({ ...minimal, platform: "instagram", apiPlan: { perMinute: 60 } })
      assert.deepStrictEqual(fromCode.apiPlan, { perMinute: 60 })
    }))

  it.effect("refuses wrong values and unknown keys with the path of each", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* problemsOf({ per_minute: 0, per_10_minutes: 2.5, per_profile_per_minute: "2" }), [
        "api_plan.per_minute: expected a positive integer (at most 1000000), got 0",
        "api_plan.per_10_minutes: expected a positive integer (at most 1000000), got 2.5",
        "api_plan.per_profile_per_minute: expected a positive integer (at most 1000000), got \"2\""
      ])
      assert.deepStrictEqual(yield* problemsOf({ per_minutes: 60 }), [
        "api_plan: unknown key \"per_minutes\" (did you mean \"per_minute\"?)"
      ])
      assert.deepStrictEqual(yield* problemsOf("business"), [
        "api_plan: expected an object with per_minute, per_10_minutes and per_profile_per_minute, got \"business\""
      ])
      assert.deepStrictEqual(
        yield* problemsOf({ per_minute: -5, per_10_minutes: null, per_profile_per_minute: 1e30 }),
        [
          "api_plan.per_minute: expected a positive integer (at most 1000000), got -5",
          "api_plan.per_10_minutes: expected a positive integer (at most 1000000), got null",
          "api_plan.per_profile_per_minute: expected a positive integer (at most 1000000), got 1e+30"
        ]
      )
    }))

  it.effect("code gets the problems under its own names", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        CampaignSpec.fromCode({ ...minimal, platform: "instagram", apiPlan: { perTenMinutes: 0 } })
      )
      assert.deepStrictEqual(error.issues.map((issue) => `${issue.path}: ${issue.message}`), [
        "apiPlan.perTenMinutes: expected a positive integer (at most 1000000), got 0"
      ])
    }))
})
