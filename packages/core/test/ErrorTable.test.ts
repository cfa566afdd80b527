import { assert, describe, it } from "@effect/vitest"
import { Duration } from "effect"
import * as ErrorTable from "../src/internal/errorTable.js"

const now = Date.UTC(2026, 10, 25, 12, 0, 0)

const answer = (
  status: number,
  detail: string,
  operation: ErrorTable.Operation = "send",
  headers: Record<string, string> = {}
): ErrorTable.Answer => ({ endpoint: "POST /uploadposts/dms/send", operation, status, headers, detail, now })

describe("the error table", () => {
  const rows: ReadonlyArray<[string, ErrorTable.Answer, string]> = [
    ["daily limit", answer(429, "Daily DM limit exceeded."), "DailyLimitReached"],
    ["daily limit on a read", answer(429, "Daily DM limit exceeded.", "read"), "DailyLimitReached"],
    ["request rate", answer(429, "Too many requests", "read", { "retry-after": "7" }), "RateLimited"],
    ["messaging window", answer(400, "(#10) This message is sent outside of allowed window."), "RecipientRefused"],
    ["private reply used", answer(400, "(#10900) Activity already replied to"), "RecipientRefused"],
    ["private reply too old", answer(400, "(#10903) This comment is too old for a private reply"), "RecipientRefused"],
    ["unreachable", answer(400, "(#551) This person isn't available right now."), "RecipientRefused"],
    ["refusal as 403", answer(403, "(#10) This message is sent outside of allowed window."), "RecipientRefused"],
    ["missing fields", answer(400, "Missing required fields: platform, user, recipient_id, message"), "InvalidRequest"],
    ["invalid account", answer(400, "Invalid account"), "InvalidRequest"],
    ["unknown comment on a send", answer(400, "Comment not found"), "InvalidRequest"],
    ["missing fields as an error code", answer(400, "MISSING_FIELDS"), "InvalidRequest"],
    ["refusal worded unlike any known one", answer(422, "Recipient restricted by policy R-77"), "UnrecognisedRefusal"],
    ["unknown 400 on a send", answer(400, "Something new went wrong"), "UnrecognisedRefusal"],
    ["refusal wording on a read", answer(400, "(#10) outside of allowed window", "read"), "InvalidRequest"],
    ["bad limit", answer(400, "limit must be between 1 and 50", "read"), "InvalidRequest"],
    ["unknown post", answer(404, "Post not found", "read"), "InvalidRequest"],
    ["bad key", answer(401, "Invalid API key"), "Unauthorized"],
    ["forbidden key", answer(403, "API key disabled", "read"), "Unauthorized"],
    ["internal error", answer(500, "An internal server error occurred."), "Transient"],
    ["bad gateway", answer(502, "(empty body)", "read"), "Transient"],
    ["request timeout", answer(408, "timeout"), "Transient"],
    ["redirect on a read", answer(302, "moved", "read"), "MalformedResponse"],
    ["redirect on a send", answer(302, "moved"), "SendInDoubt"]
  ]
  for (const [name, input, tag] of rows) {
    it(`${name} -> ${tag}`, () => {
      const error = ErrorTable.classify(input)
      assert.strictEqual(error._tag, tag)
      assert.isTrue(error.message.length > 20, "every error explains itself")
    })
  }

  it("every row of the table is reached by some answer above", () => {
    const reached = new Set(rows.map(([, input]) => ErrorTable.table.findIndex((row) => row.applies(input))))
    assert.strictEqual(reached.size, ErrorTable.table.length)
  })

  describe("the wait of a request-rate 429", () => {
    it("takes Retry-After in seconds", () => {
      const wait = ErrorTable.rateLimitWait(answer(429, "slow down", "read", { "retry-after": "12" }))
      assert.strictEqual(Duration.toMillis(wait), 12_000)
    })
    it("takes Retry-After as an HTTP date", () => {
      const at = new Date(now + 30_000).toUTCString()
      const wait = ErrorTable.rateLimitWait(answer(429, "slow down", "read", { "retry-after": at }))
      assert.strictEqual(Duration.toMillis(wait), 30_000)
    })
    it("falls back to X-RateLimit-Reset in unix seconds", () => {
      const reset = String(Math.floor(now / 1000) + 45)
      const wait = ErrorTable.rateLimitWait(answer(429, "slow down", "read", { "x-ratelimit-reset": reset }))
      assert.strictEqual(Duration.toMillis(wait), 45_000)
    })
    it("never waits a negative time for a reset in the past", () => {
      const reset = String(Math.floor(now / 1000) - 100)
      const wait = ErrorTable.rateLimitWait(answer(429, "slow down", "read", { "x-ratelimit-reset": reset }))
      assert.strictEqual(Duration.toMillis(wait), 0)
    })
  })

  describe("transport failures", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })
    it("a refused connection never sent anything: transient, even for a send", () => {
      assert.strictEqual(ErrorTable.classifyTransport("send", "send", { cause: refused }, false)._tag, "Transient")
    })
    it("a reset after the request went out leaves a send in doubt", () => {
      assert.strictEqual(ErrorTable.classifyTransport("send", "send", reset, false)._tag, "SendInDoubt")
    })
    it("a timeout leaves a send in doubt", () => {
      assert.strictEqual(ErrorTable.classifyTransport("send", "send", undefined, true)._tag, "SendInDoubt")
    })
    it("any transport failure of a read is transient", () => {
      assert.strictEqual(ErrorTable.classifyTransport("read", "read", reset, false)._tag, "Transient")
      assert.strictEqual(ErrorTable.classifyTransport("read", "read", undefined, true)._tag, "Transient")
    })
  })

  it("reads the message of every error body shape", () => {
    assert.strictEqual(ErrorTable.detailOf({ success: false, error: "e" }, ""), "e")
    assert.strictEqual(ErrorTable.detailOf({ message: "m" }, ""), "m")
    assert.strictEqual(ErrorTable.detailOf({ detail: "d" }, ""), "d")
    assert.strictEqual(ErrorTable.detailOf({ error_code: "c" }, ""), "c")
    assert.strictEqual(ErrorTable.detailOf({ error: { message: "nested" } }, ""), "nested")
    assert.strictEqual(ErrorTable.detailOf(undefined, "  <html>oops</html> "), "<html>oops</html>")
    assert.strictEqual(ErrorTable.detailOf(undefined, ""), "(empty body)")
  })
})
