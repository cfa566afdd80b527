import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as Edits from "../src/campaign/Edits.js"
import * as CampaignSpec from "../src/CampaignSpec.js"
import type { CampaignVersion, LedgerEntry } from "../src/Ledger.js"

const base = {
  name: "edits",
  platform: "instagram",
  user: "studio",
  posts: ["17900000000000001", "17900000000000002"],
  match: { keywords: ["guide", "link"] },
  message: "Hi @{{username}}"
}

const decode = (input: Record<string, unknown>) => Schema.decodeUnknownSync(CampaignSpec.CampaignSpec)(input)
/** The campaign as the ledger records a version of it. */
const recorded = (input: Record<string, unknown>) =>
  JSON.parse(JSON.stringify(Schema.encodeSync(CampaignSpec.CampaignSpec)(decode(input))))

const version = (n: number, spec: unknown, at: number): CampaignVersion => ({
  version: n,
  spec,
  createdAt: new Date(at)
})

const pending = (overrides: Partial<LedgerEntry>): LedgerEntry => ({
  campaign: "edits",
  platform: "instagram",
  userId: "u1",
  step: "first_message",
  username: "u1",
  postId: "17900000000000001",
  commentId: "c1",
  commentText: "guide please",
  commentTime: undefined,
  keyword: "guide",
  state: "pending",
  reason: undefined,
  path: undefined,
  campaignVersion: undefined,
  message: undefined,
  messageId: undefined,
  attempts: 0,
  claimedAt: undefined,
  claimedBy: undefined,
  leaseUntil: undefined,
  settledAt: undefined,
  firstSeenAt: new Date(0),
  updatedAt: new Date(0),
  ...overrides
})

describe("Edits", () => {
  it("names the keys of message, match and posts that changed, and nothing else", () => {
    const before = recorded(base)
    assert.deepStrictEqual(Edits.changedKeys(before, recorded({ ...base, pace: { per_hour: 10 } })), [])
    assert.deepStrictEqual(
      Edits.changedKeys(before, recorded({ ...base, message: "Hello", match: { ...base.match, exclude: ["free"] } })),
      ["message", "match.exclude"]
    )
    assert.deepStrictEqual(Edits.changedKeys(before, recorded({ ...base, posts: { recent: 3 } })), ["posts"])
    assert.deepStrictEqual(Edits.changedKeys(null, before), [], "an unreadable version: nothing to compare")
  })

  it("compares with the version before the run's own; tells it only when the run recorded it", () => {
    const v1 = recorded(base)
    const v2 = recorded({ ...base, match: { keywords: ["guide"] } })
    const versions = [version(1, v1, 1_000), version(2, v2, 5_000)]
    assert.deepStrictEqual(Edits.editOf(versions, 2, v2, 4_000), { since: 1, keys: ["match.keywords"], fresh: true })
    assert.deepStrictEqual(Edits.editOf(versions, 2, v2, 9_000), { since: 1, keys: ["match.keywords"], fresh: false })
    assert.isUndefined(Edits.editOf(versions.slice(0, 1), 1, v1, 0), "the first version")
    // A rehearsal records nothing: the latest version is the one before it, unless it is the same file.
    assert.deepStrictEqual(Edits.editOf(versions.slice(0, 1), 0, v2, 0), {
      since: 1,
      keys: ["match.keywords"],
      fresh: true
    })
    assert.deepStrictEqual(Edits.editOf(versions, 0, v2, 0), { since: 1, keys: ["match.keywords"], fresh: false })
  })

  it("judges a pending person by the new match and the posts still followed", () => {
    const spec = decode({
      ...base,
      posts: ["17900000000000001"],
      match: { keywords: ["link", "guide"], exclude: ["free"] }
    })
    const judge = Edits.judgeOf(spec, { since: 1, keys: ["match.exclude", "posts"], fresh: true })
    assert.isDefined(judge)
    const verdict = (overrides: Partial<LedgerEntry>) => Edits.verdictOf(judge!, pending(overrides))
    assert.deepStrictEqual(verdict({}), { _tag: "Keep", keyword: "guide" })
    assert.deepStrictEqual(verdict({ commentText: "the link and the guide" }), { _tag: "Keep", keyword: "link" })
    assert.deepStrictEqual(verdict({ commentText: "guide, free?" }), { _tag: "Drop" })
    assert.deepStrictEqual(verdict({ postId: "17900000000000002" }), { _tag: "Drop" }, "a removed post")
    assert.deepStrictEqual(verdict({ commentText: undefined }), { _tag: "Drop" }, "no text to judge by")
    assert.deepStrictEqual(verdict({ commentText: "" }), { _tag: "Drop" })
    assert.deepStrictEqual(verdict({ commentText: "guide\u0000free" }), { _tag: "Drop" })

    assert.isUndefined(Edits.judgeOf(spec, { since: 1, keys: ["message"], fresh: true }), "the text alone")
    const recent = decode({ ...base, posts: { recent: 2 } })
    assert.isUndefined(Edits.judgeOf(recent, { since: 1, keys: ["posts"], fresh: true })?.posts, "recent: no post set")
  })

  it("says which keys changed and what follows", () => {
    assert.strictEqual(
      Edits.describe({ since: 3, keys: ["message", "match.exclude"], fresh: true }),
      "message and match.exclude changed since version 3: people already settled are never messaged again; people " +
        "pending under the old rules are judged again under the new ones, and those who no longer match (or whose " +
        "post is gone) end skipped (campaign_edited); people not messaged yet get the new text"
    )
  })

  it("keeps comment texts only for a template that uses {{comment}}", () => {
    assert.isFalse(Edits.usesComment(decode(base)))
    assert.isTrue(Edits.usesComment(decode({ ...base, message: ["Hi", "You said {{ comment }}"] })))
    assert.isFalse(Edits.usesComment(decode({ ...base, message: "literal \\{{comment}}" })))
  })
})
