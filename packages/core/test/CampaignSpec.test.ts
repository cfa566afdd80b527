import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as Matcher from "../src/Matcher.js"
import * as Template from "../src/Template.js"

const minimal = {
  name: "spring-guide",
  platform: "instagram",
  user: "my-profile",
  posts: ["17900000000000001"],
  message: "Hi @{{username}}, here is your guide: https://example.com/g"
} satisfies CampaignSpec.Input

/** The messages of every problem `input` has, one line each. */
const problems = (input: unknown) =>
  Effect.map(Effect.flip(CampaignSpec.decode(input)), (error) => {
    assert.strictEqual(error._tag, "CampaignSpecError")
    return error.issues.map((issue) => issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`)
  })

describe("CampaignSpec", () => {
  it.effect("decodes a minimal campaign and applies every default", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.decode(minimal)
      assert.strictEqual(spec.name, "spring-guide")
      assert.strictEqual(spec.platform, "instagram")
      assert.strictEqual(spec.user, "my-profile")
      assert.deepStrictEqual(spec.posts, [{ _tag: "PostId", id: "17900000000000001" }])
      assert.deepStrictEqual(spec.match, Matcher.everyone)
      assert.strictEqual(spec.messages.length, 1)
      assert.strictEqual(spec.messages[0].source, minimal.message)
      assert.strictEqual(spec.delivery, "auto")
      assert.deepStrictEqual(spec.pace, { perHour: 200, concurrency: 4 })
      assert.isFalse("maxSends" in spec)
    }))

  it.effect("decodes every key of the file, snake_case to camelCase", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.decode({
        name: "  autumn  ",
        platform: "instagram",
        user: " me ",
        posts: ["17900000000000001", "https://www.instagram.com/p/ABC123/", 42],
        match: { keywords: ["guide", "link"], mode: "contains", exclude: ["stop"] },
        message: ["Hi {{username}}", "Hello {{ username }}, {{keyword}}"],
        delivery: "private_reply",
        pace: { per_hour: 60, concurrency: 2 },
        max_sends: 0
      })
      assert.strictEqual(spec.name, "autumn")
      assert.strictEqual(spec.user, "me")
      assert.deepStrictEqual(spec.posts, [
        { _tag: "PostId", id: "17900000000000001" },
        { _tag: "PostUrl", url: "https://www.instagram.com/p/ABC123/" },
        { _tag: "PostId", id: "42" }
      ])
      assert.deepStrictEqual<Matcher.MatchSpec>(spec.match, {
        mode: "contains",
        keywords: ["guide", "link"],
        exclude: ["stop"]
      })
      assert.deepStrictEqual(spec.messages.map((template) => template.source), [
        "Hi {{username}}",
        "Hello {{ username }}, {{keyword}}"
      ])
      assert.strictEqual(spec.delivery, "private_reply")
      assert.deepStrictEqual(spec.pace, { perHour: 60, concurrency: 2 })
      assert.strictEqual(spec.maxSends, 0)
    }))

  it.effect("defaults the match mode to word and fills the pace keys left out", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.decode({ ...minimal, match: { keywords: ["guide"] }, pace: { per_hour: 50 } })
      assert.deepStrictEqual<Matcher.MatchSpec>(spec.match, { mode: "word", keywords: ["guide"], exclude: [] })
      assert.deepStrictEqual(spec.pace, { perHour: 50, concurrency: 4 })
    }))

  it.effect("builds a campaign in code with make, and encodes it back to the file's shape", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.make({ ...minimal, match: { keywords: ["guide"] }, max_sends: 10 })
      const encoded = Schema.encodeSync(CampaignSpec.CampaignSpec)(spec)
      assert.deepStrictEqual(encoded, {
        ...minimal,
        match: { keywords: ["guide"], mode: "word", exclude: [] },
        delivery: "auto",
        pace: { per_hour: 200, concurrency: 4 },
        daily_reset: "00:00 UTC",
        max_sends: 10
      })
    }))

  it("daily_reset: the first assumed reset after the limit was reached, at a UTC time of day or 24 hours on", () => {
    const at = (iso: string) => Date.parse(iso)
    const utc = (minutes: number): CampaignSpec.DailyReset => ({ _tag: "UtcTime", minutes })
    assert.strictEqual(CampaignSpec.assumedReset(utc(0), at("2026-03-28T22:00:00Z")), at("2026-03-29T00:00:00Z"))
    assert.strictEqual(CampaignSpec.assumedReset(utc(390), at("2026-03-28T05:00:00Z")), at("2026-03-28T06:30:00Z"))
    assert.strictEqual(CampaignSpec.assumedReset(utc(390), at("2026-03-28T06:30:00Z")), at("2026-03-29T06:30:00Z"))
    assert.strictEqual(
      CampaignSpec.assumedReset({ _tag: "Rolling" }, at("2026-03-28T22:15:00Z")),
      at("2026-03-29T22:15:00Z")
    )
  })

  it.effect("daily_reset: \"HH:MM UTC\" or rolling; anything else is refused naming the key", () =>
    Effect.gen(function*() {
      const reset = (value: unknown) =>
        Effect.map(CampaignSpec.decode({ ...minimal, daily_reset: value }), (spec) => spec.dailyReset)
      assert.deepStrictEqual(yield* reset("06:30 UTC"), { _tag: "UtcTime", minutes: 390 })
      assert.deepStrictEqual(yield* reset("rolling"), { _tag: "Rolling" })
      for (const bad of ["24:00 UTC", "6:30 UTC", "06:30", "06:30 utc ", "", 630]) {
        assert.deepStrictEqual(yield* problems({ ...minimal, daily_reset: bad }), [
          `daily_reset: expected "HH:MM UTC" (such as "00:00 UTC") or "rolling", got ${JSON.stringify(bad)}`
        ])
      }
    }))

  describe("refusals name the key", () => {
    it.effect("wrong types and ranges, all reported at once", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(
          yield* problems({
            ...minimal,
            name: 5,
            platform: "instagrm",
            user: "  ",
            pace: { per_hour: -3, concurrency: 40 },
            max_sends: 1.5
          }),
          [
            "name: expected a non-empty string, got 5",
            `platform: expected one of "instagram", "facebook", "youtube", "linkedin", got "instagrm" (did you mean "instagram"?)`,
            `user: expected a non-empty string, got "  "`,
            "pace.per_hour: expected a positive integer, got -3",
            "pace.concurrency: expected an integer from 1 to 32, got 40",
            "max_sends: expected a non-negative integer, got 1.5"
          ]
        )
        assert.deepStrictEqual(yield* problems({ ...minimal, pace: 5 }), [
          "pace: expected an object with per_hour and concurrency, got 5"
        ])
        assert.deepStrictEqual(yield* problems({ ...minimal, match: { keywords: "guide" } }), [
          `match.keywords: expected a list of strings such as [guide, link], got "guide"`
        ])
        assert.deepStrictEqual(yield* problems({ ...minimal, match: { keywords: ["guide", 5], mode: "wrd" } }), [
          "match.keywords[1]: expected a string, got 5",
          `match.mode: expected one of "word", "contains", "exact", "regex", "any", got "wrd" (did you mean "word"?)`
        ])
      }))

    it.effect("something other than a campaign", () =>
      Effect.gen(function*() {
        for (const input of [null, 5, "campaign", []]) {
          const found = yield* problems(input)
          assert.strictEqual(found.length, 1)
          assert.match(found[0]!, /^expected a campaign: an object with name, platform, user, posts and message, got/)
        }
        assert.deepStrictEqual(yield* problems({}), [
          "name: required key is missing",
          "platform: required key is missing",
          "user: required key is missing",
          "posts: required key is missing",
          "message: required key is missing"
        ])
      }))

    it.effect("unknown keys anywhere, with a suggestion when one is close", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(
          yield* problems({
            ...minimal,
            mach: { keywords: ["guide"] },
            maxSends: 3,
            colour: "red",
            pace: { per_hr: 3 },
            match: { keyword: ["guide"], mode: "word" }
          }),
          [
            `unknown key "mach" (did you mean "match"?)`,
            `unknown key "maxSends" (did you mean "max_sends"?)`,
            `unknown key "colour"`,
            `match: unknown key "keyword" (did you mean "keywords"?)`,
            `pace: unknown key "per_hr" (did you mean "per_hour"?)`
          ]
        )
      }))

    it.effect("posts: recent follows the newest posts, 5 by default or { recent: N } from 1 to 50", () =>
      Effect.gen(function*() {
        const recent = yield* CampaignSpec.decode({ ...minimal, posts: "recent" })
        assert.deepStrictEqual(recent.posts, [{ _tag: "Recent", count: CampaignSpec.defaultRecentCount }])
        const ten = yield* CampaignSpec.decode({ ...minimal, posts: { recent: 10 } })
        assert.deepStrictEqual(ten.posts, [{ _tag: "Recent", count: 10 }])
        const tooMany = yield* problems({ ...minimal, posts: { recent: 500 } })
        assert.strictEqual(tooMany.length, 1)
        assert.match(tooMany[0]!, /^posts/)
      }))

    it.effect("no posts, bad posts, duplicate posts", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* problems({ ...minimal, posts: [] }), [
          "posts: expected at least one post id or URL, got []"
        ])
        assert.deepStrictEqual(yield* problems({ ...minimal, posts: "17900000000000001" }), [
          `posts: expected a list of post ids or URLs, or recent, or { recent: N }, got "17900000000000001"`
        ])
        assert.deepStrictEqual(
          yield* problems({
            ...minimal,
            posts: [
              "179",
              "179",
              "not an id",
              "http://www.instagram.com/p/ABC/",
              "https://www.instagram.com/p/ABC/",
              "https://www.instagram.com/p/ABC#comments",
              17900000000000001,
              "https://"
            ]
          }),
          [
            `posts[1]: duplicate of posts[0] ("179")`,
            `posts[2]: expected a post id (letters, digits, "_" and "-") or an https URL, got "not an id"`,
            `posts[3]: post URLs must use https, got "http://www.instagram.com/p/ABC/"`,
            `posts[5]: duplicate of posts[4] ("https://www.instagram.com/p/ABC/")`,
            "posts[6]: 17900000000000000 is too large to be exact as a number; write the post id as a string, in quotes",
            `posts[7]: "https://" is not a valid URL`
          ]
        )
        assert.deepStrictEqual(yield* problems({ ...minimal, posts: ["1", true] }), [
          "posts[1]: expected a post id or an https URL, got true"
        ])
      }))

    it.effect("exact post ids from YAML integers (bigint) are accepted", () =>
      Effect.gen(function*() {
        const spec = yield* CampaignSpec.decode({ ...minimal, posts: [17900000000000001n] })
        assert.deepStrictEqual(spec.posts, [{ _tag: "PostId", id: "17900000000000001" }])
      }))

    it.effect("templates: unknown variables, broken braces, empty messages", () =>
      Effect.gen(function*() {
        const [unknown] = yield* problems({ ...minimal, message: "Hi {{usrname}}" })
        assert.match(
          unknown!,
          /^message: unknown template variable \{\{usrname\}\} \(did you mean \{\{username\}\}\?\)/
        )
        assert.deepStrictEqual(
          yield* problems({ ...minimal, message: ["ok {{username}}", "Hi {{username", "", "a }}"] }),
          [
            `message[1]: unclosed "{{" at character 4 ("Hi {{username"); write \\{{ for literal braces`,
            "message[2]: is empty; write the message to send",
            `message[3]: stray "}}" without an opening "{{" at character 3 ("a }}"); write \\}} for literal braces`
          ]
        )
        assert.deepStrictEqual(yield* problems({ ...minimal, message: [] }), [
          "message: expected at least one message variant, got []"
        ])
        assert.deepStrictEqual(yield* problems({ ...minimal, message: 5 }), [
          "message: expected a message (a string) or a list of message variants (strings), got 5"
        ])
      }))

    it.effect("a message whose fixed text is over the platform's limit", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* problems({ ...minimal, message: `{{username}}${"x".repeat(1001)}` }), [
          "message: its fixed text alone is too long: message is 1,001 characters; instagram allows 1,000"
        ])
        const spec = yield* CampaignSpec.decode({ ...minimal, platform: "facebook", message: "x".repeat(1001) })
        assert.strictEqual(Template.staticText(spec.messages[0]).length, 1001)
      }))

    it.effect("private_reply anywhere but instagram", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* problems({ ...minimal, platform: "facebook", delivery: "private_reply" }), [
          `delivery: private_reply works only on instagram; use delivery "dm" on facebook`
        ])
        assert.deepStrictEqual(yield* problems({ ...minimal, delivery: "dms" }), [
          `delivery: expected one of "auto", "dm", "private_reply", got "dms" (did you mean "dm"?)`
        ])
      }))

    it.effect("match: bad regexes, missing keywords", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(
          yield* problems({ ...minimal, match: { mode: "regex", keywords: ["gu[ií]de", "(a+)+", "(", "(a)\\1"] } }),
          [
            `match.keywords[2]: regex "(" is refused: missing closing ) at "(" (keywords use RE2 syntax, which matches in linear time)`,
            `match.keywords[3]: regex "(a)\\\\1" is refused: backreferences such as "\\1" are not supported (keywords use RE2 syntax, which matches in linear time)`
          ]
        )
        assert.deepStrictEqual(yield* problems({ ...minimal, match: { mode: "word" } }), [
          `match.keywords: mode "word" needs at least one keyword`
        ])
        assert.deepStrictEqual(yield* problems({ ...minimal, match: { keywords: ["guide", "\u200b"] } }), [
          `match.keywords[1]: keyword "\u200b" is empty once case, accents and invisible characters are ignored`
        ])
        assert.deepStrictEqual(yield* problems({ ...minimal, match: null }), [
          "match: expected an object with keywords, mode and exclude, got null"
        ])
      }))
  })

  it.effect("the error message lists every problem, one a line", () =>
    Effect.gen(function*() {
      const single = yield* Effect.flip(CampaignSpec.decode({ ...minimal, pace: { per_hour: -3 } }))
      assert.strictEqual(single.message, "pace.per_hour: expected a positive integer, got -3")
      const several = yield* Effect.flip(CampaignSpec.decode({ ...minimal, name: "", mach: 1 }))
      assert.strictEqual(
        several.message,
        `2 problems:\n  - unknown key "mach" (did you mean "match"?)\n  - name: expected a non-empty string, got ""`
      )
    }))
})
