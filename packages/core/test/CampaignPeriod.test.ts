/** `since`, `until` and `active` in the campaign file, and the rules the engine asks of them (campaign/Period.ts). */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Period from "../src/campaign/Period.js"
import * as CampaignSpec from "../src/CampaignSpec.js"

const base = { name: "n", platform: "instagram", user: "u", posts: ["1"], message: "hi" } as const

const decode = (extra: Record<string, unknown>) => Effect.either(CampaignSpec.decode({ ...base, ...extra }))

describe("since and until", () => {
  it.effect("a bare date is its UTC day (since: its start, until: its end); a date and time needs its zone", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.decode({
        ...base,
        since: "2026-03-01",
        until: "2026-03-31"
      })
      assert.deepStrictEqual(spec.since, { _tag: "At", at: new Date("2026-03-01T00:00:00Z") })
      assert.deepStrictEqual(spec.until, new Date("2026-04-01T00:00:00Z"))
      const zoned = yield* CampaignSpec.decode({
        ...base,
        since: "2026-03-01T09:30:00+02:00",
        until: "2026-03-01 12:00Z"
      })
      assert.deepStrictEqual(zoned.since, { _tag: "At", at: new Date("2026-03-01T07:30:00Z") })
      assert.deepStrictEqual(zoned.until, new Date("2026-03-01T12:00:00Z"))
      assert.deepStrictEqual((yield* CampaignSpec.decode({ ...base, since: "start" })).since, { _tag: "Start" })
    }))

  it.effect("bad values say what is expected, at the key's path", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        [{ since: "2026-13-01" }, "since: \"2026-13-01\" is not a date of the calendar"],
        [{ since: "2026-03-01T25:00:00Z" }, "is not a date of the calendar"],
        [{ until: "2026-03-01T10:00:00" }, "until: \"2026-03-01T10:00:00\" has no time zone"],
        [{ until: "2026-03-01T10:00:00+15:00" }, "has an offset beyond ±14:00"],
        [{ since: "" }, "since: expected start (the campaign's first run) or a date"],
        [{ since: "Start" }, "since: expected start"],
        [{ until: "start" }, "until: expected a date"],
        [{ until: 20261231 }, "until: expected a date"],
        [{ active: 0 }, "active: expected true or false, got 0"],
        [
          { since: "2026-03-02T00:00:00Z", until: "2026-03-01" },
          "until: ends at 2026-03-02T00:00:00.000Z, not after since"
        ]
      ]
      for (const [extra, words] of cases) {
        const result = yield* decode(extra)
        assert.strictEqual(result._tag, "Left", JSON.stringify(extra))
        if (result._tag === "Left") assert.include(result.left.message, words, JSON.stringify(extra))
      }
    }))

  it.effect("code gives them as the file does, a Date too", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.fromCode({
        ...base,
        platform: "instagram",
        since: new Date("2026-03-01T10:00:00Z"),
        until: "2026-03-31",
        active: false
      })
      assert.deepStrictEqual(spec.since, { _tag: "At", at: new Date("2026-03-01T10:00:00Z") })
      assert.deepStrictEqual(spec.until, new Date("2026-04-01T00:00:00Z"))
      assert.strictEqual(spec.active, false)
      const bad = yield* Effect.either(CampaignSpec.fromCode({ ...base, platform: "instagram", since: new Date(NaN) }))
      assert.strictEqual(bad._tag, "Left")
    }))

  it.effect("encodes to a value that decodes to the same instants (the ledger keeps campaign versions as JSON)", () =>
    Effect.gen(function*() {
      const spec = yield* CampaignSpec.decode({ ...base, since: "2026-03-01", until: "2026-03-31", active: false })
      const again = yield* CampaignSpec.decode(yield* Schema.encode(CampaignSpec.CampaignSpec)(spec))
      assert.deepStrictEqual([again.since, again.until, again.active], [spec.since, spec.until, false])
    }))
})

describe("Period", () => {
  it.effect("halts a paused campaign, and one at or past its until", () =>
    Effect.gen(function*() {
      const until = Date.parse("2026-04-01T00:00:00Z")
      const spec = yield* CampaignSpec.decode({ ...base, until: "2026-03-31" })
      assert.isUndefined(Period.haltAt(spec, until - 1))
      assert.deepStrictEqual(Period.haltAt(spec, until), { _tag: "Ended", at: new Date(until) })
      const paused = yield* CampaignSpec.decode({ ...base, active: false })
      assert.deepStrictEqual(Period.haltAt(paused, 0), { _tag: "Paused" })
      assert.isUndefined(Period.haltAt(yield* CampaignSpec.decode({ ...base, active: true }), 0))
    }))

  it.effect("since: start counts from the first run the ledger recorded, else now; a date from itself", () =>
    Effect.gen(function*() {
      const start = yield* CampaignSpec.decode({ ...base, since: "start" })
      assert.strictEqual(Period.cutoffOf(start, new Date(1_000), 5_000), 1_000)
      assert.strictEqual(Period.cutoffOf(start, undefined, 5_000), 5_000)
      const dated = yield* CampaignSpec.decode({ ...base, since: "2026-03-01" })
      assert.strictEqual(Period.cutoffOf(dated, new Date(1_000), 5_000), Date.parse("2026-03-01T00:00:00Z"))
      assert.isUndefined(Period.cutoffOf(yield* CampaignSpec.decode(base), new Date(1_000), 5_000))
      assert.isUndefined(Period.droppedFor(1_000, new Date(1_000)), "a comment at the cutoff is kept")
      assert.include(Period.droppedFor(1_000, new Date(999)) ?? "", "older than since")
      assert.include(Period.droppedFor(1_000, undefined) ?? "", "no comment time")
    }))
})
