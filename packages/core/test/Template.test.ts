import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck, Schema } from "effect"
import * as Template from "../src/Template.js"

const parse = (source: string): Template.Template => {
  const parsed = Template.parse(source)
  if (Either.isLeft(parsed)) throw new Error(`expected ${JSON.stringify(source)} to parse: ${parsed.left.message}`)
  return parsed.right
}

const failure = (source: string): string => {
  const parsed = Template.parse(source)
  if (Either.isRight(parsed)) throw new Error(`expected ${JSON.stringify(source)} to be refused`)
  return parsed.left.message
}

const values: Template.Values = {
  username: "ana",
  userId: "1789",
  keyword: "guide",
  comment: "GUIDE please",
  commentId: "c-1",
  postId: "p-9"
}

describe("Template", () => {
  describe("render", () => {
    it("fills every variable, with or without spaces inside the braces", () => {
      const template = parse(
        "{{username}}|{{ user_id }}|{{keyword  }}|{{comment}}|{{comment_id}}|{{post_id}}"
      )
      assert.strictEqual(Template.render(template, values), "ana|1789|guide|GUIDE please|c-1|p-9")
      assert.strictEqual(Template.render(values)(template), "ana|1789|guide|GUIDE please|c-1|p-9")
    })

    it("renders a missing username as the empty string", () => {
      assert.strictEqual(Template.render(parse("Hi @{{username}}!"), { ...values, username: undefined }), "Hi @!")
    })

    it("keeps text, single braces and backslashes as they are", () => {
      assert.strictEqual(Template.render(parse("Hi {friend} \\o/ 50% {x"), values), "Hi {friend} \\o/ 50% {x")
    })

    it("writes literal double braces from \\{{ (closed by the next }}) and \\}}", () => {
      assert.strictEqual(Template.render(parse("\\{{username}} is {{username}}"), values), "{{username}} is ana")
      assert.strictEqual(Template.render(parse("\\{{username\\}} is {{username}}"), values), "{{username}} is ana")
      assert.strictEqual(Template.render(parse("a \\}} b"), values), "a }} b")
      assert.include(failure("\\{{a}} b}}"), "stray")
    })

    it("does not read placeholders inside the values it inserts", () => {
      assert.strictEqual(Template.render(parse("{{comment}}"), { ...values, comment: "{{username}}" }), "{{username}}")
    })

    it("gives the source back and the fixed text without placeholders", () => {
      const template = parse("Hi @{{username}}, here: {{post_id}}")
      assert.strictEqual(template.source, "Hi @{{username}}, here: {{post_id}}")
      assert.strictEqual(Template.staticText(template), "Hi @, here: ")
    })
  })

  describe("parse errors", () => {
    it("names an unknown variable, suggests the closest and lists the known ones", () => {
      const message = failure("Hi {{usrname}}")
      assert.include(message, "unknown template variable {{usrname}}")
      assert.include(message, "did you mean {{username}}?")
      for (const name of Template.variables) assert.include(message, `{{${name}}}`)
      assert.include(failure("{{ first name }}"), "unknown template variable {{first name}}")
    })

    it("names the position and shows an excerpt of a broken brace", () => {
      assert.strictEqual(
        failure("Hi {{username"),
        `unclosed "{{" at character 4 ("Hi {{username"); write \\{{ for literal braces`
      )
      assert.strictEqual(
        failure("Hi {username}}"),
        `stray "}}" without an opening "{{" at character 13 ("Hi {username}}"); write \\}} for literal braces`
      )
      assert.strictEqual(failure("a {{}} b"), `empty placeholder "{{}}" at character 3 ("a {{}} b")`)
      assert.strictEqual(failure("{{ }}"), `empty placeholder "{{ }}" at character 1 ("{{ }}")`)
      assert.include(failure("x }} y"), "stray \"}}\"")
      assert.include(failure("{{{username}}}"), `unexpected "{" inside "{{...}}" at character 3`)
    })

    it("counts positions in characters, not UTF-16 units", () => {
      assert.include(failure("🔥🔥 {{username"), "at character 4")
    })

    it("shortens the excerpt of a long template", () => {
      const message = failure(`${"a".repeat(100)} {{oops ${"b".repeat(100)}`)
      assert.include(message, `("…${"a".repeat(14)} {{oops ${"b".repeat(13)}…")`)
    })
  })

  describe("pick", () => {
    const variants = ["A", "B", "C", "D"] as const

    it("is stable: the same campaign and user always get the same variant", () => {
      for (let i = 0; i < 100; i++) {
        const userId = `user-${i}`
        assert.strictEqual(Template.pick(variants, "spring", userId), Template.pick(variants, "spring", userId))
      }
    })

    it("follows FNV-1a 32-bit of campaign, NUL, user id", () => {
      // Reference values of the FNV-1a specification.
      assert.strictEqual(Template.fnv1a32(""), 0x811c9dc5)
      assert.strictEqual(Template.fnv1a32("a"), 0xe40c292c)
      assert.strictEqual(Template.fnv1a32("foobar"), 0xbf9cf968)
      const index = Template.fnv1a32("spring\u0000user-1") % variants.length
      assert.strictEqual(Template.pick(variants, "spring", "user-1"), variants[index])
    })

    it("spreads 1,000 users roughly evenly over the variants", () => {
      const counts = new Map<string, number>()
      for (let i = 0; i < 1000; i++) {
        const variant = Template.pick(variants, "spring-guide", String(17841400000000000 + i * 7919))
        counts.set(variant, (counts.get(variant) ?? 0) + 1)
      }
      for (const variant of variants) {
        const count = counts.get(variant) ?? 0
        assert.isTrue(count > 200 && count < 300, `${variant} got ${count} of 1000`)
      }
    })

    it("depends on the campaign too", () => {
      const users = Array.from({ length: 50 }, (_, i) => `u${i}`)
      const a = users.map((user) => Template.pick(variants, "spring", user))
      const b = users.map((user) => Template.pick(variants, "autumn", user))
      assert.notDeepEqual(a, b)
    })

    it("picks the only variant when there is one", () => {
      assert.strictEqual(Template.pick(["only"], "c", "u"), "only")
    })
  })

  describe("length", () => {
    it("knows each platform's limit", () => {
      assert.strictEqual(Template.maxMessageLength("instagram"), 1000)
      assert.strictEqual(Template.maxMessageLength("facebook"), 2000)
      assert.strictEqual(Template.maxMessageLength("youtube"), 10000)
      assert.strictEqual(Template.maxMessageLength("linkedin"), 8000)
    })

    it("counts code points: 1,000 emoji fit Instagram although they are 2,000 UTF-16 units", () => {
      const emoji = "🔥".repeat(1000)
      assert.strictEqual(emoji.length, 2000)
      assert.deepStrictEqual(Template.checkLength("instagram", emoji), Either.right(emoji))
      assert.deepStrictEqual(
        Template.checkLength("instagram", `${emoji}!`),
        Either.left("message is 1,001 characters; instagram allows 1,000")
      )
    })

    it("refuses with a reason that names the length and the limit", () => {
      assert.deepStrictEqual(
        Template.checkLength("instagram", "x".repeat(1204)),
        Either.left("message is 1,204 characters; instagram allows 1,000")
      )
      assert.deepStrictEqual(
        Template.checkLength("youtube", "x".repeat(12345)),
        Either.left("message is 12,345 characters; youtube allows 10,000")
      )
      assert.deepStrictEqual(Template.checkLength("facebook", "x".repeat(2000)), Either.right("x".repeat(2000)))
    })

    it.prop("codePointLength agrees with Array.from", [FastCheck.string({ unit: "binary" })], ([text]) => {
      assert.strictEqual(Template.codePointLength(text), Array.from(text).length)
    })
  })

  describe("FromString schema", () => {
    it("decodes a source into a template and encodes it back", () => {
      const decoded = Schema.decodeUnknownSync(Template.FromString)("Hi {{ username }}")
      assert.strictEqual(Template.render(decoded, values), "Hi ana")
      assert.strictEqual(Schema.encodeSync(Template.FromString)(decoded), "Hi {{ username }}")
    })

    it("fails decoding with the parse error's message", () => {
      const decoded = Schema.decodeUnknownEither(Template.FromString)("Hi {{usrname}}")
      assert.isTrue(Either.isLeft(decoded) && decoded.left.message.includes("unknown template variable {{usrname}}"))
    })

    it.prop(
      "text without braces or backslashes renders as itself",
      [FastCheck.string().map((text) => text.replace(/[{}\\]/g, ""))],
      ([text]) => {
        const template = parse(text)
        assert.strictEqual(Template.render(template, values), text)
      }
    )
  })
})
