/**
 * The configuration file of several profiles and keys (`--config`), read by `Profiles.loadConfig` and by the command.
 */
import { FetchHttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Control, DataSet, Profiles } from "../src/index.js"
import { bin, get, post, startCommand } from "./support.js"

const folder = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sandbox-config-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const write = (dir: string, name: string, content: unknown) =>
  Effect.sync(() => {
    const file = Path.join(dir, name)
    Fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content))
    return file
  })

const agency = {
  profiles: [
    { name: "studio-a", generate: { posts: 2, comments: 5 }, dailyDmLimit: 3 },
    { name: "studio-b", generate: { posts: 2, comments: 5 }, account: { handle: "studio.b" } },
    { name: "studio-c", data: "c.json", reauthRequired: true }
  ],
  keys: [
    { key: "key-ab", profiles: ["studio-a", "studio-b"], plan: { perMinute: 2, perTenMinutes: 20 } },
    { key: "key-c", profiles: ["studio-c"] }
  ],
  plan: { perMinute: 60, perTenMinutes: 300 },
  profileRequestLimit: 2,
  arrivals: { perMinute: 10, hotShare: 0.25 }
}

const dataC = { posts: [{ id: "c1", comments: [] }] }

describe("Profiles.loadConfig", () => {
  it.scoped("reads profiles (generated with distinct post ids, or a data set beside the file), keys, plan and arrivals", () =>
    Effect.gen(function*() {
      const dir = yield* folder
      yield* write(dir, "c.json", dataC)
      const config = yield* Profiles.loadConfig(yield* write(dir, "agency.json", agency))
      assert.deepStrictEqual(config.profiles.map((profile) => profile.name), ["studio-a", "studio-b", "studio-c"])
      assert.deepStrictEqual(config.profiles.map((profile) => profile.data?.posts.map((p) => p.id)), [
        [DataSet.postId(0), DataSet.postId(1)],
        [DataSet.postId(2), DataSet.postId(3)],
        ["c1"]
      ])
      assert.deepStrictEqual(config.faults, { plan: agency.plan, profileRequestLimit: 2 })
      assert.deepStrictEqual(config.keys?.map((key) => [key.key, key.profiles, key.plan]), [
        ["key-ab", ["studio-a", "studio-b"], { perMinute: 2, perTenMinutes: 20 }],
        ["key-c", ["studio-c"], undefined]
      ])
      assert.deepStrictEqual(config.arrivals, agency.arrivals)
      assert.deepStrictEqual(
        config.profiles.map((profile) => [profile.dailyDmLimit, profile.reauthRequired, profile.account?.handle]),
        [[3, undefined, undefined], [undefined, undefined, "studio.b"], [undefined, true, undefined]]
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scoped("refuses what it cannot serve, naming the file and the reason", () =>
    Effect.gen(function*() {
      const dir = yield* folder
      const refused = (content: unknown) =>
        Effect.flatMap(write(dir, "bad.json", content), (file) =>
          Profiles.loadConfig(file).pipe(
            Effect.flip,
            Effect.map((error) => error.message)
          ))
      const profile = { name: "a" }
      assert.match(yield* refused("{"), /sandbox configuration .*bad\.json is not usable: not JSON/)
      assert.include(yield* refused({ profiles: [] }), "profiles")
      assert.include(
        yield* refused({ profiles: [profile], keys: [{ key: "k", profiles: ["b"] }] }),
        `key "k" names profile "b", which is not configured`
      )
      assert.include(yield* refused({ profiles: [profile, profile] }), `profile "a" is listed twice`)
      assert.include(yield* refused({ profiles: [{ name: "with space" }] }), "printable ASCII")
      assert.include(yield* refused({ profiles: [{ name: "a\u0000" }] }), "printable ASCII")
      assert.include(yield* refused({ profiles: [profile], keys: [{ key: "" }] }), "printable ASCII")
      assert.include(yield* refused({ profiles: [profile], plan: { perMinute: 0, perTenMinutes: 10 } }), "perMinute")
      assert.include(yield* refused({ profiles: [profile], arrivals: { perMinute: -1 } }), "at least 0")
      assert.include(yield* refused({ profiles: [profile], arrivals: { hotShare: 2 } }), "between 0 and 1")
      assert.include(yield* refused({ profiles: [{ ...profile, data: "missing.json" }] }), `profile "a"`)
      assert.include(
        yield* refused({ profiles: [{ ...profile, data: "c.json", generate: { comments: 1 } }] }),
        "not both"
      )
      assert.include(yield* refused({ profiles: [profile], extra: 1 }), "extra")
      assert.include(
        yield* refused({ profiles: [profile], arrivals: { perPost: { p9: 1 } } }),
        "arrivals name post p9, which no profile has"
      )
    }).pipe(Effect.provide(NodeContext.layer)))

  it("reads a plan flag as PER_MINUTE/PER_TEN_MINUTES", () => {
    assert.deepStrictEqual(Profiles.parsePlan(" 250 / 2500 "), Either.right({ perMinute: 250, perTenMinutes: 2500 }))
    for (const text of ["250", "0/10", "10/0", "a/b", "-1/5", "1/2/3", ""]) {
      assert.strictEqual(Profiles.parsePlan(text)._tag, "Left", text)
    }
  })
})

describe("the sandbox command with --config", () => {
  it.scopedLive(
    "prints a line per profile and serves the keys, plans and arrivals of the file",
    () =>
      Effect.gen(function*() {
        const dir = yield* folder
        yield* write(dir, "c.json", dataC)
        const file = yield* write(dir, "agency.json", agency)
        const { lines } = yield* startCommand(
          ["--port", "0", "--config", file, "--plan", "5/50", "--arrivals", "600"],
          4
        )
        const [baseUrl = "", ...profiles] = lines
        assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/api$/)
        assert.deepStrictEqual(profiles, [
          `studio-a ${DataSet.postId(0)} ${DataSet.postId(1)}`,
          `studio-b ${DataSet.postId(2)} ${DataSet.postId(3)}`,
          "studio-c c1"
        ])

        const keyAb = { baseUrl, apiKey: "key-ab" }
        const keyC = { baseUrl, apiKey: "key-c" }
        const me = yield* get(keyAb, "/uploadposts/me")
        assert.deepStrictEqual([me.status, me.headers["x-ratelimit-limit"]], [200, "2"], "the key's own plan")
        const c = yield* get(keyC, "/uploadposts/me")
        assert.deepStrictEqual([c.status, c.headers["x-ratelimit-limit"]], [200, "5"], "--plan over the file's")
        const notOwned = yield* post(keyC, "/uploadposts/dms/send", {
          platform: "instagram",
          user: "studio-a",
          recipient_id: "x",
          message: "hi"
        })
        assert.strictEqual(notOwned.status, 400)

        const remote = yield* Control.remote(keyC)
        const states = yield* remote.profiles
        assert.deepStrictEqual(states.map((state) => [state.name, state.reauthRequired, state.dailyDmLimit]), [
          ["studio-a", false, 3],
          ["studio-b", false, 500],
          ["studio-c", true, 500]
        ])
        const arrivals = yield* remote.arrivals
        assert.strictEqual(arrivals.posts.length, 5)
        assert.strictEqual(arrivals.posts.reduce((sum, p) => sum + p.perMinute, 0), 600, "--arrivals over the file's")
        // 600 a minute in real time: some arrive within a few seconds.
        let arrived = 0
        for (let attempt = 0; attempt < 50 && arrived === 0; attempt++) {
          yield* Effect.sleep("100 millis")
          arrived = (yield* remote.stats).arrivedComments
        }
        assert.isAbove(arrived, 0)
      }).pipe(Effect.provide(FetchHttpClient.layer)),
    { timeout: 60_000 }
  )

  it.scopedLive("refuses --config with --profile, --data or --comments", () =>
    Effect.gen(function*() {
      const dir = yield* folder
      const file = yield* write(dir, "agency.json", { profiles: [{ name: "a" }] })
      const run = ChildProcess.spawnSync(
        process.execPath,
        ["--import", "tsx", bin, "--port", "0", "--config", file, "--comments", "5"],
        { encoding: "utf8", timeout: 55_000 }
      )
      assert.strictEqual(run.status, 1)
      assert.include(run.stdout + run.stderr, "it lists the profiles, so leave out --profile, --data and --comments")
    }), { timeout: 60_000 })
})
