import { Campaign } from "@comment-dm/core"
import { FileSystem } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Writable } from "node:stream"
import * as Folder from "../src/serve/Folder.js"
import * as Health from "../src/serve/Health.js"
import * as Http from "../src/serve/Http.js"
import * as Log from "../src/serve/Log.js"

const progress: Campaign.Progress = {
  comments: 3,
  matched: 2,
  discovered: 2,
  sent: 1,
  refused: 0,
  pending: 1,
  inDoubt: 0,
  skipped: 0
}

const campaignText = (name: string, extra = "") =>
  `name: ${name}\nplatform: instagram\nuser: studio\nposts: ["1790"]\nmessage: "hi"\n${extra}`

describe("serve: the board", () => {
  it("is healthy until a campaign is parked or the ledger does not answer; names the parked profiles", () => {
    const board = new Health.Board()
    board.entry("a", "/c/a.yaml", "studio")
    board.entry("b", "/c/b.yaml", "other")
    board.record("a", Campaign.Event.Started({ campaign: "a", posts: 1, recovered: 0 }))
    board.record("a", Campaign.Event.Sent({ userId: "1", username: "x", messageId: "m", progress }))
    assert.isTrue(board.health(true).healthy)
    assert.isFalse(board.health(false).healthy)
    assert.strictEqual(board.health(false).body.status, "ledger_unreachable")
    board.set("b", "parked", "key refused", new Date(0))
    const { body, healthy } = board.health(true)
    assert.isFalse(healthy)
    assert.deepStrictEqual(body.parked_profiles, ["other"])
    assert.deepInclude(body.campaigns[0], { name: "a", state: "running", sent: 1, pending: 1 })
    assert.deepInclude(body.campaigns[1], { name: "b", state: "parked", reason: "key refused" })
    // A campaign only retrying for a passing reason keeps the process healthy.
    board.set("b", "retrying", "HTTP 503")
    assert.isTrue(board.health(true).healthy)
  })

  it("writes Prometheus text with label values escaped", () => {
    const board = new Health.Board()
    board.entry(`we"ird\\name\nx`, "/c/w.yaml", "st\"udio")
    board.record(`we"ird\\name\nx`, Campaign.Event.Refused({ userId: "1", username: undefined, reason: "r", progress }))
    const text = board.metrics(true)
    assert.include(text, `comment_dm_people_total{campaign="we\\"ird\\\\name\\nx",outcome="refused"} 1`)
    assert.include(text, `profile="st\\"udio",state="starting"} 1`)
    assert.include(text, "comment_dm_ledger_up 1")
    assert.notMatch(text, /\n[^#\n][^{\n]*\{[^}]*\n/, "no sample is cut by a raw newline")
  })
})

describe("serve: --http", () => {
  it("reads HOST:PORT, [IPv6]:PORT and port 0; refuses the rest", () => {
    assert.deepStrictEqual(Http.parse("127.0.0.1:8642"), Option.some({ host: "127.0.0.1", port: 8642 }))
    assert.deepStrictEqual(Http.parse("[::1]:0"), Option.some({ host: "::1", port: 0 }))
    assert.deepStrictEqual(Http.parse("localhost:80"), Option.some({ host: "localhost", port: 80 }))
    for (const bad of ["localhost", ":8642", "host:65536", "host:-1", "host:80/x", "a b:80", "", "host:8642\n"]) {
      assert.isTrue(Option.isNone(Http.parse(bad)), JSON.stringify(bad))
    }
    assert.strictEqual(Http.format({ host: "::1", port: 8 }), "[::1]:8")
  })
})

describe("serve: the log", () => {
  const capture = () => {
    const lines: Array<string> = []
    const out = new Writable({
      write(chunk, _, done) {
        lines.push(String(chunk))
        done()
      }
    })
    return { lines, out }
  }

  it("json: one object a line with the campaign, profile and person; control characters escaped", () =>
    Effect.gen(function*() {
      const { lines, out } = capture()
      const log = Log.make("json", out)
      yield* Log.event(log, { campaign: "a", profile: "studio" })(
        Campaign.Event.Refused({ userId: "17", username: "ev\u001b[2Jil", reason: "window\nclosed", progress })
      )
      assert.lengthOf(lines, 1)
      assert.notInclude(lines[0], "\u001b")
      assert.strictEqual(lines[0]?.split("\n").length, 2)
      const line = JSON.parse(lines[0] ?? "")
      assert.deepInclude(line, {
        level: "warn",
        campaign: "a",
        profile: "studio",
        person: "17",
        username: "ev\u001b[2Jil",
        event: "Refused"
      })
      assert.include(line.message, "window\nclosed")
      // Page reads are left to the poll's heartbeat.
      yield* Log.event(log, { campaign: "a", profile: "studio" })(
        Campaign.Event.PageRead({ post: "p", comments: 3, progress })
      )
      assert.lengthOf(lines, 1)
    }))

  it("text: a message of several lines stays one line", () =>
    Effect.gen(function*() {
      const { lines, out } = capture()
      yield* Log.make("text", out).write("error", "a.yaml: line 3\n  x: [\n     ^", { file: "a.yaml" })
      assert.match(lines[0] ?? "", /^\S+Z error \[a\.yaml\] a\.yaml: line 3 \| x: \[ \| \^\n$/)
    }))
})

layer(NodeFileSystem.layer)("serve: the folder", (it) => {
  it.scoped("lists campaign files only, reads a file again only when it changes, and tells edits by meaning", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const folder = yield* fs.makeTempDirectoryScoped({ prefix: "serve-folder-" })
      yield* fs.writeFileString(`${folder}/a.yaml`, campaignText("a"))
      yield* fs.writeFileString(`${folder}/b.JSON`, "{")
      yield* fs.writeFileString(`${folder}/notes.txt`, "x")
      yield* fs.writeFileString(`${folder}/.hidden.yaml`, campaignText("h"))
      yield* fs.makeDirectory(`${folder}/sub.yaml`)
      const first = yield* Folder.scan(folder, new Map())
      assert.deepStrictEqual([...first.keys()], [`${folder}/a.yaml`, `${folder}/b.JSON`])
      const a = first.get(`${folder}/a.yaml`)
      assert.strictEqual(a?.content._tag, "Good")
      assert.isTrue(a?.fresh)
      const b = first.get(`${folder}/b.JSON`)
      assert.strictEqual(b?.content._tag, "Broken")
      assert.include(b?.content._tag === "Broken" ? b.content.problem : "", `${folder}/b.JSON: `)

      const again = yield* Folder.scan(folder, first)
      assert.isFalse(again.get(`${folder}/a.yaml`)?.fresh)

      // A comment changes the file, not the campaign; a new message changes both.
      yield* fs.writeFileString(`${folder}/a.yaml`, `# a comment\n${campaignText("a")}`)
      const commented = yield* Folder.scan(folder, again)
      const fingerprint = (listing: Folder.Listing) => {
        const content = listing.get(`${folder}/a.yaml`)?.content
        return content?._tag === "Good" ? content.fingerprint : undefined
      }
      assert.isTrue(commented.get(`${folder}/a.yaml`)?.fresh)
      assert.strictEqual(fingerprint(commented), fingerprint(first))
      yield* fs.writeFileString(`${folder}/a.yaml`, campaignText("a").replace(`"hi"`, `"hello"`))
      assert.notStrictEqual(fingerprint(yield* Folder.scan(folder, commented)), fingerprint(first))
    }))

  it.effect("check: a missing folder or a file is refused with what to give instead", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(Folder.check("/nonexistent/serve-folder"))
      assert.include(missing.message, "no such folder")
      const file = yield* Effect.flip(Folder.check("package.json"))
      assert.include(file.message, "not a folder")
    }))
})
