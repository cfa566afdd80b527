/** `CampaignSpec.fromCode`: the camelCase constructor for code, checked as the file decoder checks a file. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as CampaignSpec from "../src/CampaignSpec.js"

const minimal = {
  name: "summer-link",
  platform: "instagram",
  user: "studio",
  posts: ["17900000000000042"],
  message: "Hello {{username}}: the link is https://example.com/l"
} as const

/** What the code and the file forms write alike. */
const common = {
  ...minimal,
  posts: ["17900000000000001", "https://www.instagram.com/p/ABC123/"],
  match: { keywords: ["guide", "link"], mode: "contains", exclude: ["stop"] },
  delivery: "dm"
} as const

/** Each problem as `path: message`, as `CampaignSpecError` words it. */
const lines = (error: CampaignSpec.CampaignSpecError) =>
  error.issues.map((issue) => issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`)

describe("CampaignSpec.fromCode", () => {
  it.effect("builds the spec the file decoder builds from the same campaign in snake_case", () =>
    Effect.gen(function*() {
      const fromCode = yield* CampaignSpec.fromCode({
        ...common,
        message: undefined,
        messages: ["Hi {{username}}", "Hello {{username}}"],
        pace: { perHour: 30, concurrency: 2 },
        dailyReset: "07:30 UTC",
        maxSends: 12,
        account: { userId: "17841400000000000", username: "@shop" }
      })
      const fromFile = yield* CampaignSpec.decode({
        ...common,
        message: ["Hi {{username}}", "Hello {{username}}"],
        pace: { per_hour: 30, concurrency: 2 },
        daily_reset: "07:30 UTC",
        max_sends: 12,
        account: { user_id: "17841400000000000", username: "@shop" }
      })
      assert.deepStrictEqual(fromCode, fromFile)
      assert.deepStrictEqual(fromCode.pace, { perHour: 30, concurrency: 2 })
      assert.deepStrictEqual(fromCode.dailyReset, { _tag: "UtcTime", minutes: 450 })
      assert.deepStrictEqual(fromCode.account, { userId: "17841400000000000", username: "shop" })
      assert.strictEqual(fromCode.maxSends, 12)
    }))

  it.effect("applies the file's defaults to what is absent, a partial pace included", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* CampaignSpec.fromCode(minimal), yield* CampaignSpec.decode(minimal))
      const spec = yield* CampaignSpec.fromCode({ ...minimal, pace: { perHour: 50 }, match: { keywords: ["guide"] } })
      assert.deepStrictEqual(spec.pace, { perHour: 50, concurrency: 4 })
      assert.strictEqual(spec.match.mode, "word")
      assert.isFalse("maxSends" in spec)
    }))

  it.effect("fails with the file decoder's CampaignSpecError, every problem at its key as code names it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(CampaignSpec.fromCode({
        ...minimal,
        message: undefined,
        messages: ["Hi {{username}}", " "],
        pace: { perHour: 0, concurrency: 99 },
        dailyReset: "noon UTC",
        maxSends: -1,
        account: { userId: "not an id" }
      }))
      assert.strictEqual(error._tag, "CampaignSpecError")
      const file = yield* Effect.flip(CampaignSpec.decode({
        ...minimal,
        message: ["Hi {{username}}", " "],
        pace: { per_hour: 0, concurrency: 99 },
        daily_reset: "noon UTC",
        max_sends: -1,
        account: { user_id: "not an id" }
      }))
      const renamed = (line: string) =>
        line.replace(/^message/, "messages").replace("per_hour", "perHour").replace("daily_reset", "dailyReset")
          .replace("max_sends", "maxSends").replace("user_id", "userId")
      assert.deepStrictEqual(lines(error), lines(file).map(renamed))
      const paths = error.issues.map((issue) => issue.path)
      for (const path of ["messages[1]", "pace.perHour", "pace.concurrency", "dailyReset"]) {
        assert.include(paths, path)
      }
      assert.include(paths, "maxSends")
      assert.include(paths, "account.userId")
      assert.notInclude(error.message, "_")
      const unsafe = yield* Effect.flip(
        CampaignSpec.fromCode({ ...minimal, match: { mode: "regex", keywords: ["["] } })
      )
      const unsafeFile = yield* Effect.flip(
        CampaignSpec.decode({ ...minimal, match: { mode: "regex", keywords: ["["] } })
      )
      assert.deepStrictEqual(lines(unsafe), lines(unsafeFile))
      assert.match(lines(unsafe)[0]!, /^match\.keywords\[0\]: /)
    }))

  it.effect("refuses a key untyped code adds, suggesting the camelCase one", () =>
    Effect.gen(function*() {
      // As plain JavaScript or a spread of a wider object would pass it.
      const untyped: CampaignSpec.CodeInput = Object.assign({ ...minimal }, { maxsends: 3 })
      const error = yield* Effect.flip(CampaignSpec.fromCode(untyped))
      assert.deepStrictEqual(lines(error), ["unknown key \"maxsends\" (did you mean \"maxSends\"?)"])
      const pace: CampaignSpec.CodeInput = { ...minimal, pace: Object.assign({ concurrency: 2 }, { perhour: 9 }) }
      assert.deepStrictEqual(lines(yield* Effect.flip(CampaignSpec.fromCode(pace))), [
        "pace: unknown key \"perhour\" (did you mean \"perHour\"?)"
      ])
      const nullPace = JSON.parse(JSON.stringify({ ...minimal, pace: null })) as CampaignSpec.CodeInput
      assert.deepStrictEqual(lines(yield* Effect.flip(CampaignSpec.fromCode(nullPace))), [
        "pace: expected an object with perHour and concurrency, got null"
      ])
      const nothing = JSON.parse("null") as CampaignSpec.CodeInput
      assert.strictEqual((yield* Effect.flip(CampaignSpec.fromCode(nothing)))._tag, "CampaignSpecError")
    }))

  it.effect("a single message error is at message, and make still takes the file's form", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(CampaignSpec.fromCode({ ...minimal, message: "Hi {{nmae}}" }))
      assert.strictEqual(error.issues[0].path, "message")
      const made = yield* CampaignSpec.make({ ...minimal, pace: { per_hour: 7 }, max_sends: 1 })
      assert.deepStrictEqual([made.pace.perHour, made.maxSends], [7, 1])
    }))
})
