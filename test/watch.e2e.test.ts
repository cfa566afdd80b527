/**
 * `comment-dm watch`, the real command as a child process, against the sandbox over HTTP, with a real SQLite
 * ledger. Comments are added to the sandbox while the watcher runs; the sandbox's deliveries are the ground truth for
 * what was sent, and its request counts for what each poll cost.
 *
 * Each command start costs a few seconds, so the tests run concurrently, each with its own sandbox and directory.
 */
import type { DataSet, Sandbox } from "@comment-dm/sandbox"
import { assert, describe, it, type TestContext } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import * as Path from "node:path"
import { type CliResult, jsonSummary, runCli, startCli, stopAll, tempDir, writeCampaign } from "./support/cli.js"
import { control, type RunningSandbox, startSandbox } from "./support/sandbox.js"

const profile = "watch.studio"
const guidePost = "17900000000000301"
const otherPost = "17900000000000302"
const quietPost = "17900000000000303"

const people = {
  anna: "17841400000000101",
  li: "17841400000000102",
  marco: "17841400000000103",
  sara: "17841400000000104",
  tim: "17841400000000105",
  ken: "17841400000000106",
  zoe: "17841400000000107",
  max: "17841400000000108",
  ola: "17841400000000109",
  ben: "17841400000000110"
} as const
type Name = keyof typeof people

const hour = 3_600_000

const comment = (id: string, text: string, name: Name, agoMillis: number): DataSet.Comment => ({
  id,
  text,
  timestamp: new Date(Date.now() - agoMillis).toISOString(),
  user: { id: people[name], username: name }
})

/** Two posts: Anna and Li ask for the guide, Marco does not. */
const guideData = (): DataSet.Listed => ({
  _tag: "Listed",
  profile,
  posts: [
    {
      id: guidePost,
      comments: [comment("c-301-1", "GUIDE please", "anna", 2 * hour), comment("c-301-2", "love it", "marco", hour)]
    },
    { id: otherPost, comments: [comment("c-302-1", "guíde 🔥", "li", 3 * hour)] }
  ]
})

const campaignFor = (posts: ReadonlyArray<string>) => ({
  name: "watch-e2e",
  platform: "instagram",
  user: profile,
  posts,
  match: { keywords: ["guide"] },
  message: "Hi @{{username}}, here is your guide: https://example.com/guide",
  pace: { per_hour: 360_000, concurrency: 4 }
})

interface Heartbeat {
  readonly poll: number
  readonly pages: number
  readonly newPeople: number
}

const heartbeatLine = /^poll (\d+): (\d+) pages?, \d+ comments, (\d+) new matching people/

interface Watcher {
  readonly child: ChildProcess
  readonly heartbeats: () => ReadonlyArray<Heartbeat>
  /** Everything the command wrote so far, both streams. */
  readonly output: () => string
  /** Resolves once `done()` holds; fails when the command exits first or the time runs out. */
  readonly until: (what: string, done: () => boolean | Promise<boolean>, timeoutMs?: number) => Promise<void>
  /** Resolves once the heartbeat of poll `poll` (or a later one) is out. */
  readonly untilPoll: (poll: number) => Promise<void>
  readonly exited: Promise<CliResult>
}

interface Studio {
  readonly sandbox: RunningSandbox
  /** Starts `comment-dm watch` on the test's campaign and ledger, with these extra arguments. */
  readonly watch: (args: ReadonlyArray<string>) => Watcher
  /** Runs `comment-dm watch --once` on the test's campaign and ledger to its end. */
  readonly once: () => Promise<CliResult>
}

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/** A sandbox, a directory with the campaign, and watchers that are killed when the test ends. */
const studio = async (
  context: TestContext,
  options: { readonly data: DataSet.Listed; readonly posts: ReadonlyArray<string> } & Sandbox.SandboxOptions
): Promise<Studio> => {
  // Open windows: every commenter can be DMed, also those who comment while the watcher runs.
  const sandbox = await startSandbox({ seed: 1, windows: "open", ...options })
  const dir = tempDir("comment-dm-watch-")
  const children: Array<ChildProcess> = []
  context.onTestFinished(async () => {
    await stopAll(children)
    await sandbox.close()
    dir.cleanup()
  })
  const db = Path.join(dir.path, "ledger.sqlite")
  const campaign = writeCampaign(dir.path, "campaign.json", campaignFor(options.posts))
  const watch = (args: ReadonlyArray<string>): Watcher => {
    const child = startCli(["watch", campaign, "--db", db, "--json", ...args], { env: sandbox.env })
    children.push(child)
    let stdout = ""
    let stderr = ""
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const exited = new Promise<CliResult>((resolve) =>
      child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
    )
    const output = () => `stdout:\n${stdout}\nstderr:\n${stderr}`
    const heartbeats = () =>
      `${stdout}\n${stderr}`.split("\n").flatMap((line) => {
        const found = heartbeatLine.exec(line)
        return found === null ? [] : [{ poll: Number(found[1]), pages: Number(found[2]), newPeople: Number(found[3]) }]
      })
    const until = async (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 90_000) => {
      const deadline = Date.now() + timeoutMs
      while (!(await done())) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`the watcher exited (${child.exitCode ?? child.signalCode}) before ${what}\n${output()}`)
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output()}`)
        await sleep(50)
      }
    }
    const untilPoll = (poll: number) =>
      until(`poll ${poll}`, () => heartbeats().some((heartbeat) => heartbeat.poll >= poll))
    return { child, heartbeats, output, until, untilPoll, exited }
  }
  return {
    sandbox,
    watch,
    once: () => runCli(["watch", campaign, "--db", db, "--json", "--once"], { env: sandbox.env, timeoutMs: 90_000 })
  }
}

const lastPoll = (watcher: Watcher) => watcher.heartbeats().at(-1)?.poll ?? 0

/** DMs the sandbox accepted, per recipient id. */
const deliveryCounts = async (sandbox: RunningSandbox): Promise<ReadonlyMap<string, number>> => {
  const counts = new Map<string, number>()
  for (const delivery of await control(sandbox.handle.deliveries)) {
    counts.set(delivery.recipientId, (counts.get(delivery.recipientId) ?? 0) + 1)
  }
  return counts
}

/** Asserts that exactly these people got a DM, one each. */
const assertSentOnceTo = async (sandbox: RunningSandbox, names: ReadonlyArray<Name>) => {
  const counts = await deliveryCounts(sandbox)
  assert.deepStrictEqual(
    Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b))),
    Object.fromEntries(names.map((name) => [people[name], 1] as const).sort(([a], [b]) => a.localeCompare(b)))
  )
}

const hasDelivery = (sandbox: RunningSandbox, ...names: ReadonlyArray<Name>) => async () => {
  const counts = await deliveryCounts(sandbox)
  return names.every((name) => counts.has(people[name]))
}

const addComments = (sandbox: RunningSandbox, comments: ReadonlyArray<DataSet.Comment & { readonly postId: string }>) =>
  Promise.all(comments.map((added) => control(sandbox.handle.addComment(added))))

const assertExit = (result: CliResult, code: number) =>
  assert.strictEqual(result.code, code, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`)

describe.concurrent("comment-dm watch against the sandbox", () => {
  it(
    "DMs each new matching commenter once while it runs, resumes cleanly after kill -9, and settles on SIGINT",
    async (context) => {
      const { sandbox, watch } = await studio(context, { data: guideData(), posts: [guidePost, otherPost] })
      const first = watch(["--every", "1s"])
      await first.untilPoll(1)
      await assertSentOnceTo(sandbox, ["anna", "li"])

      // Sara asks on both posts at once, Tim asks for nothing, Anna (sent already) asks again.
      await addComments(sandbox, [
        { postId: guidePost, ...comment("c-new-1", "GUIDE please!", "sara", 0) },
        { postId: otherPost, ...comment("c-new-2", "guide", "sara", 0) },
        { postId: guidePost, ...comment("c-new-3", "just passing by", "tim", 0) },
        { postId: otherPost, ...comment("c-new-4", "guide again please", "anna", 0) }
      ])
      await first.until("Sara's DM", hasDelivery(sandbox, "sara"))
      // Sara asks again on a later poll.
      await addComments(sandbox, [{ postId: guidePost, ...comment("c-new-5", "guide??", "sara", 0) }])
      await first.untilPoll(lastPoll(first) + 2)
      await assertSentOnceTo(sandbox, ["anna", "li", "sara"])

      first.child.kill("SIGKILL")
      assert.strictEqual((await first.exited).signal, "SIGKILL")
      // While no watcher runs: two new people ask, Tim still asks for nothing.
      await addComments(sandbox, [
        { postId: guidePost, ...comment("c-down-1", "guide", "ken", 0) },
        { postId: otherPost, ...comment("c-down-2", "Guide 🙏", "zoe", 0) },
        { postId: otherPost, ...comment("c-down-3", "nice one", "tim", 0) }
      ])

      const second = watch(["--every", "1s"])
      await second.until("the DMs of the people who asked while it was down", hasDelivery(sandbox, "ken", "zoe"))
      await second.untilPoll(lastPoll(second) + 1)
      await assertSentOnceTo(sandbox, ["anna", "li", "sara", "ken", "zoe"])

      // A slow API: Max's DM is in flight when SIGINT arrives; it settles before the watcher exits.
      await control(sandbox.handle.setFaults({ latency: { minMs: 1500, maxMs: 1500 } }))
      const sendsBefore = (await control(sandbox.handle.stats)).requests["POST /uploadposts/dms/send"] ?? 0
      await addComments(sandbox, [{ postId: guidePost, ...comment("c-late-1", "guide please", "max", 0) }])
      await second.until(
        "Max's DM request",
        async () => ((await control(sandbox.handle.stats)).requests["POST /uploadposts/dms/send"] ?? 0) > sendsBefore
      )
      second.child.kill("SIGINT")
      const result = await second.exited
      assertExit(result, 130)
      const summary = jsonSummary(result)
      assert.strictEqual(summary.outcome, "interrupted")
      assert.deepInclude(summary.counts, { matched: 6, sent: 3, already_sent: 3, pending: 0, in_doubt: 0 })
      await assertSentOnceTo(sandbox, ["anna", "li", "sara", "ken", "zoe", "max"])
    },
    150_000
  )

  it(
    "--once polls once and exits with the run exit codes: 0 when everyone is settled, 3 at the daily limit",
    async (context) => {
      const data = (): DataSet.Listed => ({
        _tag: "Listed",
        profile,
        posts: [{
          id: guidePost,
          comments: [
            comment("c-once-1", "guide", "anna", 4 * hour),
            comment("c-once-2", "GUIDE", "li", 3 * hour),
            comment("c-once-3", "guide pls", "sara", 2 * hour),
            comment("c-once-4", "guide!", "ken", hour)
          ]
        }]
      })
      const [open, limited] = await Promise.all([
        studio(context, { data: data(), posts: [guidePost] }),
        studio(context, { data: data(), posts: [guidePost], faults: { dailyDmLimit: 2 } })
      ])
      const [settled, stopped] = await Promise.all([open.once(), limited.once()])

      assertExit(settled, 0)
      assert.strictEqual(jsonSummary(settled).outcome, "completed")
      assert.deepInclude(jsonSummary(settled).counts, { matched: 4, sent: 4, pending: 0 })
      assert.match(settled.stderr, /^poll 1: 1 page, 4 comments, 4 new matching people; 4 sent so far$/m)
      assert.notMatch(settled.stderr, /^poll 2/m)
      await assertSentOnceTo(open.sandbox, ["anna", "li", "sara", "ken"])

      assertExit(stopped, 3)
      assert.strictEqual(jsonSummary(stopped).outcome, "daily_limit")
      assert.deepInclude(jsonSummary(stopped).counts, { matched: 4, sent: 2, pending: 2 })
      assert.notMatch(stopped.stderr, /^poll 2/m)
      assert.strictEqual((await deliveryCounts(limited.sandbox)).size, 2)

      // The next scheduled --once on the same day knows the limit is spent: it sends nothing and says so.
      const again = await limited.once()
      assertExit(again, 3)
      assert.deepInclude(jsonSummary(again).counts, { matched: 4, sent: 0, already_sent: 2, pending: 2 })
      assert.strictEqual((await deliveryCounts(limited.sandbox)).size, 2)
    },
    150_000
  )

  it(
    "the daily DM limit pauses sends but not the watcher: it keeps polling and keeps new people pending",
    async (context) => {
      const { sandbox, watch } = await studio(context, {
        data: guideData(),
        posts: [guidePost, otherPost],
        faults: { dailyDmLimit: 1 }
      })
      const watcher = watch(["--every", "1s"])
      await watcher.until("the daily limit", () => /daily DM limit reached/.test(watcher.output()))
      await watcher.untilPoll(1)
      assert.strictEqual((await deliveryCounts(sandbox)).size, 1)

      await addComments(sandbox, [{ postId: otherPost, ...comment("c-paused-1", "guide", "ola", 0) }])
      await watcher.until(
        "the poll that reads Ola's comment",
        () => watcher.heartbeats().some((heartbeat) => heartbeat.newPeople === 1 && heartbeat.poll > 1)
      )
      await watcher.untilPoll(lastPoll(watcher) + 2)
      assert.strictEqual((await deliveryCounts(sandbox)).size, 1, "nothing more is sent while paused")
      assert.strictEqual(
        watcher.output().match(/daily DM limit reached/g)?.length,
        1,
        "the pause is announced once"
      )

      watcher.child.kill("SIGINT")
      const result = await watcher.exited
      assertExit(result, 130)
      assert.strictEqual(jsonSummary(result).outcome, "interrupted")
      assert.deepInclude(jsonSummary(result).counts, { matched: 3, sent: 1, pending: 2, in_doubt: 0 })
    },
    150_000
  )

  it("a post without comments is watched from its first comment on", async (context) => {
    const data: DataSet.Listed = { _tag: "Listed", profile, posts: [{ id: quietPost, comments: [] }] }
    const { sandbox, watch } = await studio(context, { data, posts: [quietPost] })
    const watcher = watch(["--every", "1s"])
    await watcher.untilPoll(1)
    assert.deepStrictEqual(watcher.heartbeats()[0], { poll: 1, pages: 1, newPeople: 0 })

    await addComments(sandbox, [{ postId: quietPost, ...comment("c-first-1", "guide please", "ola", 0) }])
    await watcher.until("Ola's DM", hasDelivery(sandbox, "ola"))
    watcher.child.kill("SIGINT")
    const result = await watcher.exited
    assertExit(result, 130)
    assert.deepInclude(jsonSummary(result).counts, { matched: 1, sent: 1, pending: 0, in_doubt: 0 })
    await assertSentOnceTo(sandbox, ["ola"])
  }, 150_000)

  it("a quiet post with 1,500 old comments costs one page a poll", async (context) => {
    const data: DataSet.Listed = {
      _tag: "Listed",
      profile,
      posts: [{
        id: quietPost,
        comments: Array.from(
          { length: 1_500 },
          (_, i) => comment(`c-quiet-${i}`, "love this", i % 2 === 0 ? "ben" : "tim", hour + i * 60_000)
        )
      }]
    }
    const { sandbox, watch } = await studio(context, { data, posts: [quietPost] })
    const comments = async () => (await control(sandbox.handle.stats)).requests["GET /uploadposts/comments"] ?? 0
    const watcher = watch(["--every", "1s"])
    await watcher.untilPoll(2)
    const from = { poll: lastPoll(watcher), requests: await comments() }
    await watcher.untilPoll(from.poll + 4)
    const to = { poll: lastPoll(watcher), requests: await comments() }
    const [firstRead, ...quiet] = watcher.heartbeats()
    assert.strictEqual(firstRead?.pages, 30, "the first poll reads the whole post")
    assert.deepStrictEqual(quiet.map((heartbeat) => heartbeat.pages), quiet.map(() => 1))
    // The sandbox's own count; the ends of the span may each catch one poll in flight.
    assert.isAtMost(to.requests - from.requests, to.poll - from.poll + 1)
  }, 150_000)
})
