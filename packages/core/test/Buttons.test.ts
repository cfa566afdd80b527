import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Yaml from "yaml"
import * as Buttons from "../src/Buttons.js"
import * as CampaignSpec from "../src/CampaignSpec.js"

const base = {
  name: "buttons",
  platform: "instagram",
  user: "my-profile",
  posts: ["17900000000000001"],
  message: "Here is your guide"
} as const

/** The problems of a campaign with these buttons, one line each with its path. */
const problems = (buttons: unknown) =>
  Effect.map(
    Effect.flip(CampaignSpec.decode({ ...base, buttons })),
    (error) => error.issues.map((issue) => `${issue.path}: ${issue.message}`)
  )

const values = {
  username: "ana.b",
  userId: "17841400000000001",
  keyword: "guide",
  comment: "GUIDE please",
  commentId: "c1",
  postId: "p1"
}

describe("Buttons", () => {
  it.effect("a campaign's buttons load with their titles and URL templates, and encode back to the file's form", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.decode({
        ...base,
        buttons: [
          { title: " Get the guide ", url: "https://example.com/g?u={{user_id}}" },
          { title: "🔥".repeat(20), url: "HTTPS://example.com" }
        ]
      })
      assert.deepStrictEqual(spec.buttons?.map((button) => [button.title, button.url.source]), [
        ["Get the guide", "https://example.com/g?u={{user_id}}"],
        ["🔥".repeat(20), "HTTPS://example.com"]
      ])
      const again = yield* CampaignSpec.decode({ ...base })
      assert.isFalse("buttons" in again, "a file without buttons has none, and keeps its fingerprint")
    }))

  it.effect("every problem of the buttons is told at once, each at its key's path", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(
        yield* problems([
          { title: "", url: "http://example.com" },
          { title: "a", url: "https://{{username}}.example.com/" },
          { title: "123456789012345678901", url: "https://example.com/a b" },
          { title: "a\u0000b", url: "https://example.com/{{nope}}" }
        ]),
        [
          "buttons: at most 3 buttons, got 4",
          "buttons[0].title: is empty; write the button's text",
          `buttons[0].url: expected an https URL, got "http://example.com"`,
          "buttons[1].url: the host must be written out: template variables may go in the path or the query only",
          "buttons[2].title: is 21 characters; a button title may have at most 20",
          "buttons[2].url: contains a space or a control character; write it percent-encoded (a space is %20)",
          "buttons[3].title: contains a control character (a line break, a tab, NUL...)",
          "buttons[3].url: unknown template variable {{nope}}; the known ones are {{username}}, {{user_id}}, " +
          "{{keyword}}, {{comment}}, {{comment_id}}, {{post_id}}"
        ]
      )
    }))

  it.effect("shapes that are not buttons, and unknown keys, are refused with the path", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* problems("https://example.com"), [
        `buttons: expected a list of buttons such as [{ title: "Get the guide", url: "https://..." }], got ` +
        `"https://example.com"`
      ])
      assert.deepStrictEqual(yield* problems([42]), ["buttons[0]: expected an object with title and url, got 42"])
      assert.deepStrictEqual(yield* problems([{ title: "Go", url: "https://example.com", titl: "x" }]), [
        `buttons[0]: unknown key "titl" (did you mean "title"?)`
      ])
      assert.deepStrictEqual(yield* problems([{ title: "Go" }]), ["buttons[0].url: required key is missing"])
      assert.deepStrictEqual(yield* problems([{ title: "Go", url: "{{comment}}" }]), [
        `buttons[0].url: expected an https URL, got "{{comment}}"`
      ])
      for (const url of ["https://", "https://example.com{{comment}}", "https://example.com:{{user_id}}/"]) {
        assert.deepStrictEqual(yield* problems([{ title: "Go", url }]), [
          "buttons[0].url: the host must be written out: template variables may go in the path or the query only"
        ], url)
      }
      const fixed = yield* CampaignSpec.decode({
        ...base,
        buttons: [{ title: "Go", url: "https://example.com#{{username}}" }, { title: "Go", url: "https://a.example" }]
      })
      assert.strictEqual(fixed.buttons?.length, 2)
    }))

  it.effect("a campaign in code takes the same buttons, with the same checks", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.fromCode({
        ...base,
        posts: ["17900000000000001"],
        buttons: [{ title: "Go", url: "https://example.com/{{post_id}}" }]
      })
      assert.deepStrictEqual(spec.buttons?.map((button) => button.url.source), ["https://example.com/{{post_id}}"])
      const error = yield* Effect.flip(
        CampaignSpec.fromCode({ ...base, posts: ["1"], buttons: [{ title: "Go", url: "ftp://example.com" }] })
      )
      assert.deepStrictEqual(error.issues, [{
        path: "buttons[0].url",
        message: `expected an https URL, got "ftp://example.com"`
      }])
    }))

  it("a URL is filled per person with each value URL-encoded: a value cannot change the link's shape", () => {
    const checked = Buttons.check([{
      title: "Go",
      url: "https://example.com/g?u={{user_id}}&c={{comment}}#{{username}}"
    }])
    assert.isTrue(Either.isRight(checked))
    if (Either.isLeft(checked)) return
    const rendered = Buttons.render(checked.right, {
      ...values,
      comment: "a&b=c/d?e#f g\u0000",
      username: undefined
    })
    assert.deepStrictEqual(rendered, [{
      title: "Go",
      url: "https://example.com/g?u=17841400000000001&c=a%26b%3Dc%2Fd%3Fe%23f%20g%00#"
    }])
    const url = new URL(rendered[0]!.url)
    assert.strictEqual(url.searchParams.get("c"), "a&b=c/d?e#f g\u0000")
    assert.strictEqual(url.host, "example.com")
  })

  it("a comment cut mid-emoji (a lone surrogate) renders instead of throwing", () => {
    const checked = Buttons.check([{ title: "Go", url: "https://example.com/?c={{comment}}" }])
    if (Either.isLeft(checked)) return assert.fail("expected valid buttons")
    const rendered = Buttons.render(checked.right, { ...values, comment: "hi \ud83d" })
    assert.strictEqual(rendered[0]!.url, "https://example.com/?c=hi%20%EF%BF%BD")
  })

  it("the notice for buttons a campaign of DMs never sends", () => {
    const checked = Buttons.check([{ title: "Go", url: "https://example.com" }])
    if (Either.isLeft(checked)) return assert.fail("expected valid buttons")
    assert.include(Buttons.unusedNotice("dm", checked.right), "carry no buttons")
    assert.isUndefined(Buttons.unusedNotice("auto", checked.right))
    assert.isUndefined(Buttons.unusedNotice("private_reply", checked.right))
    assert.isUndefined(Buttons.unusedNotice("dm", undefined))
    assert.isUndefined(Buttons.unusedNotice("dm", []))
  })
})

describe("the demo campaign (examples/demo-campaign.yaml)", () => {
  it.effect("loads with its buttons, follow-up and public reply", () =>
    Effect.gen(function*() {
      const file = Fs.readFileSync(Path.join(import.meta.dirname, "..", "..", "..", "examples", "demo-campaign.yaml"))
      const spec = yield* CampaignSpec.decode(Yaml.parse(file.toString("utf8")))
      assert.deepStrictEqual(spec.buttons?.map((button) => button.title), ["Get the guide", "Bonus chapter"])
      assert.isDefined(spec.followUp)
      assert.strictEqual(spec.publicReply?.messages.length, 3)
    }))
})
