/**
 * The reading stage with test services only: the real Upload-Post client over a scripted `HttpClient` (pages keyed by
 * post and cursor, no HTTP), a SQLite ledger in memory and the TestClock. A complete read ends with a `Reached` item
 * carrying the newest comment ids; a later read (a run's or a watcher's poll, in this process or a later one) stops at
 * the first page with nothing new since that mark; a cursor that comes round again ends that post's read with a report
 * and no mark; a daily-limit answer ends it with `limitReached`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream, TestClock } from "effect"
import * as Reading from "../src/campaign/Reading.js"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as Ledger from "../src/Ledger.js"
import * as Retry from "../src/Retry.js"
import * as UploadPost from "../src/UploadPost.js"
import { services } from "./support/scriptedClient.js"
import * as TestHttpClient from "./support/testHttpClient.js"

/** One scripted answer: a page of comment ids and the cursor of the next page, or a 429 with the daily-limit text. */
type Scripted = { readonly ids: ReadonlyArray<string>; readonly next?: string } | "daily limit"

/** Answers each comments request from `pages` (by post id and `after` cursor) and notes which pages were asked for. */
const scriptedApi = (pages: Record<string, Scripted>) => {
  const asked: Array<string> = []
  const client = TestHttpClient.layer((request) => {
    const key = `${TestHttpClient.query(request, "post_id")}@${TestHttpClient.query(request, "after") ?? "start"}`
    asked.push(key)
    const page = pages[key]
    if (page === undefined) return TestHttpClient.json(404, { message: `no ${key}` })
    if (page === "daily limit") return TestHttpClient.json(429, { success: false, message: "Daily limit reached" })
    const comments = page.ids.map((id) => ({ id, text: "guide", user: { id: `u-${id}`, username: id } }))
    const pagination = page.next === undefined
      ? { has_next: false }
      : { has_next: true, next_cursor: page.next }
    return TestHttpClient.json(200, { success: true, comments, pagination })
  })
  return { asked, layer: services(client) }
}

const spec = CampaignSpec.make({
  name: "spring",
  platform: "instagram",
  user: "studio",
  posts: ["p1", "p2"],
  match: { keywords: ["guide"] },
  message: "Hi @{{username}}, here is the guide"
})

/** A reader as the engine builds one, with its reports and daily-limit answers collected. */
const reading = Effect.gen(function*() {
  const campaign = yield* spec
  const api = yield* UploadPost.UploadPost
  const ledger = yield* Ledger.Ledger
  yield* ledger.registerCampaign({
    name: campaign.name,
    platform: campaign.platform,
    profileUser: "studio",
    posts: ["p1", "p2"]
  })
  const reports: Array<string> = []
  const limits: Array<string> = []
  const reader: Reading.Reader = {
    api,
    spec: campaign,
    ledger,
    retry: Retry.defaultPolicy,
    report: (detail) => Effect.sync(() => void reports.push(detail)),
    limitReached: (detail) => Effect.sync(() => void limits.push(detail))
  }
  const [p1, p2] = campaign.posts.filter((post): post is Reading.PostRef => post._tag !== "Recent")
  /** The marks of one process: a later run is a new `Marks`, which starts from what the ledger holds. */
  const marksOf = (size = 100) => new Reading.Marks(reader, size)
  const readWith = (marks: Reading.Marks, ...posts: ReadonlyArray<Reading.PostRef>) =>
    Stream.runCollect(Stream.flatMap(Stream.fromIterable(posts), (post) => Reading.newPages(reader, marks, post))).pipe(
      Effect.map(Chunk.toReadonlyArray)
    )
  const read = (...posts: ReadonlyArray<Reading.PostRef>) => readWith(marksOf(), ...posts)
  return { campaign, ledger, reader, reports, limits, marksOf, read, readWith, p1: p1!, p2: p2! }
})

/** What a read yielded, in a form to compare: a page's comment ids, or a mark's post and ids. */
const shape = (items: ReadonlyArray<Reading.Item>) =>
  items.map((item) =>
    item._tag === "Page"
      ? ["Page", item.post, item.comments.map((comment) => comment.id)]
      : ["Reached", item.mark.post, item.mark.newestIds]
  )

const ids = (from: number, to: number) => Array.from({ length: from - to + 1 }, (_, n) => `c${from - n}`)

/** Post p1 as three pages of three comments, newest first. */
const threePages: Record<string, Scripted> = {
  "p1@start": { ids: ids(9, 7), next: "k1" },
  "p1@k1": { ids: ids(6, 4), next: "k2" },
  "p1@k2": { ids: ids(3, 1) }
}

describe("Reading.newPages", () => {
  it.effect("a first read yields every page, then one Reached whose mark holds the newest comment ids", () => {
    const api = scriptedApi(threePages)
    return Effect.gen(function*() {
      const { campaign, p1, read } = yield* reading
      yield* TestClock.setTime(Date.parse("2026-03-01T12:00:00Z"))
      const items = yield* read(p1)
      assert.deepStrictEqual(shape(items), [
        ["Page", "p1", ids(9, 7)],
        ["Page", "p1", ids(6, 4)],
        ["Page", "p1", ids(3, 1)],
        ["Reached", "p1", ids(9, 1)]
      ])
      assert.deepStrictEqual(api.asked, ["p1@start", "p1@k1", "p1@k2"])
      const reached = items[3]
      assert(reached?._tag === "Reached")
      assert.strictEqual(reached.mark.campaign, campaign.name)
      assert.strictEqual(reached.mark.matchKey, Reading.matchKeyOf(campaign))
      assert.strictEqual(reached.mark.readAt.toISOString(), "2026-03-01T12:00:00.000Z")
    }).pipe(Effect.provide(api.layer))
  })

  it.effect("a later run stops at the first page with nothing new since the mark and ends with a new mark", () => {
    const pages: Record<string, Scripted> = { ...threePages }
    const api = scriptedApi(pages)
    return Effect.gen(function*() {
      const { marksOf, p1, read } = yield* reading
      const first = yield* read(p1)
      const mark = first[first.length - 1]
      assert(mark?._tag === "Reached")
      yield* marksOf().write(mark)
      // A new page on top: the old first page now comes second.
      pages["p1@start"] = { ids: ids(12, 10), next: "k0" }
      pages["p1@k0"] = { ids: ids(9, 7), next: "k1" }
      api.asked.length = 0
      yield* TestClock.adjust("1 hour")
      const second = yield* read(p1)
      // The page of seen comments is asked for (that is how the read knows) but not handed on.
      assert.deepStrictEqual(shape(second), [
        ["Page", "p1", ids(12, 10)],
        ["Reached", "p1", ids(12, 1)]
      ])
      assert.deepStrictEqual(api.asked, ["p1@start", "p1@k0"])
      const reached = second[1]
      assert(reached?._tag === "Reached")
      assert.strictEqual(reached.mark.readAt.getTime(), mark.mark.readAt.getTime() + 3_600_000)
    }).pipe(Effect.provide(api.layer))
  })

  it.effect("a cursor that points back to an earlier page ends that post with a report and no mark", () => {
    const api = scriptedApi({
      ...threePages,
      "p2@start": { ids: ["d6", "d5"], next: "x1" },
      "p2@x1": { ids: ["d4", "d3"], next: "x2" },
      "p2@x2": { ids: ["d2", "d1"], next: "x1" }
    })
    return Effect.gen(function*() {
      const { limits, p1, p2, read, reports } = yield* reading
      const items = yield* read(p2, p1)
      assert.deepStrictEqual(shape(items), [
        ["Page", "p2", ["d6", "d5"]],
        ["Page", "p2", ["d4", "d3"]],
        ["Page", "p1", ids(9, 7)],
        ["Page", "p1", ids(6, 4)],
        ["Page", "p1", ids(3, 1)],
        ["Reached", "p1", ids(9, 1)]
      ])
      assert.deepStrictEqual(api.asked, ["p2@start", "p2@x1", "p2@x2", "p1@start", "p1@k1", "p1@k2"])
      assert.strictEqual(reports.length, 1)
      assert.include(reports[0], "p2")
      assert.include(reports[0], "x1")
      assert.deepStrictEqual(limits, [])
    }).pipe(Effect.provide(api.layer))
  })

  it.effect("a daily-limit answer on a comments read ends that post with no mark and calls limitReached", () => {
    const api = scriptedApi({
      ...threePages,
      "p1@k1": "daily limit",
      "p2@start": { ids: ["d2", "d1"] }
    })
    return Effect.gen(function*() {
      const { limits, p1, p2, read, reports } = yield* reading
      const items = yield* read(p1, p2)
      assert.deepStrictEqual(shape(items), [
        ["Page", "p1", ids(9, 7)],
        ["Page", "p2", ["d2", "d1"]],
        ["Reached", "p2", ["d2", "d1"]]
      ])
      // The daily-limit answer is not retried, and the other post is still read.
      assert.deepStrictEqual(api.asked, ["p1@start", "p1@k1", "p2@start"])
      assert.deepStrictEqual(limits, ["Daily limit reached"])
      assert.deepStrictEqual(reports, [])
    }).pipe(Effect.provide(api.layer))
  })
})

describe("Reading.Marks", () => {
  it.effect("polls with one Marks: a quiet poll asks one page and hands on nothing; new comments on top are read", () => {
    const pages: Record<string, Scripted> = { ...threePages }
    const api = scriptedApi(pages)
    return Effect.gen(function*() {
      const { ledger, marksOf, p1, readWith } = yield* reading
      const marks = marksOf()
      const write = (items: ReadonlyArray<Reading.Item>) =>
        Effect.forEach(items, (item) => item._tag === "Reached" ? marks.write(item) : Effect.void)
      yield* write(yield* readWith(marks, p1))
      api.asked.length = 0
      const quiet = yield* readWith(marks, p1)
      assert.deepStrictEqual(shape(quiet), [["Reached", "p1", ids(9, 1)]])
      assert.deepStrictEqual(api.asked, ["p1@start"])
      // A quiet read's mark is the one written already: the ledger keeps the first read's time.
      const firstReadAt = (yield* ledger.readMark("spring", "p1")).pipe((mark) =>
        mark._tag === "Some" ? mark.value.readAt : undefined
      )
      yield* TestClock.adjust("1 minute")
      yield* write(quiet)
      const after = yield* ledger.readMark("spring", "p1")
      assert(after._tag === "Some")
      assert.strictEqual(after.value.readAt.getTime(), firstReadAt?.getTime())
      // Two new comments: only the first page is handed on, and the mark moves.
      pages["p1@start"] = { ids: ["c11", "c10", "c9"], next: "k1'" }
      pages["p1@k1'"] = { ids: ["c8", "c7", "c6"], next: "k2'" }
      api.asked.length = 0
      const busy = yield* readWith(marks, p1)
      assert.deepStrictEqual(shape(busy), [["Page", "p1", ["c11", "c10", "c9"]], ["Reached", "p1", ids(11, 1)]])
      assert.deepStrictEqual(api.asked, ["p1@start", "p1@k1'"])
    }).pipe(Effect.provide(api.layer))
  })

  it("an unseen comment among seen ones is new (it came in late); one below the mark's run is old", () => {
    const known = new Set(ids(9, 4))
    const [atTop, topNews] = Reading.scanPage(known, { place: 0, firstKnownAt: undefined }, [{ id: "c9" }, {
      id: "c8"
    }])
    assert.isFalse(topNews)
    const [, late] = Reading.scanPage(known, atTop, [{ id: "late" }, { id: "c7" }])
    assert.isTrue(late)
    // The mark holds six ids from place 0: place 6 on is below its run, so an id it does not hold there is old.
    const [, below] = Reading.scanPage(known, { place: 6, firstKnownAt: 0 }, [{ id: "c3" }, { id: "c2" }])
    assert.isFalse(below)
  })

  it.effect("a mark made under other match rules is not used: the next read reads every page", () => {
    const api = scriptedApi(threePages)
    return Effect.gen(function*() {
      const { ledger, p1, read } = yield* reading
      yield* ledger.markRead({
        campaign: "spring",
        post: "p1",
        newestIds: ids(9, 1),
        matchKey: "rules of another file",
        readAt: new Date(0)
      })
      const items = yield* read(p1)
      assert.deepStrictEqual(shape(items).length, 4)
      assert.deepStrictEqual(api.asked, ["p1@start", "p1@k1", "p1@k2"])
    }).pipe(Effect.provide(api.layer))
  })
})
