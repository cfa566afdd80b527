/**
 * Buttons on private replies from the outside: the real command against the sandbox over HTTP. A campaign's buttons
 * go on its private replies, their URLs filled per person with URL-encoded values; DMs carry none (and a campaign of
 * DMs says so); a file with bad buttons stops before any request; the sandbox refuses bad buttons as the API documents.
 */
import type { DataSet } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import * as Path from "node:path"
import { cleanups } from "./support/cleanups.js"
import { type CliResult, runCli, tempDir, writeCampaign } from "./support/cli.js"
import { control, type RunningSandbox, startSandbox } from "./support/sandbox.js"

const profile = "buttons"
const postId = "17900000000000077"
const hour = 3_600_000

const userId = (n: number) => `1784180000000000${n}`
const comment = (n: number, username: string): DataSet.Comment => ({
  id: `c${n}`,
  text: "GUIDE please",
  timestamp: new Date(Date.now() - hour).toISOString(),
  user: { id: userId(n), username }
})

const buttons = [
  { title: "Get the guide", url: "https://example.com/g?u={{user_id}}&n={{username}}" },
  { title: "Shop 🛍️", url: "https://shop.example.com/{{comment_id}}" }
]

const stage = async (comments: ReadonlyArray<DataSet.Comment>, faults: Record<string, unknown> = {}) => {
  const sandbox = await startSandbox({
    data: { _tag: "Listed", profile, posts: [{ id: postId, comments: [...comments] }] },
    seed: 3,
    windows: "open",
    faults
  })
  cleanups.push(sandbox.close)
  const dir = tempDir("comment-dm-buttons-")
  cleanups.push(dir.cleanup)
  const db = Path.join(dir.path, "ledger.sqlite")
  const campaignFile = (extra: Record<string, unknown> = {}) =>
    writeCampaign(dir.path, "campaign.json", {
      name: "buttons",
      platform: "instagram",
      user: profile,
      posts: [postId],
      match: { keywords: ["guide"] },
      message: "Hi @{{username}}, here is the guide",
      buttons,
      pace: { per_hour: 1_000_000 },
      ...extra
    })
  return {
    sandbox,
    campaignFile,
    cli: (...args: ReadonlyArray<string>): Promise<CliResult> => runCli([...args, "--db", db], { env: sandbox.env }),
    deliveries: () => control(sandbox.handle.deliveries)
  }
}

/** POSTs a private reply straight to the sandbox, as a client other than comment-dm would. */
const postReply = async (sandbox: RunningSandbox, body: Record<string, unknown>) => {
  const response = await fetch(`${sandbox.baseUrl}/uploadposts/comments/reply`, {
    method: "POST",
    headers: { authorization: `Apikey ${sandbox.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ platform: "instagram", user: profile, comment_id: "c1", message: "hi", ...body })
  })
  return { status: response.status, body: await response.json() }
}

describe("buttons on private replies", () => {
  it("private replies carry the buttons, each URL filled with the person's values URL-encoded", async () => {
    const s = await stage([comment(1, "ana&b=c"), comment(2, "bo")])
    const result = await s.cli("run", s.campaignFile({ delivery: "private_reply" }), "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    const deliveries = [...(await s.deliveries())].sort((a, b) => a.recipientId.localeCompare(b.recipientId))
    assert.deepStrictEqual(
      deliveries.map((delivery) => [delivery.kind, delivery.buttons]),
      [
        ["private_reply", [
          { title: "Get the guide", url: `https://example.com/g?u=${userId(1)}&n=ana%26b%3Dc` },
          { title: "Shop 🛍️", url: "https://shop.example.com/c1" }
        ]],
        ["private_reply", [
          { title: "Get the guide", url: `https://example.com/g?u=${userId(2)}&n=bo` },
          { title: "Shop 🛍️", url: "https://shop.example.com/c2" }
        ]]
      ]
    )
    assert.notInclude(result.stderr, "carry no buttons")
  })

  it("with auto, a DM carries no buttons and a private reply does", async () => {
    // 2's window is closed (the refused recipients' is): a private reply. 1's is open: a DM.
    const s = await stage([comment(1, "ana"), comment(2, "bo")], { refusedRecipients: [userId(2)] })
    const result = await s.cli("run", s.campaignFile(), "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    const byKind = new Map((await s.deliveries()).map((delivery) => [delivery.kind, delivery]))
    assert.strictEqual(byKind.get("dm")?.recipientId, userId(1))
    assert.isUndefined(byKind.get("dm")?.buttons)
    assert.strictEqual(byKind.get("private_reply")?.recipientId, userId(2))
    assert.strictEqual(byKind.get("private_reply")?.buttons?.length, 2)
    assert.notInclude(result.stderr, "carry no buttons", "auto may send private replies: no notice")
  })

  it("a campaign of DMs with buttons says they are not sent", async () => {
    const s = await stage([comment(1, "ana")])
    const result = await s.cli("run", s.campaignFile({ delivery: "dm" }), "--json")
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stderr, "notice: buttons: this campaign sends DMs")
    const [delivery] = await s.deliveries()
    assert.strictEqual(delivery?.kind, "dm")
    assert.isUndefined(delivery?.buttons)
  })

  it("bad buttons stop the campaign before any request, each problem with its key's path", async () => {
    const s = await stage([comment(1, "ana")])
    const file = s.campaignFile({
      buttons: [
        { title: "A title far longer than twenty", url: "https://example.com" },
        { title: "Go", url: "http://example.com/{{user_id}}" },
        { title: "Go", url: "https://example.com" },
        { title: "Go", url: "https://example.com" }
      ]
    })
    const result = await s.cli("run", file, "--json")
    assert.strictEqual(result.code, 2, result.stderr)
    assert.include(result.stderr, "buttons: at most 3 buttons, got 4")
    assert.include(result.stderr, "buttons[0].title: is 30 characters; a button title may have at most 20")
    assert.include(result.stderr, `buttons[1].url: expected an https URL, got "http://example.com/{{user_id}}"`)
    const stats = await control(s.sandbox.handle.stats)
    assert.deepStrictEqual(stats.requests, {})
  })

  it("the sandbox refuses bad buttons with the API's 400 and keeps good ones on the delivery", async () => {
    const s = await stage([comment(1, "ana"), comment(2, "bo")])
    const link = { title: "Go", url: "https://example.com" }
    for (
      const [buttons, error] of [
        [[link, link, link, link], "buttons must be at most 3, got 4"],
        [
          [{ title: "x".repeat(21), url: "https://example.com" }],
          "buttons must have a title of 1 to 20 characters, got 21"
        ],
        [[{ title: "", url: "https://example.com" }], "buttons must have a title of 1 to 20 characters, got 0"],
        [[{ title: "Go", url: "ftp://example.com" }], "buttons must have a valid http(s) url"],
        [[{ title: "Go", url: "not a url" }], "buttons must have a valid http(s) url"],
        [[{ title: "Go" }], "buttons must be a list of items, each with a title and a url"],
        ["https://example.com", "buttons must be a list of items, each with a title and a url"]
      ] as const
    ) {
      assert.deepStrictEqual(await postReply(s.sandbox, { buttons }), {
        status: 400,
        body: { success: false, error }
      }, JSON.stringify(buttons))
    }
    assert.deepStrictEqual(await s.deliveries(), [], "a refused request delivers nothing")
    const ok = await postReply(s.sandbox, { buttons: [link, { title: "🔥".repeat(20), url: "http://example.com/x" }] })
    assert.strictEqual(ok.status, 200)
    const [delivery] = await s.deliveries()
    assert.deepStrictEqual(delivery?.buttons, [link, { title: "🔥".repeat(20), url: "http://example.com/x" }])
  })
})
