/**
 * Fuzzing the two places where text from strangers meets the pipeline first: the comment-page decoder (whatever
 * the API answers) and the matcher (whatever people comment). Neither may throw; valid pages survive a trip through
 * JSON and back; folding is idempotent, so a comment matches the same way before and after it is folded.
 */
import { Matcher, UploadPostSchema } from "@comment-dm/core"
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, Option, Schema } from "effect"
import { fold } from "../packages/core/src/internal/fold.js"

const runs = { fastCheck: { numRuns: 400 } }

/** Any UTF-16 code unit, lone surrogates included: what a truncating API can hand over. */
const codeUnits = FastCheck.string({
  unit: FastCheck.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
  maxLength: 40
})

/** Characters that case, width, compatibility and mark folding treat specially, and the keyword's letters. */
const tricky = FastCheck.string({
  unit: FastCheck.constantFrom(
    "g",
    "U",
    "i",
    "D",
    "e",
    " ",
    "ı",
    "İ",
    "ß",
    "ẞ",
    "Σ",
    "ς",
    "ǅ",
    "ﬁ",
    "Ⅸ",
    "㎏",
    "ｇ",
    "\u0301",
    "\u0307",
    "\u0337",
    "\u200d",
    "\u200b",
    "\ufe0f",
    "\u00ad",
    "\u3000",
    "\ud83d",
    "\udd25",
    "🔥",
    "👩‍💻",
    "가",
    "ᄀ",
    "ᅡ",
    "攻",
    "ع",
    "\u202e"
  ),
  maxLength: 30
})

const anyText = FastCheck.oneof(codeUnits, tricky, FastCheck.string({ unit: "binary", maxLength: 40 }))

const decodePage = Schema.decodeUnknownEither(UploadPostSchema.CommentPage)
const encodePage = Schema.encodeSync(UploadPostSchema.CommentPage)

/** What goes over the wire: JSON text and back. */
const overTheWire = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

/** Pages close to the real shape, with every field allowed to be anything or missing. */
const nearlyPages = FastCheck.record({
  success: FastCheck.anything(),
  comments: FastCheck.oneof(
    FastCheck.anything(),
    FastCheck.array(
      FastCheck.record({
        id: FastCheck.oneof(FastCheck.string(), FastCheck.integer(), FastCheck.double(), FastCheck.anything()),
        text: FastCheck.oneof(anyText, FastCheck.anything()),
        timestamp: FastCheck.oneof(FastCheck.string(), FastCheck.anything()),
        user: FastCheck.oneof(
          FastCheck.record({ id: FastCheck.anything(), username: FastCheck.anything() }, { requiredKeys: [] }),
          FastCheck.anything()
        ),
        username: FastCheck.anything()
      }, { requiredKeys: [] }),
      { maxLength: 5 }
    )
  ),
  pagination: FastCheck.oneof(
    FastCheck.record({ next_cursor: FastCheck.anything(), has_next: FastCheck.anything() }, { requiredKeys: [] }),
    FastCheck.anything()
  )
}, { requiredKeys: [] })

describe("fuzz: the comment-page decoder", () => {
  it.prop("never throws on any value", [FastCheck.anything({ maxDepth: 4 })], ([value]) => {
    assert.include(["Left", "Right"], decodePage(value)._tag)
  }, runs)

  it.prop("never throws on JSON that nearly has the shape of a page", [nearlyPages], ([value]) => {
    const decoded = decodePage(overTheWire(value))
    if (Either.isRight(decoded)) assert.isArray(decoded.right.comments)
  }, runs)

  it.prop(
    "decodes every page the API may send, and a decoded page survives encoding, JSON and decoding again",
    [Arbitrary.make(Schema.encodedBoundSchema(UploadPostSchema.CommentPage))],
    ([wire]) => {
      const decoded = decodePage(overTheWire(wire))
      assert.isTrue(Either.isRight(decoded), JSON.stringify(wire))
      if (Either.isLeft(decoded)) return
      const again = decodePage(overTheWire(encodePage(decoded.right)))
      assert.deepStrictEqual(again, Either.right(decoded.right))
      assert.strictEqual(decoded.right.comments.length, wire.comments.length)
    },
    runs
  )
})

const mode = FastCheck.constantFrom<Matcher.Mode>("word", "contains", "exact", "regex", "any")

const spec = FastCheck.record({
  mode,
  keywords: FastCheck.array(FastCheck.oneof(anyText, FastCheck.constantFrom("guide", "gu.de", "(a+)+", "[", "\\")), {
    maxLength: 3
  }),
  exclude: FastCheck.array(anyText, { maxLength: 2 })
})

describe("fuzz: the matcher", () => {
  it.prop(
    "checks any spec without throwing, and a spec it accepts compiles and matches any text without throwing",
    [spec, FastCheck.array(anyText, { maxLength: 5 })],
    ([matchSpec, comments]) => {
      const made = Matcher.make(matchSpec)
      assert.strictEqual(
        Either.isLeft(made),
        Matcher.validate(matchSpec).length > 0,
        "an error exactly when it has problems"
      )
      if (Either.isLeft(made)) return
      const matcher = made.right
      for (const comment of comments) {
        const found = Matcher.match(matcher, comment)
        if (Option.isSome(found)) {
          assert.include(matchSpec.mode === "any" ? [""] : matchSpec.keywords, found.value)
        }
      }
    },
    runs
  )

  it.prop("folding is idempotent on any text", [anyText], ([text]) => {
    assert.strictEqual(fold(fold(text)), fold(text))
  }, { fastCheck: { numRuns: 2_000 } })

  it.prop(
    "a comment matches the same way before and after it is folded (word, contains and exact modes)",
    [
      FastCheck.constantFrom<Matcher.Mode>("word", "contains", "exact"),
      FastCheck.array(anyText, { minLength: 1, maxLength: 3 }),
      anyText
    ],
    ([matchMode, keywords, comment]) => {
      const matchSpec = { mode: matchMode, keywords, exclude: [] }
      const made = Matcher.make(matchSpec)
      if (Either.isLeft(made)) return
      const matcher = made.right
      assert.deepStrictEqual(Matcher.match(matcher, fold(comment)), Matcher.match(matcher, comment))
    },
    runs
  )
})
