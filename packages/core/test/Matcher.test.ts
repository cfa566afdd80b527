import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck, Option } from "effect"
import { fold, foldFully, latinRange, plainRanges } from "../src/internal/fold.js"
import * as Matcher from "../src/Matcher.js"

const matcher = (mode: Matcher.Mode, keywords: ReadonlyArray<string>, exclude: ReadonlyArray<string> = []) =>
  Either.getOrThrow(Matcher.make({ mode, keywords, exclude }))

const expectMatches = (self: Matcher.Matcher, comments: ReadonlyArray<string>, keyword: string) => {
  for (const comment of comments) {
    assert.deepStrictEqual(
      Matcher.match(self, comment),
      Option.some(keyword),
      `should match ${JSON.stringify(comment)}`
    )
  }
}

const expectNoMatch = (self: Matcher.Matcher, comments: ReadonlyArray<string>) => {
  for (const comment of comments) {
    assert.deepStrictEqual(Matcher.match(self, comment), Option.none(), `should not match ${JSON.stringify(comment)}`)
  }
}

describe("Matcher", () => {
  describe("word mode", () => {
    const guide = matcher("word", ["guide"])

    it("finds the keyword as a whole word, whatever the case, width, accents or punctuation", () => {
      expectMatches(guide, [
        "GUIDE please",
        "guíde🔥",
        "ＧＵＩＤＥ",
        "guide!!",
        "#guide",
        "Guide",
        "can I get the guide?",
        "(guide)",
        "guide\u200b",
        "gu\u200bide",
        "𝐠𝐮𝐢𝐝𝐞",
        "求guide谢谢"
      ], "guide")
    })

    it("does not find the keyword inside a longer word", () => {
      expectNoMatch(guide, ["guidelines", "misguided", "guides", "guide2", "", "gui de", "g-u-i-d-e"])
    })

    it("works for Cyrillic", () => {
      const self = matcher("word", ["гайд"])
      expectMatches(self, ["Хочу ГАЙД!", "гайд, пожалуйста", "ГАЙД"], "гайд")
      expectNoMatch(self, ["гайды", "мегайд"])
    })

    it("works for Arabic, with or without vowel marks", () => {
      const self = matcher("word", ["دليل"])
      expectMatches(self, ["أريد دليل من فضلك", "دَلِيل", "دليل؟"], "دليل")
      expectNoMatch(self, ["دليلين"])
    })

    it("matches keywords in scripts written without spaces anywhere in the comment", () => {
      expectMatches(matcher("word", ["攻略"]), ["求攻略谢谢", "攻略"], "攻略")
      expectMatches(matcher("word", ["ガイド"]), ["ガイドください", "この ガイド"], "ガイド")
      expectMatches(matcher("word", ["가이드"]), ["가이드주세요"], "가이드")
      expectNoMatch(matcher("word", ["攻略"]), ["求指南"])
    })

    it("matches emoji-only keywords anywhere, with or without variation selectors", () => {
      expectMatches(matcher("word", ["🔥"]), ["guide🔥", "🔥🔥🔥", "x🔥x", "🔥"], "🔥")
      expectMatches(matcher("word", ["❤️"]), ["❤", "❤️", "I ❤️ this"], "❤️")
      expectMatches(matcher("word", ["❤"]), ["❤️"], "❤")
      expectMatches(matcher("word", ["👨‍👩‍👧"]), ["we 👨‍👩‍👧!"], "👨‍👩‍👧")
      expectNoMatch(matcher("word", ["🔥"]), ["fire", "❤️"])
    })

    it("matches a phrase across any run of whitespace", () => {
      const self = matcher("word", ["send me"])
      expectMatches(self, ["SEND   me please", "send\nme", "pls send me!"], "send me")
      expectNoMatch(self, ["sendme", "send it to me", "resend me"])
    })

    it("reports the keyword as written in the campaign, the first one found in the comment", () => {
      const self = matcher("word", ["GUIDE", "Link"])
      assert.deepStrictEqual(Matcher.match(self, "the link and the guide"), Option.some("Link"))
      assert.deepStrictEqual(Matcher.match(self, "guide"), Option.some("GUIDE"))
    })

    it("supports the data-last form", () => {
      assert.deepStrictEqual(Matcher.match("guide")(guide), Option.some("guide"))
    })
  })

  describe("other modes", () => {
    it("contains: a substring of the folded comment", () => {
      const self = matcher("contains", ["guide", "دليل"])
      expectMatches(self, ["guidelines", "MISGUIDED", "ＧＵＩＤＥ"], "guide")
      expectMatches(self, ["الدليل"], "دليل")
      expectNoMatch(self, ["gui de"])
    })

    it("exact: the whole comment, folded and trimmed, nothing else ignored", () => {
      const self = matcher("exact", ["guide"])
      expectMatches(self, ["guide", "  GUIDE  ", "Guíde", "ＧＵＩＤＥ\n"], "guide")
      expectNoMatch(self, ["guide!", "guide please", "the guide", "guide 🔥"])
    })

    it("regex: tried on the folded comment and on the comment as written", () => {
      const self = matcher("regex", ["^gu[ií]de\\d?$", "café"])
      expectMatches(self, ["Guide2", "ＧＵＩＤＥ", "guíde"], "^gu[ií]de\\d?$")
      expectMatches(self, ["un CAFÉ"], "café")
      expectNoMatch(self, ["guides", "cafe"])
    })

    it("regex: reads the whole comment, in time linear in its length", () => {
      const self = matcher("regex", ["guide$", "(x?a|a)*!"])
      expectMatches(self, [`${"x".repeat(100_000)}guide`], "guide$")
      expectNoMatch(self, ["a".repeat(100_000), " ".repeat(100_000)])
      expectMatches(self, [`${"a".repeat(100_000)}!`], "(x?a|a)*!")
    })

    it("regex: case-insensitive and Unicode-aware, as JavaScript's `iu` flags were", () => {
      expectMatches(matcher("regex", ["^\\p{Cyrillic}+$"]), ["ГАЙД"], "^\\p{Cyrillic}+$")
      expectMatches(matcher("regex", ["^.$"]), ["🔥"], "^.$")
      expectMatches(matcher("regex", ["ΣΟΦΊΑ"]), ["σοφία"], "ΣΟΦΊΑ")
      expectMatches(matcher("regex", ["\\x{1F525}"]), ["guide🔥"], "\\x{1F525}")
      expectNoMatch(matcher("regex", ["^\\w+$"]), ["guide🔥"])
    })

    it("any: every comment, with the empty string as its keyword", () => {
      const self = Matcher.compile(Matcher.everyone)
      expectMatches(self, ["", "anything", "\ud800"], "")
    })
  })

  describe("exclude", () => {
    it("drops a comment with any exclude term, whatever the mode", () => {
      for (const mode of ["word", "contains", "exact", "regex"] as const) {
        expectNoMatch(matcher(mode, ["guide"], ["stop", "👎"]), ["guide STOP", "guide 👎", "guide stop!"])
      }
      expectNoMatch(matcher("any", [], ["stop"]), ["please stop"])
      expectMatches(matcher("any", [], ["stop"]), ["please go on"], "")
    })

    it("uses word semantics: a longer word that contains the term does not exclude", () => {
      expectMatches(matcher("word", ["guide"], ["stop"]), ["guide on my stopwatch"], "guide")
      expectNoMatch(matcher("word", ["guide"], ["停止"]), ["guide请停止"])
    })
  })

  describe("validate", () => {
    const problems = (spec: Matcher.MatchSpec) => Matcher.validate(spec).map((problem) => problem.path.join("."))

    it("accepts good specs", () => {
      assert.deepStrictEqual(problems(Matcher.everyone), [])
      assert.deepStrictEqual(problems({ mode: "word", keywords: ["guide", "🔥"], exclude: ["stop"] }), [])
      assert.deepStrictEqual(
        problems({
          mode: "regex",
          keywords: ["(foo|bar)+", "gu[ií]de", "(a{3})+", "\\p{L}+", "(?<n>a|b)+", "(?P<n>a)", "[[:alpha:]]"],
          exclude: []
        }),
        []
      )
    })

    it("wants keywords exactly when the mode uses them", () => {
      assert.deepStrictEqual(problems({ mode: "word", keywords: [], exclude: [] }), ["keywords"])
      assert.deepStrictEqual(problems({ mode: "any", keywords: ["guide"], exclude: [] }), ["keywords"])
    })

    it("refuses keywords and exclude terms that fold to nothing", () => {
      assert.deepStrictEqual(
        problems({ mode: "contains", keywords: ["ok", "", "\u200b", " "], exclude: ["\ufe0f"] }),
        ["keywords.1", "keywords.2", "keywords.3", "exclude.0"]
      )
    })

    it("accepts every RE2 pattern, those that backtrack catastrophically in JavaScript included", () => {
      const catastrophic = [
        ".*.*.*x",
        "\\s*\\s*\\s*\\s*!",
        "(\\w|a)*!",
        "(\\w|\\d)*!",
        "(x?a|a)*!",
        "(a+)+",
        "(a|aa)*$"
      ]
      assert.deepStrictEqual(problems({ mode: "regex", keywords: catastrophic, exclude: [] }), [])
      const self = matcher("regex", catastrophic)
      const started = performance.now()
      expectNoMatch(self, ["a".repeat(2000), " ".repeat(2000), "ab".repeat(1000)])
      assert.isBelow(performance.now() - started, 2000, "linear time")
    })

    it("refuses what RE2 lacks or cannot parse, saying why", () => {
      const refused: ReadonlyArray<readonly [string, string]> = [
        ["(a)\\1", `backreferences such as "\\1" are not supported`],
        ["(?<x>a)\\k<x>", `backreferences such as "\\k" are not supported`],
        ["(?=a)b", "lookahead such as"],
        ["a(?!b)", "lookahead such as"],
        ["(?<=a)b", "lookbehind such as"],
        ["(?<!a)b", "lookbehind such as"],
        ["\\u0041", `"\\u" escapes are not supported; write a character as \\x{0041}`],
        ["(", `missing closing ) at "("`],
        ["[", `missing closing ] at "["`],
        ["a{2,1}", `invalid repeat count at "{2,1}"`],
        ["a**", "invalid nested repetition operator"],
        ["\\p{scx=Han}", "invalid character class range"],
        ["(?:a{1,1000}b?){1,1000}", "expression too large"]
      ]
      for (const [pattern, reason] of refused) {
        const found = Matcher.validate({ mode: "regex", keywords: ["ok", pattern], exclude: [] })
        assert.strictEqual(found.length, 1, `should refuse ${pattern}`)
        assert.deepStrictEqual(found[0]?.path, ["keywords", 1])
        assert.include(found[0]?.message, `regex ${JSON.stringify(pattern)} is refused: ${reason}`)
        assert.include(found[0]?.message, "RE2 syntax")
        assert.notInclude(found[0]?.message, "(?i)")
      }
    })
  })

  describe("folding", () => {
    it("takes the fast path only where it agrees with the full folding", () => {
      for (const [low, high] of plainRanges) {
        for (let codePoint = low; codePoint <= high; codePoint++) {
          const text = `A${String.fromCodePoint(codePoint)}\u200d\ufe0fb`
          assert.strictEqual(fold(text), foldFully(text), `U+${codePoint.toString(16)}`)
        }
      }
    })

    it("folds every pair of Latin and ASCII characters as the full folding does", () => {
      const chars = [
        ...Array.from({ length: latinRange[1] - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)),
        "\u200d",
        "\ufe0f",
        "🔥",
        "“"
      ]
      for (const first of chars) {
        for (const second of chars) {
          const text = `${first}${second}`
          if (fold(text) !== foldFully(text)) assert.fail(`${JSON.stringify(text)} folds differently`)
        }
      }
    })

    it.prop("is idempotent", [FastCheck.string({ unit: "binary" })], ([text]) => {
      assert.strictEqual(fold(fold(text)), fold(text))
    })

    it.prop(
      "agrees with the full folding on ASCII, Latin letters, emoji and joiners",
      [
        FastCheck.array(
          FastCheck.constantFrom(
            "a",
            "Z",
            " ",
            "!",
            "❤",
            "\ufe0f",
            "\u200d",
            "🔥",
            "“",
            "—",
            "✅",
            "É",
            "ß",
            "ǅ",
            "\u00ad"
          )
        )
      ],
      ([chars]) => {
        const text = chars.join("")
        assert.strictEqual(fold(text), foldFully(text))
      }
    )
  })

  describe("properties", () => {
    const latinWord = FastCheck.stringMatching(/^[a-z]{1,10}$/)
    const separator = FastCheck.constantFrom(" ", "  ", ",", "!", "?", ".", "#", "\n", "(", ")", "🔥", "\u3000")
    const anyText = FastCheck.string({ unit: "binary", maxLength: 30 })

    it.prop(
      "word mode: a keyword between separators in any text matches",
      [latinWord, anyText, separator, separator, anyText],
      ([keyword, before, left, right, after]) => {
        const comment = `${before}${left}${keyword.toUpperCase()}${right}${after}`
        assert.isTrue(Option.isSome(Matcher.match(matcher("word", [keyword]), comment)), JSON.stringify(comment))
      }
    )

    it.prop(
      "word mode: a keyword glued between Latin letters never matches",
      [latinWord, latinWord, latinWord],
      ([prefix, keyword, suffix]) => {
        assert.isTrue(Option.isNone(Matcher.match(matcher("word", [keyword]), `${prefix}${keyword}${suffix}`)))
      }
    )

    const variant = FastCheck.constantFrom(
      (char: string) => char.toUpperCase(),
      (char: string) => String.fromCharCode(char.charCodeAt(0) + 0xfee0),
      (char: string) => `${char}\u0301`,
      (char: string) => String.fromCodePoint(0x1d41a + char.charCodeAt(0) - 0x61),
      (char: string) => char
    )

    it.prop(
      "word mode: case, width, accent and style variants of a keyword match",
      [latinWord, FastCheck.array(variant, { minLength: 10, maxLength: 10 })],
      ([keyword, variants]) => {
        const written = Array.from(keyword, (char, i) => variants[i]!(char)).join("")
        const self = matcher("word", [keyword])
        assert.deepStrictEqual(Matcher.match(self, `ok ${written}!`), Option.some(keyword), written)
      }
    )

    const specs = [
      Matcher.everyone,
      { mode: "word", keywords: ["guide", "🔥", "攻略", "send me"], exclude: ["stop"] },
      { mode: "contains", keywords: ["guide"], exclude: ["❤️"] },
      { mode: "exact", keywords: ["guide"], exclude: [] },
      { mode: "regex", keywords: ["gu[ií]de", "^\\p{L}+$"], exclude: ["stop"] }
    ] as const satisfies ReadonlyArray<Matcher.MatchSpec>
    const matchers = specs.map((spec) => Either.getOrThrow(Matcher.make(spec)))
    const surrogates = FastCheck.constantFrom("\ud800", "\udfff", "\udbff\udbff", "guide\ud83d")

    it.prop(
      "never throws, whatever the text (lone surrogates included)",
      [FastCheck.array(FastCheck.oneof(FastCheck.string({ unit: "binary" }), surrogates))],
      ([pieces]) => {
        const comment = pieces.join("")
        for (const self of matchers) {
          const found = Matcher.match(self, comment)
          assert.isTrue(Option.isNone(found) || typeof found.value === "string")
        }
      }
    )
  })
})

describe("Matcher.make, for code", () => {
  it("applies the defaults: word mode, no exclude terms", () => {
    const made = Matcher.make({ keywords: ["guide"] })
    assert(Either.isRight(made))
    assert.deepStrictEqual<Matcher.MatchSpec>(made.right.spec, { mode: "word", keywords: ["guide"], exclude: [] })
    assert.deepStrictEqual(Matcher.match(made.right, "GUIDE please"), Option.some("guide"))
  })

  it("answers a spec it cannot use with an error naming every problem, never a throw", () => {
    const made = Matcher.make({ mode: "regex", keywords: ["[", "ok", "(?=x)"] })
    assert(Either.isLeft(made))
    assert.strictEqual(made.left._tag, "InvalidMatchSpec")
    assert.deepStrictEqual(made.left.problems.map((problem) => problem.path.join(".")), ["keywords.0", "keywords.2"])
    assert.include(made.left.message, "keywords.0: regex \"[\" is refused")
    assert.include(made.left.message, "lookahead")
    const empty = Matcher.make({ keywords: [] })
    assert(Either.isLeft(empty))
    assert.include(empty.left.message, "needs at least one keyword")
  })

  it("a pattern that backtracks for ever in JavaScript's engine is matched by RE2 over the whole comment", () => {
    const made = Matcher.make({ mode: "regex", keywords: ["(a+)+$"] })
    assert(Either.isRight(made))
    assert.deepStrictEqual(Matcher.match(made.right, `${"a".repeat(28)}!`), Option.none())
    assert.deepStrictEqual(Matcher.match(made.right, "a".repeat(29)), Option.some("(a+)+$"))
  })
})
