/**
 * The suppression list on a SQLite ledger (`support/ledgerSuppressionSuite.ts`; SuppressionPg.test.ts runs the same
 * contract on PostgreSQL, with several runners racing an opt-out), and the opt-out words: a whole message or comment,
 * folded like keywords, never a lead that contains one.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Path from "node:path"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as SqlLedger from "../src/SqlLedger.js"
import * as Suppression from "../src/Suppression.js"
import { tempDirectory } from "./support/ledgerSuite.js"
import { ledgerSuppressionContract } from "./support/ledgerSuppressionSuite.js"

const sqliteSuite = Layer.unwrapScoped(
  Effect.map(tempDirectory, (directory) =>
    SqlLedger.layer.pipe(
      Layer.provideMerge(SqliteLedger.layerClient({ filename: Path.join(directory, "ledger.sqlite") }))
    ))
)

layer(sqliteSuite)("the suppression list on SQLite", (it) => {
  ledgerSuppressionContract(it)
})

describe("opt-out words", () => {
  const isDefault = Suppression.isOptOut(Suppression.defaultOptOutWords)

  it("a whole message or comment that is an opt-out word once folded opts out", () => {
    for (
      const text of ["STOP", " Stop ", "stop", "ＳＴＯＰ", "Unsubscribe", "REMOVE", "re\u200Bmove", "Ｒｅｍｏｖｅ\n"]
    ) {
      assert.isTrue(isDefault(text), JSON.stringify(text))
    }
  })

  it("a lead, a sentence or a word with more around it is not an opt-out (false positives)", () => {
    for (
      const text of [
        "how do I remove the watermark? guide",
        "remove?",
        "STOP!",
        "don't stop",
        "stop sending me the guide",
        "unsubscribed",
        "stopp",
        "guide",
        "",
        "   ",
        "\u0000",
        "stop\u0000",
        "stop ".repeat(200_000)
      ]
    ) {
      assert.isFalse(isDefault(text), JSON.stringify(text.slice(0, 60)))
    }
  })

  it("a campaign's opt_out words replace the defaults; phrases fold their spacing", () => {
    const words = Suppression.isOptOut(["Baja", "no más  mensajes"])
    assert.isTrue(words("BAJA"))
    assert.isTrue(words(" No MAS mensajes "))
    assert.isFalse(words("stop"), "the defaults no longer apply")
  })

  it.effect("opt_out: absent means the defaults; an empty list or a word that folds to nothing is refused", () =>
    Effect.gen(function*() {
      const base = { name: "c", platform: "instagram", user: "acme", posts: ["1"], message: "hi" }
      const plain = yield* CampaignSpec.decode(base)
      assert.deepStrictEqual(CampaignSpec.optOutOf(plain), ["STOP", "UNSUBSCRIBE", "REMOVE"])
      const own = yield* CampaignSpec.decode({ ...base, opt_out: ["baja"] })
      assert.deepStrictEqual(CampaignSpec.optOutOf(own), ["baja"])
      const empty = yield* Effect.flip(CampaignSpec.decode({ ...base, opt_out: [] }))
      assert.include(empty.message, "opt_out: expected at least one opt-out word")
      const blank = yield* Effect.flip(CampaignSpec.decode({ ...base, opt_out: ["stop", " \u200B "] }))
      assert.include(blank.message, "opt_out[1]: expected a word")
      const wrong = yield* Effect.flip(CampaignSpec.decode({ ...base, opt_out: "stop" }))
      assert.include(wrong.message, "opt_out: expected a list of strings")
      const typo = yield* Effect.flip(CampaignSpec.decode({ ...base, optout: ["stop"] }))
      assert.include(typo.message, `did you mean "opt_out"`)
      // In code: `optOut`, with the same checks, its problems named as code names them.
      const code = { name: "c", platform: "instagram", user: "acme", posts: ["1"], message: "hi" } as const
      assert.deepStrictEqual(CampaignSpec.optOutOf(yield* CampaignSpec.fromCode({ ...code, optOut: ["baja"] })), [
        "baja"
      ])
      const inCode = yield* Effect.flip(CampaignSpec.fromCode({ ...code, optOut: [] }))
      assert.include(inCode.message, "optOut: expected at least one opt-out word")
    }))
})
