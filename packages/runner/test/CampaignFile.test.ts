import type { Matcher } from "@comment-dm/core"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as CampaignFile from "../src/CampaignFile.js"

/** Writes `content` to `name` in a fresh temporary directory and returns the file's path. */
const write = (name: string, content: string | Uint8Array) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const directory = yield* fs.makeTempDirectoryScoped({ prefix: "campaign-file-" })
    const path = `${directory}/${name}`
    yield* typeof content === "string" ? fs.writeFileString(path, content) : fs.writeFile(path, content)
    return path
  })

const failure = (path: string) => Effect.flip(CampaignFile.load(path))

const yamlCampaign = `# the spring campaign
name: spring-guide
platform: instagram
user: my-profile
posts:
  - "17900000000000001"
  - https://www.instagram.com/p/ABC123/
match:
  keywords: [guide, link]
  mode: word
  exclude: [stop]
message: "Hi @{{username}}, here is your guide: https://example.com/g"
delivery: dm
pace: { per_hour: 120, concurrency: 2 }
max_sends: 500
`

const jsonCampaign = JSON.stringify(
  {
    name: "spring-guide",
    platform: "instagram",
    user: "my-profile",
    posts: ["17900000000000001", "https://www.instagram.com/p/ABC123/"],
    match: { keywords: ["guide", "link"], mode: "word", exclude: ["stop"] },
    message: "Hi @{{username}}, here is your guide: https://example.com/g",
    delivery: "dm",
    pace: { per_hour: 120, concurrency: 2 },
    max_sends: 500
  },
  null,
  2
)

describe("CampaignFile", () => {
  layer(NodeFileSystem.layer)((it) => {
    it.scoped("loads YAML and JSON into the same campaign", () =>
      Effect.gen(function*() {
        const fromYaml = yield* CampaignFile.load(yield* write("campaign.yaml", yamlCampaign))
        const fromYml = yield* CampaignFile.load(yield* write("campaign.yml", yamlCampaign))
        const fromJson = yield* CampaignFile.load(yield* write("campaign.json", jsonCampaign))
        const fromJsonAsYaml = yield* CampaignFile.load(yield* write("campaign.txt", jsonCampaign))
        for (const spec of [fromYaml, fromYml, fromJson, fromJsonAsYaml]) {
          assert.strictEqual(spec.name, "spring-guide")
          assert.deepStrictEqual(spec.posts, [
            { _tag: "PostId", id: "17900000000000001" },
            { _tag: "PostUrl", url: "https://www.instagram.com/p/ABC123/" }
          ])
          assert.deepStrictEqual<Matcher.MatchSpec>(spec.match, {
            mode: "word",
            keywords: ["guide", "link"],
            exclude: ["stop"]
          })
          assert.deepStrictEqual(spec.pace, { perHour: 120, concurrency: 2 })
          assert.strictEqual(spec.maxSends, 500)
          assert.strictEqual(spec.messages[0].source, "Hi @{{username}}, here is your guide: https://example.com/g")
        }
      }))

    it.scoped("applies the defaults to a minimal file", () =>
      Effect.gen(function*() {
        const path = yield* write(
          "minimal.yaml",
          "name: m\nplatform: youtube\nuser: me\nposts: [abc_DEF-1]\nmessage: [Hi, Hello]\n"
        )
        const spec = yield* CampaignFile.load(path)
        assert.strictEqual(spec.delivery, "auto")
        assert.deepStrictEqual(spec.pace, { perHour: 200, concurrency: 4 })
        assert.strictEqual(spec.match.mode, "any")
        assert.strictEqual(spec.messages.length, 2)
        assert.isUndefined(spec.maxSends)
      }))

    it.scoped("reads an unquoted long YAML post id exactly", () =>
      Effect.gen(function*() {
        const path = yield* write("long.yaml", yamlCampaign.replace(`"17900000000000001"`, "17900000000000001"))
        const spec = yield* CampaignFile.load(path)
        assert.deepStrictEqual(spec.posts[0], { _tag: "PostId", id: "17900000000000001" })
      }))

    it.scoped("a missing file: the message names the path", () =>
      Effect.gen(function*() {
        const directory = yield* (yield* FileSystem.FileSystem).makeTempDirectoryScoped()
        const error = yield* failure(`${directory}/nope.yaml`)
        assert.strictEqual(error.reason, "NotFound")
        assert.strictEqual(error.message, `${directory}/nope.yaml: no such file; check the path to the campaign file`)
        const onDirectory = yield* failure(directory)
        assert.strictEqual(onDirectory.message, `${directory}: is a directory, not a campaign file`)
      }))

    it.scoped("a file over 1 MiB", () =>
      Effect.gen(function*() {
        const content = `${yamlCampaign}# ${"x".repeat(CampaignFile.maxBytes)}\n`
        const path = yield* write("huge.yaml", content)
        const error = yield* failure(path)
        assert.strictEqual(error.reason, "TooLarge")
        const bytes = new TextEncoder().encode(content).byteLength.toLocaleString("en-US")
        assert.strictEqual(error.message, `${path}: campaign file is ${bytes} bytes; the limit is 1 MiB`)
        const atTheLimit = yield* write("limit.yaml", `${yamlCampaign}#`.padEnd(CampaignFile.maxBytes, "x"))
        assert.strictEqual((yield* CampaignFile.load(atTheLimit)).name, "spring-guide")
      }))

    it.scoped("broken YAML: line, column and the line itself", () =>
      Effect.gen(function*() {
        const path = yield* write("broken.yaml", "name: x\nposts: [1, 2\nuser: me\n")
        const error = yield* failure(path)
        assert.strictEqual(error.reason, "Syntax")
        assert.isTrue(error.message.startsWith(`${path}: line 3, column 1: `), error.message)
        assert.include(error.message, "\n  user: me\n  ^")
      }))

    it.scoped("duplicate keys, in YAML and in JSON", () =>
      Effect.gen(function*() {
        const yaml = yield* failure(yield* write("dup.yaml", `${yamlCampaign}name: other\n`))
        assert.strictEqual(yaml.reason, "Syntax")
        assert.include(yaml.message, "line 16, column 1: duplicate key: each key may appear once\n  name: other\n  ^")
        const json = yield* failure(yield* write("dup.json", `{"name": "a",\n "name": "b"}`))
        assert.include(json.message, "line 2, column 2: duplicate key")
      }))

    it.scoped("several YAML documents in one file", () =>
      Effect.gen(function*() {
        const error = yield* failure(yield* write("two.yaml", `${yamlCampaign}---\nname: second\n`))
        assert.strictEqual(error.reason, "Syntax")
        assert.include(error.message, "line 16, column 1: a second document starts here")
      }))

    it.scoped("invalid JSON: strict syntax, with line and column where the parser gives a position", () =>
      Effect.gen(function*() {
        const trailingComma = yield* failure(yield* write("comma.json", `{\n  "name": "x",\n}`))
        assert.strictEqual(trailingComma.reason, "Syntax")
        assert.match(trailingComma.message, /comma\.json: (line 3, column 1: )?invalid JSON: /)
        const unterminated = yield* failure(yield* write("open.json", `{"name": "x`))
        assert.include(unterminated.message, "invalid JSON")
      }))

    it.scoped("an empty file", () =>
      Effect.gen(function*() {
        for (const content of ["", "  \n", "# nothing yet\n"]) {
          const path = yield* write("empty.yaml", content)
          const error = yield* failure(path)
          assert.strictEqual(error.reason, "Invalid")
          assert.strictEqual(
            error.message,
            `${path}: no campaign in the file; it needs at least name, platform, user, posts and message`
          )
        }
      }))

    it.scoped("a file that is not UTF-8", () =>
      Effect.gen(function*() {
        const error = yield* failure(yield* write("latin1.yaml", new Uint8Array([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0xe9])))
        assert.strictEqual(error.reason, "Unreadable")
        assert.include(error.message, "is not UTF-8 text")
      }))

    it.scoped("a campaign that does not decode: every problem with its key, after the path", () =>
      Effect.gen(function*() {
        const path = yield* write(
          "bad.yaml",
          yamlCampaign
            .replace("match:", "mach:")
            .replace("{{username}}", "{{usrname}}")
            .replace("per_hour: 120", "per_hour: -3")
            .replace("https://www.instagram.com", "http://www.instagram.com")
        )
        const error = yield* failure(path)
        assert.strictEqual(error.reason, "Invalid")
        assert.deepStrictEqual(error.issues.map((issue) => issue.path), ["", "posts[1]", "message", "pace.per_hour"])
        const lines = error.message.split("\n")
        assert.strictEqual(lines[0], `${path}: 4 problems:`)
        assert.strictEqual(lines[1], `  - unknown key "mach" (did you mean "match"?)`)
        assert.strictEqual(lines[2], `  - posts[1]: post URLs must use https, got "http://www.instagram.com/p/ABC123/"`)
        assert.match(lines[3]!, /^ {2}- message: unknown template variable \{\{usrname\}\}/)
        assert.strictEqual(lines[4], "  - pace.per_hour: expected a positive integer, got -3")
      }))

    it.scoped("bad regex and private_reply on facebook, reported with their keys", () =>
      Effect.gen(function*() {
        const regex = yield* failure(
          yield* write(
            "regex.yaml",
            yamlCampaign.replace("mode: word", "mode: regex").replace("[guide, link]", `["(?=guide)"]`)
          )
        )
        assert.include(regex.message, `match.keywords[0]: regex "(?=guide)" is refused: lookahead`)
        const reply = yield* failure(
          yield* write(
            "reply.yaml",
            yamlCampaign.replace("platform: instagram", "platform: facebook").replace(
              "delivery: dm",
              "delivery: private_reply"
            )
          )
        )
        assert.strictEqual(
          reply.message.replace(/^[^:]*: /, ""),
          `delivery: private_reply works only on instagram; use delivery "dm" on facebook`
        )
      }))
  })
})
