/**
 * `comment-dm serve` over three profiles of an agency, each with its own API key (the sandbox serving three profiles
 * and three keys, each key owning one profile; each campaign file naming its key's variable with `api_key_env`).
 * While it serves, one file is edited, one broken and one profile's key revoked: the healthy campaigns go on, the
 * revoked one is parked alone and comes back once its key is restored, the broken one keeps its last good version.
 * The sandbox's deliveries (per profile) are the ground truth for what was sent; the ledger and `status --json` for
 * who is accounted for.
 */
import type { DataSet, Profiles } from "@comment-dm/sandbox"
import { assert, describe, it, type TestContext } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type CliResult, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { ledgerEntries } from "./support/e2e-ledger.js"
import { control, startSandbox } from "./support/sandbox.js"
import { startServe } from "./support/serve-child.js"

const people = {
  anna: "17841400000000301",
  li: "17841400000000302",
  sara: "17841400000000303",
  tim: "17841400000000304",
  ken: "17841400000000305",
  zoe: "17841400000000306"
} as const
type Name = keyof typeof people

/** The agency's three profiles: each has its own key (in its own variable), post, campaign file and daily cap. */
const clients = [
  {
    campaign: "one-guide",
    profile: "agency.one",
    key: "key-one-9f2",
    env: "CLIENT_ONE_KEY",
    post: "17900000000000501"
  },
  {
    campaign: "two-guide",
    profile: "agency.two",
    key: "key-two-7c4",
    env: "CLIENT_TWO_KEY",
    post: "17900000000000502"
  },
  {
    campaign: "three-guide",
    profile: "agency.three",
    key: "key-three-3b1",
    env: "CLIENT_THREE_KEY",
    post: "17900000000000503"
  }
] as const
const [one, two, three] = clients
type Client = (typeof clients)[number]

const hour = 3_600_000

let commentIds = 0
const comment = (text: string, name: Name, agoMillis = 0): DataSet.Comment => ({
  id: `c-profiles-${++commentIds}`,
  text,
  timestamp: new Date(Date.now() - agoMillis).toISOString(),
  user: { id: people[name], username: name }
})

/** Anna and Li ask on every profile's post (the same people on three profiles); Tim only says something nice. */
const data = (client: Client): DataSet.Listed => ({
  _tag: "Listed",
  profile: client.profile,
  posts: [{
    id: client.post,
    comments: [
      comment("GUIDE please", "anna", 3 * hour),
      comment("guide 🙏", "li", 2 * hour),
      comment("nice", "tim", hour)
    ]
  }]
})

/** A campaign file in YAML; its message starts with the campaign's name, so deliveries tell campaigns apart. */
const campaignYaml = (
  client: Pick<Client, "campaign" | "profile" | "post"> & { readonly env: string },
  message = `${client.campaign}: hi @{{username}}, here is your guide`,
  pace = "  per_hour: 360000\n  concurrency: 2"
) =>
  [
    `name: ${client.campaign}`,
    "platform: instagram",
    `user: ${client.profile}`,
    `api_key_env: ${client.env}`,
    "posts:",
    `  - "${client.post}"`,
    "match:",
    "  keywords: [guide]",
    `message: "${message}"`,
    "delivery: dm",
    "pace:",
    pace,
    ""
  ].join("\n")

const ids = (...names: ReadonlyArray<Name>) => names.map((name) => people[name]).sort()

const assertExit = (result: CliResult, code: number) =>
  assert.strictEqual(result.code, code, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`)

interface AgencyOptions {
  /** Each profile's daily DM cap. */
  readonly dailyCaps?: readonly [number, number, number]
  /** `--retry-parked`. */
  readonly retryParked?: string
  /** `campaignYaml`'s options per campaign. */
  readonly pace?: string
  /** Keys beside the three, owning profiles of the three (a client's second key). */
  readonly moreKeys?: ReadonlyArray<{ readonly key: string; readonly env: string; readonly profile: string }>
}

/**
 * The sandbox with the three profiles and their keys, a folder with the three campaign files, and `comment-dm serve`
 * on it, whose environment holds each client's key in its variable.
 */
const agency = async (context: TestContext, options: AgencyOptions = {}) => {
  const [capOne, capTwo, capThree] = options.dailyCaps ?? [500, 500, 500]
  const sandbox = await startSandbox({
    seed: 3,
    windows: "open",
    profiles: [
      { name: one.profile, data: data(one), dailyDmLimit: capOne },
      { name: two.profile, data: data(two), dailyDmLimit: capTwo },
      { name: three.profile, data: data(three), dailyDmLimit: capThree }
    ],
    keys: [
      { key: one.key, profiles: [one.profile] },
      { key: two.key, profiles: [two.profile] },
      { key: three.key, profiles: [three.profile] },
      ...(options.moreKeys ?? []).map((more): Profiles.Key => ({ key: more.key, profiles: [more.profile] }))
    ]
  })
  const dir = tempDir("comment-dm-serve-profiles-")
  context.onTestFinished(async () => {
    await sandbox.close()
    dir.cleanup()
  })
  const folder = Path.join(dir.path, "campaigns")
  Fs.mkdirSync(folder)
  const db = Path.join(dir.path, "ledger.sqlite")
  const files = Object.fromEntries(
    clients.map((client) => [
      client.campaign,
      writeCampaign(folder, `${client.campaign}.yaml`, campaignYaml(client, undefined, options.pace))
    ])
  ) as Record<Client["campaign"], string>

  const server = startServe(
    [
      folder,
      "--db",
      db,
      "--http",
      "127.0.0.1:0",
      "--every",
      "1s",
      "--retry-parked",
      options.retryParked ?? "2s",
      "--log-format",
      "json"
    ],
    {
      UPLOAD_POST_BASE_URL: sandbox.baseUrl,
      // Every campaign names its own key: a default key the sandbox refuses proves none falls back to it.
      UPLOAD_POST_API_KEY: "not-a-key-of-the-sandbox",
      ...Object.fromEntries(clients.map((client) => [client.env, client.key])),
      ...Object.fromEntries((options.moreKeys ?? []).map((more) => [more.env, more.key]))
    }
  )
  context.onTestFinished(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill("SIGKILL")
      await server.exited
    }
  })

  const deliveries = () => control(sandbox.handle.deliveries)
  /** Who a campaign reached on its profile: recipient ids, sorted. */
  const reached = async (client: Client) =>
    (await deliveries()).filter((delivery) =>
      delivery.profile === client.profile && delivery.message.startsWith(`${client.campaign}:`)
    ).map((delivery) => delivery.recipientId).sort()
  /** No person got two messages from one campaign, and every delivery names the profile of its campaign. */
  const assertNoDuplicates = async () => {
    const all = await deliveries()
    const keys = all.map((delivery) => `${delivery.profile} ${delivery.message.split(":")[0]} ${delivery.recipientId}`)
    assert.deepStrictEqual(keys.filter((key, index) => keys.indexOf(key) !== index), [], "duplicates")
    for (const delivery of all) {
      const client = clients.find((candidate) => delivery.message.startsWith(`${candidate.campaign}:`))
      assert.strictEqual(delivery.profile, client?.profile, delivery.message)
    }
  }
  /** The last line of `status --json` for the campaign's file. */
  const status = async (client: Client) => {
    const result = await runCli(["status", files[client.campaign], "--db", db, "--json"])
    assertExit(result, 0)
    return JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "")
  }
  return { sandbox, db, files, server, deliveries, reached, assertNoDuplicates, status }
}

describe("comment-dm serve over three profiles and keys", () => {
  it(
    "an edit, a broken file and a revoked key while serving: the healthy campaigns go on, the revoked profile's is " +
      "parked alone and comes back, each person reached once per campaign and profile, everyone accounted for",
    async (context) => {
      // One's cap is reached in the last step; the others' caps are their own.
      const { assertNoDuplicates, db, deliveries, files, reached, sandbox, server, status } = await agency(context, {
        dailyCaps: [3, 50, 60]
      })

      // The first step: each campaign reaches Anna and Li on its own profile.
      await server.until("every campaign's first sends", async () => {
        for (const client of clients) if ((await reached(client)).length < 2) return false
        return true
      })
      for (const client of clients) assert.deepStrictEqual(await reached(client), ids("anna", "li"), client.campaign)
      const healthy = await server.healthz()
      assert.strictEqual(healthy.status, 200, healthy.text)

      // While serving: one's message edited, two's file broken (invalid YAML), three's key revoked.
      Fs.writeFileSync(files[one.campaign], campaignYaml(one, `${one.campaign}: v2 for @{{username}}`))
      Fs.writeFileSync(files[two.campaign], `${campaignYaml(two)}match: [unclosed\n  - :\n`)
      await control(sandbox.handle.setKey({ key: three.key, revoked: true }))

      await server.until(
        "one restarted on its edit",
        () =>
          server.lines().some((line) => line.event === "CampaignEdited" && line.campaign === one.campaign) &&
          server.lines().filter((line) => line.event === "Started" && line.campaign === one.campaign).length >= 2
      )
      await server.until(
        "two's broken file reported",
        () => server.lines().some((line) => line.event === "FileBroken" && line.campaign === two.campaign)
      )
      await server.until(
        "three parked",
        () => server.lines().some((line) => line.event === "Parked" && line.campaign === three.campaign)
      )
      const broken = server.lines().find((line) => line.event === "FileBroken")
      assert.deepInclude(broken, { level: "error", file: files[two.campaign], profile: two.profile })
      assert.include(broken?.message, "keeps running on its last good version")
      const parkedLine = server.lines().find((line) => line.event === "Parked")
      assert.deepInclude(parkedLine, { level: "error", campaign: three.campaign, profile: three.profile })
      assert.include(parkedLine?.message, three.env)

      // /healthz: 503 naming three's profile alone; one and two running, two on its last good version.
      const parked = await server.healthz()
      assert.strictEqual(parked.status, 503, parked.text)
      assert.strictEqual(parked.body.status, "parked")
      assert.deepStrictEqual(parked.body.parked_profiles, [three.profile])
      const states = Object.fromEntries(parked.body.campaigns.map((entry) => [entry.name, entry]))
      assert.deepInclude(states[one.campaign], { state: "running", profile: one.profile, file_problem: null })
      assert.deepInclude(states[two.campaign], { state: "running", profile: two.profile })
      assert.include(states[two.campaign]?.file_problem, files[two.campaign])
      assert.deepInclude(states[three.campaign], { state: "parked", profile: three.profile })
      assert.include(states[three.campaign]?.reason, three.env)
      assert.isNotNull(states[three.campaign]?.retry_at)
      assert.deepStrictEqual(parked.body.files.map((file) => file.path), [files[two.campaign]])
      for (const client of clients) assert.notInclude(server.output() + parked.text, client.key)
      context.annotate(
        `log while three's key is revoked:\n${server.output()}\n/healthz ${parked.status}: ${parked.text}`
      )

      // New commenters on every profile's post; Anna asks again on each (she was reached already).
      for (const client of clients) {
        await control(sandbox.handle.addComment({ postId: client.post, ...comment("guide!", "ken") }))
        await control(sandbox.handle.addComment({ postId: client.post, ...comment("GUIDE again", "anna") }))
      }
      await server.until(
        "Ken reached by one and two",
        async () => (await reached(one)).includes(people.ken) && (await reached(two)).includes(people.ken)
      )
      const toKen = (await deliveries()).filter((delivery) => delivery.recipientId === people.ken)
      assert.sameMembers(toKen.map((delivery) => delivery.message), [
        `${one.campaign}: v2 for @ken`,
        `${two.campaign}: hi @ken, here is your guide`
      ])
      // Three stays parked while its key is revoked: tried again on the slow schedule, parked again, nothing sent.
      await server.until(
        "three parked again",
        () => server.lines().filter((line) => line.event === "Parked" && line.campaign === three.campaign).length >= 2
      )
      assert.deepStrictEqual(await reached(three), ids("anna", "li"))
      assert.strictEqual((await server.healthz()).status, 503)
      await assertNoDuplicates()

      // The key restored: three comes back within the retry interval (2 s) and a poll, and reaches Ken.
      const restoredAt = Date.now()
      await control(sandbox.handle.setKey({ key: three.key, revoked: false }))
      await server.until("three reaches Ken", async () => (await reached(three)).includes(people.ken), 20_000)
      const back = Date.now() - restoredAt
      assert.isBelow(back, 2_000 + 1_000 + 5_000, "three came back late")
      await server.until("healthz 200 again", async () => (await server.healthz()).status === 200, 10_000)
      const recovered = await server.healthz()
      assert.deepStrictEqual(recovered.body.parked_profiles, [])
      assert.deepStrictEqual(recovered.body.campaigns.map((entry) => [entry.name, entry.state]), [
        [one.campaign, "running"],
        [three.campaign, "running"],
        [two.campaign, "running"]
      ])

      // A last step after the recovery: Zoe on every profile. One's profile is at its daily cap (3): she waits
      // there, while two and three, counted apart, reach her.
      for (const client of clients) {
        await control(sandbox.handle.addComment({ postId: client.post, ...comment("guide", "zoe") }))
      }
      await server.until(
        "Zoe reached by two and three",
        async () => (await reached(two)).includes(people.zoe) && (await reached(three)).includes(people.zoe)
      )
      await server.until(
        "one paused at its profile's daily cap",
        () => server.lines().some((line) => line.event === "DailyLimit" && line.campaign === one.campaign)
      )
      assert.isFalse(server.lines().some((line) => line.event === "DailyLimit" && line.campaign !== one.campaign))

      server.child.kill("SIGTERM")
      const result = await server.exited
      assertExit(result, 130)

      await assertNoDuplicates()
      const everyone = ids("anna", "li", "ken", "zoe")
      // Who each campaign reached; Zoe waits for one's cap to reset, pending in its ledger.
      const sentTo = { [one.campaign]: ids("anna", "li", "ken"), [two.campaign]: everyone, [three.campaign]: everyone }
      // The broken file's campaign is still the good version in the ledger; status reads that version.
      Fs.writeFileSync(files[two.campaign], campaignYaml(two))
      const stats = await control(sandbox.handle.stats)
      for (const client of clients) {
        const sent = sentTo[client.campaign] ?? []
        assert.deepStrictEqual(await reached(client), sent, client.campaign)
        const entries = await ledgerEntries(db, client.campaign)
        assert.deepStrictEqual(entries.map((entry) => entry.userId).sort(), everyone, client.campaign)
        assert.deepStrictEqual(
          entries.filter((entry) => entry.state === "sent").map((entry) => entry.userId).sort(),
          sent,
          client.campaign
        )
        const report = await status(client)
        assert.strictEqual(report.unaccounted, 0, client.campaign)
        assert.strictEqual(report.matched, everyone.length, client.campaign)
        // Nothing left claimed or in doubt; the states sum to the people matched.
        assert.deepStrictEqual(report.counts, {
          pending: everyone.length - sent.length,
          claimed: 0,
          sent: sent.length,
          refused: 0,
          in_doubt: 0
        }, client.campaign)
        // Each profile's daily count holds its own sends only.
        assert.deepInclude(
          stats.profiles[client.profile],
          { deliveries: sent.length, dailyCount: sent.length },
          client.profile
        )
      }
    },
    180_000
  )

  it(
    "a key revoked between two sends of a step: the rest stay pending, none claimed; its file naming the client's " +
      "other key starts it at once, not at the next retry; each newcomer reached once",
    async (context) => {
      const second = { key: "key-three-second-5d0", env: "CLIENT_THREE_SECOND_KEY", profile: three.profile }
      // One send every 2 s per profile, so that the key is revoked while three's step still has people to reach;
      // a retry far later than the test waits, so that only the file's change can start three again.
      const { assertNoDuplicates, db, files, reached, sandbox, server, status } = await agency(context, {
        pace: "  per_hour: 1800\n  concurrency: 1",
        retryParked: "10m",
        moreKeys: [second]
      })
      await server.until("every campaign's first sends", async () => {
        for (const client of clients) if ((await reached(client)).length < 2) return false
        return true
      })
      const newcomers = ["ken", "zoe", "sara", "tim"] as const
      for (const name of newcomers) {
        await control(sandbox.handle.addComment({ postId: three.post, ...comment("guide", name) }))
      }
      await control(sandbox.handle.addComment({ postId: one.post, ...comment("guide", "ken") }))
      await server.until("three's first newcomer", async () => (await reached(three)).length === 3)
      await control(sandbox.handle.setKey({ key: three.key, revoked: true }))
      await server.until(
        "three parked",
        () => server.lines().some((line) => line.event === "Parked" && line.campaign === three.campaign)
      )
      const parked = await server.healthz()
      assert.strictEqual(parked.status, 503, parked.text)
      assert.deepStrictEqual(parked.body.parked_profiles, [three.profile])
      // Nobody left claimed or in doubt while parked: the newcomers not reached wait as pending.
      const whileParked = await status(three)
      assert.deepInclude(whileParked, { unaccounted: 0, matched: 6 })
      assert.deepStrictEqual(whileParked.counts, { pending: 3, claimed: 0, sent: 3, refused: 0, in_doubt: 0 })
      await server.until("Ken reached by one", async () => (await reached(one)).includes(people.ken))

      // The client gives the campaign its other key: the file's change starts it at once.
      const changedAt = Date.now()
      Fs.writeFileSync(
        files[three.campaign],
        campaignYaml({ ...three, env: second.env }, undefined, "  per_hour: 1800\n  concurrency: 1")
      )
      await server.until(
        "every newcomer reached by three",
        async () => (await reached(three)).length === 2 + newcomers.length,
        30_000
      )
      assert.isBelow(Date.now() - changedAt, 20_000)
      assert.strictEqual((await server.healthz()).status, 200)
      server.child.kill("SIGTERM")
      assertExit(await server.exited, 130)

      await assertNoDuplicates()
      assert.deepStrictEqual(await reached(three), ids("anna", "li", ...newcomers))
      const after = await status(three)
      assert.deepInclude(after, { unaccounted: 0, matched: 6 })
      assert.deepStrictEqual(after.counts, { pending: 0, claimed: 0, sent: 6, refused: 0, in_doubt: 0 })
      assert.deepStrictEqual(
        (await ledgerEntries(db, three.campaign)).map((entry) => entry.userId).sort(),
        ids("anna", "li", ...newcomers)
      )
      const stats = await control(sandbox.handle.stats)
      assert.isAbove(stats.keys[second.key]?.requests ?? 0, 0, "the second key in use")
      assert.deepInclude(stats.profiles[three.profile], { deliveries: 6, dailyCount: 6 })
      assert.deepInclude(stats.profiles[one.profile], { deliveries: 3, dailyCount: 3 })
    },
    180_000
  )

  it(
    "one profile's account needs a new login: its campaign alone is parked, the others go on, and it comes back",
    async (context) => {
      const { assertNoDuplicates, reached, sandbox, server } = await agency(context)
      await server.until("every campaign's first sends", async () => {
        for (const client of clients) if ((await reached(client)).length < 2) return false
        return true
      })
      await control(sandbox.handle.setProfile(two.profile, { reauthRequired: true }))
      await server.until("two parked", async () => (await server.healthz()).status === 503)
      const parked = await server.healthz()
      assert.deepStrictEqual(parked.body.parked_profiles, [two.profile])
      assert.deepStrictEqual(
        parked.body.campaigns.map((entry) => [entry.name, entry.state]),
        [[one.campaign, "running"], [three.campaign, "running"], [two.campaign, "parked"]]
      )
      assert.include(parked.body.campaigns.find((entry) => entry.name === two.campaign)?.reason, "reauth_required")
      for (const client of clients) {
        await control(sandbox.handle.addComment({ postId: client.post, ...comment("guide", "sara") }))
      }
      await server.until(
        "Sara reached by one and three",
        async () => (await reached(one)).includes(people.sara) && (await reached(three)).includes(people.sara)
      )
      assert.deepStrictEqual(await reached(two), ids("anna", "li"))

      await control(sandbox.handle.setProfile(two.profile, { reauthRequired: false }))
      await server.until("Sara reached by two", async () => (await reached(two)).includes(people.sara), 20_000)
      assert.strictEqual((await server.healthz()).status, 200)
      server.child.kill("SIGTERM")
      assertExit(await server.exited, 130)
      await assertNoDuplicates()
      for (const client of clients) assert.deepStrictEqual(await reached(client), ids("anna", "li", "sara"))
    },
    120_000
  )
})
