/**
 * `comment-dm serve <folder>`, the real command as a child process, against the sandbox over HTTP, with a real SQLite
 * ledger: several campaigns of one profile in one process, a campaign whose key is wrong parked while the others go
 * on, files edited, broken and doubled while it serves, `/healthz` and `/metrics`, and SIGTERM. The sandbox's
 * deliveries are the ground truth for what was sent; the ledger for who is accounted for.
 */
import type { DataSet } from "@comment-dm/sandbox"
import { assert, describe, it, type TestContext } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type CliResult, runCli, stopAll, tempDir, writeCampaign } from "./support/cli.js"
import { ledgerEntries } from "./support/e2e-ledger.js"
import { findPostgres, startPostgres } from "./support/postgres.js"
import { control, type RunningSandbox, startSandbox } from "./support/sandbox.js"
import { type ServeChild, startServe } from "./support/serve-child.js"

const profile = "serve.studio"
const postA = "17900000000000401"
const postB = "17900000000000402"

const people = {
  anna: "17841400000000201",
  li: "17841400000000202",
  sara: "17841400000000203",
  tim: "17841400000000204",
  ken: "17841400000000205",
  zoe: "17841400000000206",
  ola: "17841400000000207"
} as const
type Name = keyof typeof people

const hour = 3_600_000

const comment = (id: string, text: string, name: Name, agoMillis: number): DataSet.Comment => ({
  id,
  text,
  timestamp: new Date(Date.now() - agoMillis).toISOString(),
  user: { id: people[name], username: name }
})

const data = (): DataSet.Listed => ({
  _tag: "Listed",
  profile,
  posts: [
    {
      id: postA,
      comments: [comment("c-a-1", "GUIDE please", "anna", 2 * hour), comment("c-a-2", "nice", "tim", hour)]
    },
    { id: postB, comments: [comment("c-b-1", "guide", "li", 3 * hour), comment("c-b-2", "guide 🙏", "sara", hour)] }
  ]
})

/** A campaign of the profile on one post; its message starts with its name, so deliveries tell campaigns apart. */
const campaign = (name: string, post: string, extra: Record<string, unknown> = {}) => ({
  name,
  platform: "instagram",
  user: profile,
  posts: [post],
  match: { keywords: ["guide"] },
  message: `${name}: hi @{{username}}, here is your guide`,
  delivery: "dm",
  pace: { per_hour: 360_000, concurrency: 2 },
  ...extra
})

/** A serve process of a test, with its `/metrics`. */
interface Server extends ServeChild {
  readonly metrics: () => Promise<string>
}

interface Studio {
  readonly sandbox: RunningSandbox
  readonly folder: string
  readonly db: string
  readonly serve: (args?: ReadonlyArray<string>, env?: Readonly<Record<string, string>>) => Server
}

const studio = async (context: TestContext): Promise<Studio> => {
  const sandbox = await startSandbox({ seed: 1, windows: "open", data: data() })
  const dir = tempDir("comment-dm-serve-")
  const folder = Path.join(dir.path, "campaigns")
  Fs.mkdirSync(folder)
  const children: Array<ChildProcess> = []
  context.onTestFinished(async () => {
    await stopAll(children)
    await sandbox.close()
    dir.cleanup()
  })
  const db = Path.join(dir.path, "ledger.sqlite")
  const serve = (args: ReadonlyArray<string> = [], env: Readonly<Record<string, string>> = {}): Server => {
    const server = startServe(
      [
        folder,
        ...(args.includes("--db") ? [] : ["--db", db]),
        "--every",
        "1s",
        "--retry-parked",
        "2s",
        "--log-format",
        "json",
        ...args
      ],
      { ...sandbox.env, ...env }
    )
    children.push(server.child)
    const metrics = async () => (await fetch(`${server.address()}/metrics`)).text()
    return { ...server, metrics }
  }
  return { sandbox, folder, db, serve }
}

const deliveries = (sandbox: RunningSandbox) => control(sandbox.handle.deliveries)

/** Who each campaign reached, by the campaign's name at the start of the message: recipient ids, sorted. */
const reachedBy = async (sandbox: RunningSandbox, name: string) =>
  (await deliveries(sandbox)).filter((delivery) => delivery.message.startsWith(`${name}:`)).map((delivery) =>
    delivery.recipientId
  ).sort()

/** No person got two messages from one campaign. */
const assertNoDuplicates = async (sandbox: RunningSandbox) => {
  const keys = (await deliveries(sandbox)).map((delivery) =>
    `${delivery.message.slice(0, delivery.message.indexOf(":"))} ${delivery.recipientId}`
  )
  assert.deepStrictEqual(keys.filter((key, index) => keys.indexOf(key) !== index), [])
}

/**
 * Each campaign reached exactly these people, once each (the sandbox's deliveries), and its ledger holds each of them
 * as sent and nobody else: everyone accounted for, nothing left claimed.
 */
const assertAccounted = async (
  sandbox: RunningSandbox,
  db: string,
  expected: Readonly<Record<string, ReadonlyArray<string>>>
) => {
  await assertNoDuplicates(sandbox)
  for (const [name, reached] of Object.entries(expected)) {
    assert.deepStrictEqual(await reachedBy(sandbox, name), reached, name)
    const entries = await ledgerEntries(db, name)
    assert.deepStrictEqual(entries.map((entry) => entry.userId).sort(), reached, name)
    assert.isTrue(entries.every((entry) => entry.state === "sent"), name)
  }
}

const ids = (...names: ReadonlyArray<Name>) => names.map((name) => people[name]).sort()

const assertExit = (result: CliResult, code: number) =>
  assert.strictEqual(result.code, code, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`)

const addComment = (sandbox: RunningSandbox, postId: string, added: DataSet.Comment) =>
  control(sandbox.handle.addComment({ postId, ...added }))

describe.concurrent("comment-dm serve against the sandbox", () => {
  it(
    "serves a folder: a wrong key parks its campaign only; edits restart, a broken file keeps the last good " +
      "version, a doubled name is refused; SIGTERM exits 130 with nothing claimed",
    async (context) => {
      const { db, folder, sandbox, serve } = await studio(context)
      const fileA = writeCampaign(folder, "a.json", campaign("camp-a", postA))
      const fileB = writeCampaign(folder, "b.yaml", JSON.stringify(campaign("camp-b", postB)))
      const fileC = writeCampaign(folder, "c.json", campaign("camp-c", postB, { api_key_env: "CLIENT_C_KEY" }))
      // Not campaign files: never read.
      Fs.writeFileSync(Path.join(folder, "notes.txt"), "not a campaign")
      Fs.writeFileSync(Path.join(folder, ".a.json.swp"), "{")

      const server = serve(["--http", "127.0.0.1:0"], { CLIENT_C_KEY: "not-the-sandbox-key" })
      await server.until(
        "the first sends of camp-a and camp-b",
        async () =>
          (await reachedBy(sandbox, "camp-a")).length === 1 && (await reachedBy(sandbox, "camp-b")).length === 2
      )
      await server.until("camp-c parked", () => server.lines().some((line) => line.event === "Parked"))

      // The wrong key parks camp-c alone: 503, with the reason naming its variable, never the key.
      const parked = await server.healthz()
      assert.strictEqual(parked.status, 503)
      assert.strictEqual(parked.body.status, "parked")
      assert.deepStrictEqual(parked.body.parked_profiles, [profile])
      const states = Object.fromEntries(parked.body.campaigns.map((entry) => [entry.name, entry]))
      assert.strictEqual(states["camp-a"]?.state, "running")
      assert.strictEqual(states["camp-b"]?.state, "running")
      assert.strictEqual(states["camp-c"]?.state, "parked")
      assert.strictEqual(states["camp-c"]?.file, fileC)
      assert.include(states["camp-c"]?.reason, "CLIENT_C_KEY")
      assert.isNotNull(states["camp-c"]?.retry_at)
      assert.notInclude(server.output(), "not-the-sandbox-key")
      const parkedLine = server.lines().find((line) => line.event === "Parked")
      assert.deepInclude(parkedLine, { level: "error", campaign: "camp-c", profile })
      // It is tried again on the slow schedule (2 s here), and parked again.
      await server.until(
        "camp-c parked again",
        () => server.lines().filter((line) => line.event === "Parked").length >= 2
      )

      // A broken file: reported with its path; camp-a keeps running its last good version and reaches Ken.
      Fs.writeFileSync(fileA, `{"name": "camp-a", "platform": `)
      await server.until("the broken file reported", () => server.lines().some((line) => line.event === "FileBroken"))
      const broken = server.lines().find((line) => line.event === "FileBroken")
      assert.deepInclude(broken, { level: "error", file: fileA, campaign: "camp-a" })
      assert.include(broken?.message, `${fileA}: `)
      assert.include(broken?.message, "keeps running on its last good version")
      await addComment(sandbox, postA, comment("c-a-3", "guide!", "ken", 0))
      await server.until("Ken reached by camp-a", async () => (await reachedBy(sandbox, "camp-a")).length === 2)
      const whileBroken = await server.healthz()
      const a = whileBroken.body.campaigns.find((entry) => entry.name === "camp-a")
      assert.strictEqual(a?.state, "running")
      assert.include(a?.file_problem, fileA)
      assert.deepInclude(whileBroken.body.files, { path: fileA, problem: a?.file_problem ?? "" })

      // An edit: camp-b restarts on its new message; Zoe gets the new one.
      Fs.writeFileSync(fileB, JSON.stringify(campaign("camp-b", postB, { message: "camp-b: v2 for @{{username}}" })))
      await server.until(
        "camp-b restarted",
        () =>
          server.lines().some((line) => line.event === "CampaignEdited" && line.campaign === "camp-b") &&
          server.lines().filter((line) => line.event === "Started" && line.campaign === "camp-b").length >= 2
      )
      await addComment(sandbox, postB, comment("c-b-3", "GUIDE", "zoe", 0))
      await server.until("Zoe reached by camp-b", async () => (await reachedBy(sandbox, "camp-b")).length === 3)
      const zoe = (await deliveries(sandbox)).find((delivery) => delivery.recipientId === people.zoe)
      assert.strictEqual(zoe?.message, "camp-b: v2 for @zoe")

      // A second file with camp-b's name: both reported; camp-b keeps running the version it has.
      const fileD = writeCampaign(folder, "d.json", campaign("camp-b", postA, { message: "camp-b: from d" }))
      await server.until(
        "the doubled name reported",
        () => server.lines().some((line) => line.event === "DuplicateName")
      )
      const doubled = server.lines().find((line) => line.event === "DuplicateName")
      assert.include(doubled?.message, fileB)
      assert.include(doubled?.message, fileD)
      const withDouble = await server.healthz()
      assert.includeMembers(withDouble.body.files.map((file) => file.path), [fileB, fileD])
      assert.strictEqual(withDouble.body.campaigns.find((entry) => entry.name === "camp-b")?.state, "running")
      await addComment(sandbox, postB, comment("c-b-4", "guide", "ola", 0))
      await server.until("Ola reached by camp-b", async () => (await reachedBy(sandbox, "camp-b")).length === 4)

      const metrics = await server.metrics()
      assert.match(metrics, /^comment_dm_people_total\{campaign="camp-a",outcome="sent"\} 2$/m)
      assert.match(metrics, /^comment_dm_campaign_state\{campaign="camp-c",profile="serve.studio",state="parked"\} 1$/m)
      // The API requests of every campaign served, by endpoint: the comments read and the DMs sent.
      assert.match(metrics, /^comment_dm_requests_total\{endpoint="GET \/uploadposts\/comments"\} [1-9]\d*$/m)
      assert.match(metrics, /^comment_dm_requests_total\{endpoint="POST \/uploadposts\/dms\/send"\} [1-9]\d*$/m)

      // A slow API: SIGTERM while a send is in flight; it settles before the process exits 130.
      await control(sandbox.handle.setFaults({ latency: { minMs: 1500, maxMs: 1500 } }))
      Fs.rmSync(fileD)
      await addComment(sandbox, postA, comment("c-a-4", "guide", "sara", 0))
      const sends = async () => (await control(sandbox.handle.stats)).requests["POST /uploadposts/dms/send"] ?? 0
      const before = await sends()
      await server.until("Sara's request to camp-a", async () => (await sends()) > before)
      server.child.kill("SIGTERM")
      const result = await server.exited
      assertExit(result, 130)
      await assertAccounted(sandbox, db, {
        "camp-a": ids("anna", "ken", "sara"),
        "camp-b": ids("li", "sara", "zoe", "ola"),
        "camp-c": []
      })
    },
    180_000
  )

  it(
    "two files with one name from the start: both refused, neither runs; a profile that needs a new login is " +
      "parked and comes back; a bad flag or folder exits 2",
    async (context) => {
      const { db, folder, sandbox, serve } = await studio(context)
      const first = writeCampaign(folder, "one.json", campaign("same", postA))
      const second = writeCampaign(folder, "two.yaml", JSON.stringify(campaign("same", postB)))
      writeCampaign(folder, "other.json", campaign("other", postB))
      const server = serve(["--http", "127.0.0.1:0"])
      await server.until(
        "the doubled name reported",
        () => server.lines().some((line) => line.event === "DuplicateName")
      )
      await server.until("other's sends", async () => (await reachedBy(sandbox, "other")).length === 2)
      const health = await server.healthz()
      assert.strictEqual(health.status, 200)
      assert.deepStrictEqual(health.body.campaigns.map((entry) => entry.name), ["other"])
      assert.deepStrictEqual(health.body.files.map((file) => file.path).sort(), [first, second].sort())
      assert.deepStrictEqual(await reachedBy(sandbox, "same"), [])

      // Renaming one lets both run.
      Fs.writeFileSync(second, JSON.stringify(campaign("same-b", postB)))
      await server.until(
        "both run",
        async () => (await reachedBy(sandbox, "same")).length === 1 && (await reachedBy(sandbox, "same-b")).length === 2
      )

      // The profile's account needs a new login: its campaigns are parked (503) and tried again; once it is
      // connected again they go on, and a newcomer is reached.
      await control(sandbox.handle.setFaults({ reauthRequired: true }))
      await server.until("every campaign parked", async () => {
        const { body, status } = await server.healthz()
        return status === 503 && body.campaigns.filter((entry) => entry.state === "parked").length === 3
      })
      const parked = await server.healthz()
      assert.deepStrictEqual(parked.body.parked_profiles, [profile])
      assert.include(parked.body.campaigns[0]?.reason, "reauth_required")
      await control(sandbox.handle.setFaults({ reauthRequired: false }))
      await server.until("running again", async () => (await server.healthz()).status === 200)
      await addComment(sandbox, postA, comment("c-a-5", "guide", "zoe", 0))
      await server.until("Zoe reached by same", async () => (await reachedBy(sandbox, "same")).length === 2)

      server.child.kill("SIGTERM")
      assertExit(await server.exited, 130)
      await assertAccounted(sandbox, db, {
        same: ids("anna", "zoe"),
        "same-b": ids("li", "sara"),
        other: ids("li", "sara")
      })

      const [missing, notAFolder, badHttp, badEvery] = await Promise.all([
        runCli(["serve", Path.join(folder, "nope")], { env: sandbox.env }),
        runCli(["serve", first], { env: sandbox.env }),
        runCli(["serve", folder, "--http", "localhost"], { env: sandbox.env }),
        runCli(["serve", folder, "--retry-parked", "0s"], { env: sandbox.env })
      ])
      assertExit(missing, 2)
      assert.include(missing.stderr, "no such folder")
      assertExit(notAFolder, 2)
      assert.include(notAFolder.stderr, "not a folder")
      assertExit(badHttp, 2)
      assert.include(badHttp.stderr, "expected HOST:PORT")
      assertExit(badEvery, 2)
      assert.include(badEvery.stderr, "--retry-parked")
    },
    180_000
  )

  it("run reads the key from the variable api_key_env names, and says which one is missing", async (context) => {
    const { db, folder, sandbox } = await studio(context)
    const file = writeCampaign(folder, "own-key.json", campaign("own-key", postB, { api_key_env: "CLIENT_B_KEY" }))
    const env = { UPLOAD_POST_BASE_URL: sandbox.baseUrl }
    const missing = await runCli(["run", file, "--db", db], { env: { ...env, UPLOAD_POST_API_KEY: sandbox.apiKey } })
    assertExit(missing, 2)
    assert.include(missing.stderr, "CLIENT_B_KEY is not set")
    const sent = await runCli(["run", file, "--db", db], { env: { ...env, CLIENT_B_KEY: sandbox.apiKey } })
    assertExit(sent, 0)
    assert.deepStrictEqual(await reachedBy(sandbox, "own-key"), ids("li", "sara"))
    const wrong = await runCli(["run", file, "--db", db], { env: { ...env, CLIENT_B_KEY: "wrong-key-b" } })
    assertExit(wrong, 4)
    assert.include(wrong.stderr, "CLIENT_B_KEY")
    assert.notInclude(wrong.stderr + wrong.stdout, "wrong-key-b")
  }, 120_000)

  it.skipIf(findPostgres().install === undefined)(
    "the ledger gone ends the process: every campaign stops, exit 1 with the ledger's failure",
    async (context) => {
      const { folder, sandbox, serve } = await studio(context)
      const postgres = await startPostgres()
      context.onTestFinished(() => postgres.stop())
      writeCampaign(folder, "a.json", campaign("camp-a", postA))
      writeCampaign(folder, "b.json", campaign("camp-b", postB))
      const server = serve(["--http", "127.0.0.1:0", "--db", postgres.url])
      await server.until(
        "both campaigns' sends",
        async () =>
          (await reachedBy(sandbox, "camp-a")).length === 1 && (await reachedBy(sandbox, "camp-b")).length === 2
      )
      assert.strictEqual((await server.healthz()).body.ledger, "ok")

      await postgres.stop()
      const result = await server.exited
      assertExit(result, 1)
      assert.include(result.stderr, "comment-dm: ")
      assert.notInclude(result.stdout + result.stderr, postgres.url)
      const fatal = server.lines().find((line) => line.event === "Fatal")
      assert.strictEqual(fatal?.level, "error", server.output())
      assert.isTrue(server.lines().some((line) => line.event === "Stopping"))
      await assertNoDuplicates(sandbox)
    },
    120_000
  )

  it(
    "a stop does not wait for the next slot of a slow pace: SIGTERM exits 130 at once, the others pending",
    async (context) => {
      const { db, folder, sandbox, serve } = await studio(context)
      // One send a minute: the second person's slot is a minute after the first's.
      writeCampaign(folder, "slow.json", campaign("slow", postB, { pace: { per_hour: 60, concurrency: 2 } }))
      const server = serve()
      await server.until("the first send", async () => (await reachedBy(sandbox, "slow")).length === 1)
      const stoppedAt = Date.now()
      server.child.kill("SIGTERM")
      const result = await server.exited
      assertExit(result, 130)
      assert.isBelow(Date.now() - stoppedAt, 10_000, "the stop waited for a pace slot")
      const entries = await ledgerEntries(db, "slow")
      assert.deepStrictEqual(entries.map((entry) => entry.state).sort(), ["pending", "sent"])
      assert.deepStrictEqual(
        await reachedBy(sandbox, "slow"),
        entries.filter((entry) => entry.state === "sent").map((
          entry
        ) => entry.userId)
      )
    },
    180_000
  )

  it("a campaign the API calls invalid (a post it does not know) is parked; the other goes on", async (context) => {
    const { folder, sandbox, serve } = await studio(context)
    writeCampaign(folder, "bad-post.json", campaign("bad-post", "17900000000009999"))
    writeCampaign(folder, "good.json", campaign("good", postB))
    const server = serve(["--http", "127.0.0.1:0"])
    await server.until(
      "bad-post parked",
      () => server.lines().some((line) => line.event === "Parked" && line.campaign === "bad-post")
    )
    await server.until("good's sends", async () => (await reachedBy(sandbox, "good")).length === 2)
    const { body, status } = await server.healthz()
    assert.strictEqual(status, 503)
    const states = Object.fromEntries(body.campaigns.map((entry) => [entry.name, entry]))
    assert.strictEqual(states["bad-post"]?.state, "parked")
    assert.include(states["bad-post"]?.reason, "Post not found")
    assert.strictEqual(states["good"]?.state, "running")
    server.child.kill("SIGTERM")
    assertExit(await server.exited, 130)
    await assertNoDuplicates(sandbox)
  }, 120_000)
})
