/**
 * The ledger's contract, run by every database the ledger supports, and the helpers its tests share.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Vitest } from "@effect/vitest"
import { assert } from "@effect/vitest"
import { Chunk, Clock, Effect, FastCheck, Option, Schema, Stream, TestClock } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type {
  Candidate,
  ClaimOptions,
  DeliveryState,
  LedgerEntry,
  RecipientKey,
  Service as LedgerService,
  SkipReason,
  StepKind
} from "../../src/Ledger.js"
import { Ledger, noCounts, Settlement } from "../../src/Ledger.js"

export const platform = "instagram"
const lease = "1 minute"
const leaseMillis = 60_000

/** Every test works in its own campaign, so that one database can serve a whole suite. */
export const newCampaign = (label: string): string => `${label}-${crypto.randomUUID()}`

export const candidate = (campaign: string, index: number, overrides: Partial<Candidate> = {}): Candidate => ({
  campaign,
  platform,
  userId: `user-${String(index).padStart(5, "0")}`,
  step: "first_message",
  username: `person${index}`,
  postId: "17900000000000001",
  commentId: `comment-${index}`,
  commentText: "GUIDE please",
  commentTime: new Date(Date.UTC(2025, 2, 1, 12, 0, index % 60)),
  keyword: "guide",
  ...overrides
})

export const people = (campaign: string, count: number, from = 0): Array<Candidate> =>
  Array.from({ length: count }, (_, offset) => candidate(campaign, from + offset))

export const claimBy = (runner: string): ClaimOptions => ({
  message: `Hi, here is your guide (${runner})`,
  runner,
  lease
})

export const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-ledger-"))),
  (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
)

export const allEntries = (campaign: string) =>
  Effect.flatMap(Ledger, (ledger) => Stream.runCollect(ledger.entries(campaign))).pipe(Effect.map(Chunk.toArray))

export const entryOf = (key: RecipientKey) =>
  Effect.flatMap(allEntries(key.campaign), (entries) => {
    const found = entries.find((entry) =>
      entry.platform === key.platform && entry.userId === key.userId && entry.step === key.step
    )
    return found === undefined ? Effect.dieMessage(`no ledger row for ${key.userId}`) : Effect.succeed(found)
  })

export const stateOf = (key: RecipientKey) => Effect.map(entryOf(key), (entry) => entry.state)

const CampaignRow = Schema.Struct({
  platform: Schema.String,
  profile_user: Schema.String,
  posts: Schema.String,
  created_at: Schema.Union(Schema.Number, Schema.NumberFromString),
  updated_at: Schema.Union(Schema.Number, Schema.NumberFromString)
})

// A reference model of the state machine for property tests: four people, two runners, a clock.
const modelPeople = 4
const runners = ["runner-a", "runner-b"] as const
const person = FastCheck.integer({ min: 0, max: modelPeople - 1 })
const runner = FastCheck.constantFrom(...runners)
const operation = FastCheck.oneof(
  FastCheck.record({ _tag: FastCheck.constant("Claim" as const), person, runner }),
  FastCheck.record({
    _tag: FastCheck.constant("Settle" as const),
    person,
    runner,
    outcome: FastCheck.constantFrom("Sent" as const, "Refused" as const, "Pending" as const, "InDoubt" as const)
  }),
  FastCheck.record({ _tag: FastCheck.constant("Recover" as const), runner: FastCheck.option(runner) }),
  FastCheck.record({ _tag: FastCheck.constant("Renew" as const), runner }),
  FastCheck.record({ _tag: FastCheck.constant("Confirm" as const), person, runner }),
  FastCheck.record({
    _tag: FastCheck.constant("Resolve" as const),
    person,
    outcome: FastCheck.constantFrom("Sent" as const, "Pending" as const)
  }),
  FastCheck.record({ _tag: FastCheck.constant("Wait" as const), seconds: FastCheck.integer({ min: 0, max: 90 }) })
)
type Operation = typeof operation extends FastCheck.Arbitrary<infer A> ? A : never

interface ModelRow {
  state: DeliveryState
  claimedBy: string | undefined
  leaseUntil: number
}
const initialModelRow: ModelRow = { state: "pending", claimedBy: undefined, leaseUntil: 0 }

const settlementFor = (outcome: "Sent" | "Refused" | "Pending" | "InDoubt"): Settlement => {
  switch (outcome) {
    case "Sent":
      return Settlement.Sent({ messageId: "mid.model", at: new Date(0) })
    case "Refused":
      return Settlement.Refused({ reason: "refused" })
    case "Pending":
      return Settlement.Pending({ reason: "pending" })
    case "InDoubt":
      return Settlement.InDoubt({ reason: "in doubt" })
  }
}

const runOperation = (ledger: LedgerService, everyone: ReadonlyArray<Candidate>, op: Operation) => {
  const campaign = everyone[0]!.campaign
  switch (op._tag) {
    case "Claim":
      return ledger.claim(everyone[op.person]!, claimBy(op.runner))
    case "Settle":
      return ledger.settle(everyone[op.person]!, op.runner, settlementFor(op.outcome))
    case "Recover":
      return ledger.recoverClaims(campaign, { runner: op.runner ?? undefined })
    case "Renew":
      return ledger.renewLeases(campaign, op.runner, lease)
    case "Confirm":
      return ledger.confirmClaim(everyone[op.person]!, op.runner, lease)
    case "Resolve":
      return ledger.resolveInDoubt(
        everyone[op.person]!,
        op.outcome === "Sent"
          ? Settlement.Sent({ messageId: "mid.model", at: new Date(0) })
          : Settlement.Pending({ reason: "not found" })
      )
    case "Wait":
      return Effect.as(TestClock.adjust(op.seconds * 1_000), true)
  }
}

/** What the ledger should answer, applying the operation to the model. */
const applyToModel = (
  model: Map<string, ModelRow>,
  everyone: ReadonlyArray<Candidate>,
  op: Operation,
  now: number
): boolean | number => {
  const rowOf = (index: number) => model.get(everyone[index]!.userId)!
  switch (op._tag) {
    case "Claim": {
      const row = rowOf(op.person)
      if (row.state !== "pending") return false
      Object.assign(row, { state: "claimed", claimedBy: op.runner, leaseUntil: now + leaseMillis })
      return true
    }
    case "Settle": {
      const row = rowOf(op.person)
      if (row.state !== "claimed" || row.claimedBy !== op.runner) return false
      const states = { Sent: "sent", Refused: "refused", Pending: "pending", InDoubt: "in_doubt" } as const
      row.state = states[op.outcome]
      return true
    }
    case "Recover": {
      const leftovers = [...model.values()].filter((row) =>
        row.state === "claimed" && (row.leaseUntil < now || row.claimedBy === op.runner)
      )
      for (const row of leftovers) row.state = "in_doubt"
      return leftovers.length
    }
    case "Renew": {
      const live = [...model.values()].filter((row) => row.state === "claimed" && row.claimedBy === op.runner)
      for (const row of live) row.leaseUntil = now + leaseMillis
      return live.length
    }
    case "Confirm": {
      const row = rowOf(op.person)
      if (row.state !== "claimed" || row.claimedBy !== op.runner || row.leaseUntil <= now) return false
      row.leaseUntil = now + leaseMillis
      return true
    }
    case "Resolve": {
      const row = rowOf(op.person)
      if (row.state !== "in_doubt") return false
      row.state = op.outcome === "Sent" ? "sent" : "pending"
      return true
    }
    case "Wait":
      return true
  }
}

/** The state machine, the same on every database the ledger runs on. Each test works in a campaign of its own. */
export const ledgerContract = (it: Vitest.MethodsNonLive<Ledger | SqlClient.SqlClient>) => {
  it.effect("discover adds unseen people as pending and leaves known people untouched", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("discover")
      const first = people(campaign, 3)
      assert.strictEqual(yield* ledger.discover(first), 3)
      const later = [candidate(campaign, 0, { commentId: "a-later-comment" }), ...first, candidate(campaign, 3)]
      assert.strictEqual(yield* ledger.discover(later), 1)
      assert.strictEqual(yield* ledger.discover([]), 0)

      const entries = yield* allEntries(campaign)
      assert.deepStrictEqual(entries.map((entry) => [entry.userId, entry.state, entry.commentId]), [
        ["user-00000", "pending", "comment-0"],
        ["user-00001", "pending", "comment-1"],
        ["user-00002", "pending", "comment-2"],
        ["user-00003", "pending", "comment-3"]
      ])
      const now = new Date(yield* Clock.currentTimeMillis)
      const expected: LedgerEntry = {
        ...candidate(campaign, 1),
        state: "pending",
        reason: undefined,
        path: undefined,
        message: undefined,
        messageId: undefined,
        campaignVersion: undefined,
        attempts: 0,
        claimedAt: undefined,
        claimedBy: undefined,
        leaseUntil: undefined,
        settledAt: undefined,
        firstSeenAt: now,
        updatedAt: now
      }
      assert.deepStrictEqual(entries[1], expected)
    }))

  it.effect("13.2 text the database cannot hold is stored as U+FFFD, and the person is found by the id as given", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("unstorable")
      const poisoned = candidate(campaign, 1, {
        userId: "nul\u0000id\ud800",
        username: "half\ud83d",
        commentId: "c\u0000",
        commentText: "guide\u0000 \udc00 🔥"
      })
      assert.deepStrictEqual(yield* ledger.record([poisoned, candidate(campaign, 2)]), { added: 2, unrecorded: [] })
      assert.strictEqual(yield* ledger.discover([poisoned]), 0, "the same person on a later run")
      const states = yield* ledger.states(campaign, platform, "first_message", [poisoned.userId])
      assert.strictEqual(states.get(poisoned.userId), "pending")
      const [entry] = (yield* allEntries(campaign)).filter((row) => row.userId !== "user-00002")
      assert.deepStrictEqual(
        [entry?.userId, entry?.username, entry?.commentId, entry?.commentText],
        ["nul\ufffdid\ufffd", "half\ufffd", "c\ufffd", "guide\ufffd \ufffd 🔥"]
      )
      assert.isTrue(yield* ledger.claim(poisoned, { ...claimBy("r1"), message: "Hi @half\ud83d\u0000" }))
      assert.isTrue(yield* ledger.settle(poisoned, "r1", Settlement.Refused({ reason: "no\u0000" })))
      const settled = yield* entryOf({ campaign, platform, userId: "nul\ufffdid\ufffd", step: "first_message" })
      assert.deepStrictEqual([settled.state, settled.message, settled.reason], [
        "refused",
        "Hi @half\ufffd\ufffd",
        "no\ufffd"
      ])
    }))

  it.effect("13.2 record keeps the rest of a batch the database refuses, and lists the refused until recorded", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const sql = yield* SqlClient.SqlClient
      const campaign = newCampaign("refused-row")
      const refusedId = `refused-${crypto.randomUUID()}`
      const name = `refuse_${refusedId.slice(-12)}`
      yield* sql.onDialectOrElse({
        pg: () =>
          sql.unsafe(`ALTER TABLE comment_dm_recipients ADD CONSTRAINT ${name} CHECK (user_id <> '${refusedId}')`),
        orElse: () =>
          sql.unsafe(`CREATE TRIGGER ${name} BEFORE INSERT ON comment_dm_recipients WHEN NEW.user_id = '${refusedId}'
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`)
      })
      const everyone = [...people(campaign, 3), candidate(campaign, 9, { userId: refusedId, username: "refu" })]
      const first = yield* ledger.record(everyone)
      assert.strictEqual(first.added, 3)
      assert.deepStrictEqual(first.unrecorded.map((person) => [person.userId, person.username]), [[refusedId, "refu"]])
      assert.match(first.unrecorded[0]!.reason, /could not record this person: .*(refused by the test|constraint)/)
      assert.deepStrictEqual((yield* ledger.unrecorded(campaign)).map((person) => person.userId), [refusedId])
      assert.strictEqual((yield* allEntries(campaign)).length, 3)

      yield* sql.onDialectOrElse({
        pg: () => sql.unsafe(`ALTER TABLE comment_dm_recipients DROP CONSTRAINT ${name}`),
        orElse: () => sql.unsafe(`DROP TRIGGER ${name}`)
      })
      assert.deepStrictEqual(yield* ledger.record(everyone), { added: 1, unrecorded: [] })
      assert.deepStrictEqual(yield* ledger.unrecorded(campaign), [], "recorded since")
    }))

  it.effect("optional comment fields round-trip as undefined, and a repeated person keeps the first comment", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("optional")
      const bare = candidate(campaign, 7, { username: undefined, commentTime: undefined, keyword: undefined })
      assert.strictEqual(yield* ledger.discover([bare, candidate(campaign, 7, { commentId: "second-comment" })]), 1)
      const entry = yield* entryOf(bare)
      assert.strictEqual(entry.username, undefined)
      assert.strictEqual(entry.commentTime, undefined)
      assert.strictEqual(entry.keyword, undefined)
      assert.strictEqual(entry.commentId, "comment-7")
    }))

  it.effect("states reports the people the ledger has seen, across batches", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("states")
      const known = people(campaign, 1_200)
      assert.strictEqual(yield* ledger.discover(known), 1_200)
      assert.isTrue(yield* ledger.claim(known[42]!, claimBy("runner-a")))

      const asked = [...known.map((person) => person.userId), ...people(campaign, 100, 5_000).map((p) => p.userId)]
      const states = yield* ledger.states(campaign, platform, "first_message", asked)
      assert.strictEqual(states.size, 1_200)
      assert.strictEqual(states.get(known[42]!.userId), "claimed")
      assert.strictEqual(states.get(known[43]!.userId), "pending")
      assert.isFalse(states.has("user-05000"))
      assert.strictEqual((yield* ledger.states(campaign, "tiktok", "first_message", asked)).size, 0)
      assert.strictEqual((yield* ledger.states(campaign, platform, "first_message", [])).size, 0)
    }))

  it.effect("of two concurrent claims on one person exactly one wins", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("claim")
      const [person] = people(campaign, 1)
      yield* ledger.discover([person!])
      const results = yield* Effect.all([
        ledger.claim(person!, claimBy("runner-a")),
        ledger.claim(person!, claimBy("runner-b"))
      ], { concurrency: 2 })
      assert.deepStrictEqual(results.filter(Boolean), [true])

      const winner = results[0] ? "runner-a" : "runner-b"
      const now = yield* Clock.currentTimeMillis
      const entry = yield* entryOf(person!)
      assert.strictEqual(entry.state, "claimed")
      assert.strictEqual(entry.claimedBy, winner)
      assert.strictEqual(entry.message, claimBy(winner).message)
      assert.strictEqual(entry.attempts, 1)
      assert.deepStrictEqual(entry.claimedAt, new Date(now))
      assert.deepStrictEqual(entry.leaseUntil, new Date(now + leaseMillis))
      assert.isFalse(yield* ledger.claim(person!, claimBy(winner)))
      assert.isFalse(yield* ledger.claim(candidate(campaign, 99), claimBy(winner)))
    }))

  it.effect("writes committed together still each answer for their own row", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("group")
      const everyone = people(campaign, 60)
      yield* ledger.discover(everyone)
      // Both runners claim everyone at once, so that claims of both arrive in the same groups.
      const attempts = everyone.flatMap((person, i) =>
        (i % 2 === 0 ? ["runner-a", "runner-b"] : ["runner-b", "runner-a"]).map((runner) => ({ person, runner }))
      )
      const won = yield* Effect.forEach(
        attempts,
        ({ person, runner }) =>
          Effect.map(ledger.claim(person, claimBy(runner)), (claimed) => ({ person, runner, claimed })),
        { concurrency: "unbounded" }
      )
      const winners = won.filter((attempt) => attempt.claimed)
      assert.deepStrictEqual(
        winners.map((attempt) => attempt.person.userId).sort(),
        everyone.map((p) => p.userId).sort()
      )

      // Each runner settles everyone at once: only the claimant's settlement applies.
      const settled = yield* Effect.forEach(
        attempts,
        ({ person, runner }) =>
          ledger.settle(
            person,
            runner,
            Settlement.Sent({ messageId: `mid.${runner}.${person.userId}`, at: new Date(0) })
          ),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(settled, won.map((attempt) => attempt.claimed))
      const entries = yield* allEntries(campaign)
      const winnerOf = new Map(winners.map((attempt) => [attempt.person.userId, attempt.runner]))
      assert.deepStrictEqual(
        entries.map((entry) => [entry.userId, entry.state, entry.messageId]),
        entries.map((entry) => [entry.userId, "sent", `mid.${winnerOf.get(entry.userId)}.${entry.userId}`])
      )
    }))

  it.effect("settle applies only to the claiming runner, and only once", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("settle")
      const [person] = people(campaign, 1)
      yield* ledger.discover([person!])
      yield* ledger.claim(person!, claimBy("runner-a"))
      const sentAt = new Date(Date.UTC(2025, 2, 2, 9, 30))
      const sent = Settlement.Sent({ messageId: "mid.1", at: sentAt })

      assert.isFalse(yield* ledger.settle(person!, "runner-b", sent))
      assert.strictEqual(yield* stateOf(person!), "claimed")
      assert.isTrue(yield* ledger.settle(person!, "runner-a", sent))
      assert.isFalse(yield* ledger.settle(person!, "runner-a", Settlement.Refused({ reason: "too late" })))

      const entry = yield* entryOf(person!)
      assert.strictEqual(entry.state, "sent")
      assert.strictEqual(entry.messageId, "mid.1")
      assert.deepStrictEqual(entry.settledAt, sentAt)
      assert.strictEqual(entry.leaseUntil, undefined)
      assert.isFalse(yield* ledger.claim(person!, claimBy("runner-a")))
    }))

  it.effect("a refused person is never claimable again", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("refused")
      const [person] = people(campaign, 1)
      yield* ledger.discover([person!])
      yield* ledger.claim(person!, claimBy("runner-a"))
      const reason = "The messaging window for this user has closed"
      assert.isTrue(yield* ledger.settle(person!, "runner-a", Settlement.Refused({ reason })))

      const entry = yield* entryOf(person!)
      assert.strictEqual(entry.state, "refused")
      assert.strictEqual(entry.reason, reason)
      assert.deepStrictEqual(entry.settledAt, new Date(yield* Clock.currentTimeMillis))
      assert.isFalse(yield* ledger.claim(person!, claimBy("runner-a")))
      assert.isFalse(yield* ledger.settle(person!, "runner-a", Settlement.Pending({ reason: "retry" })))
      assert.strictEqual(yield* stateOf(person!), "refused")
    }))

  it.effect("a pending settlement makes the person claimable again, and an in-doubt one does not", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("pending")
      const [retried, doubtful] = people(campaign, 2)
      yield* ledger.discover([retried!, doubtful!])
      yield* ledger.claim(retried!, claimBy("runner-a"))
      yield* ledger.claim(doubtful!, claimBy("runner-a"))
      yield* ledger.settle(retried!, "runner-a", Settlement.Pending({ reason: "daily DM limit reached" }))
      yield* ledger.settle(doubtful!, "runner-a", Settlement.InDoubt({ reason: "timed out after sending" }))

      const pending = yield* entryOf(retried!)
      assert.strictEqual(pending.state, "pending")
      assert.strictEqual(pending.reason, "daily DM limit reached")
      assert.isTrue(yield* ledger.claim(retried!, claimBy("runner-b")))
      const reclaimed = yield* entryOf(retried!)
      assert.strictEqual(reclaimed.attempts, 2)
      assert.strictEqual(reclaimed.claimedBy, "runner-b")
      assert.strictEqual(reclaimed.reason, undefined)

      assert.strictEqual(yield* stateOf(doubtful!), "in_doubt")
      assert.isFalse(yield* ledger.claim(doubtful!, claimBy("runner-b")))
    }))

  it.effect("recoverClaims takes a runner's own leftovers at once and other runners' only after their lease", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("recover")
      const [ownClaim, otherClaim, sent, refused, pending] = people(campaign, 5)
      yield* ledger.discover([ownClaim!, otherClaim!, sent!, refused!, pending!])
      const claimedAt = new Date(yield* Clock.currentTimeMillis)
      yield* ledger.claim(ownClaim!, claimBy("runner-a"))
      yield* ledger.claim(otherClaim!, claimBy("runner-b"))
      yield* ledger.claim(sent!, claimBy("runner-a"))
      yield* ledger.settle(sent!, "runner-a", Settlement.Sent({ messageId: "mid.2", at: claimedAt }))
      yield* ledger.claim(refused!, claimBy("runner-a"))
      yield* ledger.settle(refused!, "runner-a", Settlement.Refused({ reason: "private account" }))

      assert.deepStrictEqual(yield* ledger.claimHolders(campaign), ["runner-a", "runner-b"])
      assert.strictEqual(yield* ledger.recoverClaims(campaign, { runner: "runner-a" }), 1)
      assert.deepStrictEqual(yield* ledger.claimHolders(campaign), ["runner-b"])
      const recovered = yield* entryOf(ownClaim!)
      assert.strictEqual(recovered.state, "in_doubt")
      assert.strictEqual(
        recovered.reason,
        `claimed by runner-a at ${claimedAt.toISOString()}; the process stopped before the outcome was recorded`
      )
      assert.strictEqual(recovered.message, claimBy("runner-a").message)
      assert.strictEqual(yield* stateOf(otherClaim!), "claimed")
      assert.strictEqual(yield* ledger.recoverClaims(campaign), 0)

      yield* TestClock.adjust(leaseMillis + 1_000)
      assert.strictEqual(yield* ledger.recoverClaims(campaign), 1)
      assert.deepStrictEqual(yield* ledger.claimHolders(campaign), [])
      assert.isFalse(
        yield* ledger.settle(otherClaim!, "runner-b", Settlement.Sent({ messageId: "late", at: claimedAt }))
      )
      assert.isFalse(yield* ledger.settle(ownClaim!, "runner-a", Settlement.Sent({ messageId: "late", at: claimedAt })))
      assert.deepStrictEqual(yield* ledger.counts(campaign, "first_message"), {
        ...noCounts(),
        pending: 1,
        claimed: 0,
        sent: 1,
        refused: 1,
        in_doubt: 2
      })
      assert.strictEqual(yield* ledger.recoverClaims(campaign, { runner: "runner-a" }), 0)
    }))

  it.effect("renewLeases keeps a long send's claims from being recovered", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("renew")
      const [first, second, third] = people(campaign, 3)
      yield* ledger.discover([first!, second!, third!])
      yield* ledger.claim(first!, claimBy("runner-a"))
      yield* ledger.claim(second!, claimBy("runner-a"))
      yield* ledger.claim(third!, claimBy("runner-b"))

      yield* TestClock.adjust(50_000)
      assert.strictEqual(yield* ledger.renewLeases(campaign, "runner-a", lease), 2)
      const renewedAt = yield* Clock.currentTimeMillis
      assert.deepStrictEqual((yield* entryOf(first!)).leaseUntil, new Date(renewedAt + leaseMillis))

      yield* TestClock.adjust(30_000)
      assert.strictEqual(yield* ledger.recoverClaims(campaign), 1)
      assert.strictEqual(yield* stateOf(third!), "in_doubt")
      assert.strictEqual(yield* stateOf(first!), "claimed")
      assert.strictEqual(yield* ledger.recoverClaims(campaign, { now: new Date(renewedAt + leaseMillis + 1) }), 2)
      assert.strictEqual(yield* ledger.renewLeases(campaign, "runner-a", lease), 0)
    }))

  it.effect("confirmClaim extends a live claim of its runner and refuses a lost or expired one", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("confirm")
      const [live, expired, others, settled, unclaimed] = people(campaign, 5)
      yield* ledger.discover([live!, expired!, others!, settled!, unclaimed!])
      yield* ledger.claim(expired!, claimBy("runner-a"))
      yield* TestClock.adjust(leaseMillis - 10_000)
      yield* ledger.claim(live!, claimBy("runner-a"))
      yield* ledger.claim(others!, claimBy("runner-b"))
      yield* ledger.claim(settled!, claimBy("runner-a"))
      yield* ledger.settle(settled!, "runner-a", Settlement.Pending({ reason: "transient failures exhausted" }))

      yield* TestClock.adjust(20_000)
      const now = yield* Clock.currentTimeMillis
      assert.isTrue(yield* ledger.confirmClaim(live!, "runner-a", lease))
      assert.deepStrictEqual((yield* entryOf(live!)).leaseUntil, new Date(now + leaseMillis))
      // Its lease ran out 10 s ago: another runner may be recovering it right now.
      assert.isFalse(yield* ledger.confirmClaim(expired!, "runner-a", lease))
      assert.strictEqual((yield* entryOf(expired!)).leaseUntil?.getTime(), now - 10_000)
      assert.isFalse(yield* ledger.confirmClaim(others!, "runner-a", lease))
      assert.strictEqual((yield* entryOf(others!)).leaseUntil?.getTime(), now - 20_000 + leaseMillis)
      assert.isFalse(yield* ledger.confirmClaim(settled!, "runner-a", lease))
      assert.isFalse(yield* ledger.confirmClaim(unclaimed!, "runner-a", lease))

      // Recovered after its lease and claimed again by another runner: the first runner's claim is gone for good.
      assert.strictEqual(yield* ledger.recoverClaims(campaign), 1)
      yield* ledger.resolveInDoubt(expired!, Settlement.Pending({ reason: "no such message found" }))
      assert.isTrue(yield* ledger.claim(expired!, claimBy("runner-b")))
      assert.isFalse(yield* ledger.confirmClaim(expired!, "runner-a", lease))
      assert.isTrue(yield* ledger.confirmClaim(expired!, "runner-b", lease))

      // A confirmed lease outlives the original one: recovery at the original expiry leaves it alone.
      yield* TestClock.adjust(leaseMillis - 5_000)
      assert.strictEqual(yield* ledger.recoverClaims(campaign), 1)
      assert.strictEqual(yield* stateOf(live!), "claimed")
      assert.strictEqual(yield* stateOf(others!), "in_doubt")
    }))

  it.effect("resolveInDoubt settles an in-doubt person as sent or returns them to pending", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("resolve")
      const [delivered, lost, untouched] = people(campaign, 3)
      yield* ledger.discover([delivered!, lost!, untouched!])
      for (const person of [delivered!, lost!]) {
        yield* ledger.claim(person, claimBy("runner-a"))
        yield* ledger.settle(person, "runner-a", Settlement.InDoubt({ reason: "timed out after the body was written" }))
      }
      const doubtful = yield* ledger.inDoubt(campaign)
      assert.deepStrictEqual(doubtful.map((entry) => [entry.userId, entry.reason, entry.message]), [
        [delivered!.userId, "timed out after the body was written", claimBy("runner-a").message],
        [lost!.userId, "timed out after the body was written", claimBy("runner-a").message]
      ])

      const foundAt = new Date(Date.UTC(2025, 2, 3))
      assert.isTrue(yield* ledger.resolveInDoubt(delivered!, Settlement.Sent({ messageId: "mid.3", at: foundAt })))
      assert.isTrue(yield* ledger.resolveInDoubt(lost!, Settlement.Pending({ reason: "no such message found" })))
      assert.isFalse(yield* ledger.resolveInDoubt(delivered!, Settlement.Pending({ reason: "again" })))
      assert.isFalse(yield* ledger.resolveInDoubt(untouched!, Settlement.Sent({ messageId: "mid.4", at: foundAt })))

      const resolved = yield* entryOf(delivered!)
      assert.deepStrictEqual([resolved.state, resolved.messageId, resolved.settledAt], ["sent", "mid.3", foundAt])
      assert.strictEqual((yield* entryOf(lost!)).reason, "no such message found")
      assert.isTrue(yield* ledger.claim(lost!, claimBy("runner-b")))
      assert.deepStrictEqual(yield* ledger.inDoubt(campaign), [])
    }))

  it.effect("counts account for every discovered person", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("counts")
      const everyone = people(campaign, 20)
      yield* ledger.discover(everyone)
      const outcomes: Array<Settlement | undefined> = [
        ...Array.from({ length: 4 }, (_, i) => Settlement.Sent({ messageId: `mid.${i}`, at: new Date() })),
        ...Array.from({ length: 3 }, () => Settlement.Refused({ reason: "closed window" })),
        ...Array.from({ length: 2 }, () => Settlement.Pending({ reason: "transient failures exhausted" })),
        ...Array.from({ length: 2 }, () => Settlement.InDoubt({ reason: "unreadable 2xx body" })),
        undefined
      ]
      yield* Effect.forEach(outcomes, (outcome, i) =>
        Effect.gen(function*() {
          yield* ledger.claim(everyone[i]!, claimBy("runner-a"))
          if (outcome !== undefined) yield* ledger.settle(everyone[i]!, "runner-a", outcome)
        }))

      const counts = yield* ledger.counts(campaign, "first_message")
      assert.deepStrictEqual(counts, { ...noCounts(), pending: 10, claimed: 1, sent: 4, refused: 3, in_doubt: 2 })
      assert.strictEqual(Object.values(counts).reduce((sum, n) => sum + n, 0), everyone.length)
      assert.deepStrictEqual(yield* ledger.counts(newCampaign("empty"), "first_message"), {
        ...noCounts(),
        pending: 0,
        claimed: 0,
        sent: 0,
        refused: 0,
        in_doubt: 0
      })
    }))

  it.effect("entries streams every row in first-seen order across pages", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("entries")
      // Seen first but with higher ids, so that id order and first-seen order disagree.
      const earlier = people(campaign, 700, 534)
      const later = people(campaign, 534, 0)
      yield* ledger.discover(earlier)
      yield* TestClock.adjust(1_000)
      yield* ledger.discover(later)

      const entries = yield* allEntries(campaign)
      assert.strictEqual(entries.length, 1_234)
      assert.deepStrictEqual(
        entries.map((entry) => entry.userId),
        [...earlier, ...later].map((person) => person.userId)
      )
    }))

  it.effect("pendingEntries pages past people claimed while the stream is read", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("pending-entries")
      const everyone = people(campaign, 1_234)
      yield* ledger.discover(everyone)
      const alreadySent = everyone.filter((_, i) => i % 100 === 0)
      yield* Effect.forEach(alreadySent, (person) =>
        ledger.claim(person, claimBy("runner-a")).pipe(
          Effect.zipRight(ledger.settle(person, "runner-a", Settlement.Sent({ messageId: "mid", at: new Date() })))
        ))

      const visited: Array<string> = []
      let won = 0
      yield* Stream.runForEach(ledger.pendingEntries(campaign, "first_message"), (entry) =>
        Effect.gen(function*() {
          visited.push(entry.userId)
          if (yield* ledger.claim(entry, claimBy("runner-a"))) won++
        }))
      const expected = everyone.filter((_, i) => i % 100 !== 0).map((person) => person.userId)
      assert.deepStrictEqual(visited, expected)
      assert.strictEqual(won, expected.length)
      assert.strictEqual((yield* ledger.counts(campaign, "first_message")).claimed, expected.length)
    }))

  it.effect("a read mark is kept per campaign and post, and a new one replaces it", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("read-mark")
      const other = newCampaign("read-mark-other")
      const post = "17900000000000001"
      assert.isTrue(Option.isNone(yield* ledger.readMark(campaign, post)))

      const first = {
        campaign,
        post,
        newestIds: ["c-100", "c-99", "c-98"],
        matchKey: "rules-1",
        readAt: new Date(yield* Clock.currentTimeMillis)
      }
      yield* ledger.markRead(first)
      assert.deepStrictEqual(yield* ledger.readMark(campaign, post), Option.some(first))
      assert.isTrue(Option.isNone(yield* ledger.readMark(other, post)))
      assert.isTrue(Option.isNone(yield* ledger.readMark(campaign, "https://www.instagram.com/p/ABC/")))

      yield* TestClock.adjust(60_000)
      const second = {
        ...first,
        newestIds: ["c-120", ...Array.from({ length: 99 }, (_, i) => `c-${119 - i}`)],
        matchKey: "rules-2",
        readAt: new Date(yield* Clock.currentTimeMillis)
      }
      yield* ledger.markRead(second)
      assert.deepStrictEqual(yield* ledger.readMark(campaign, post), Option.some(second))
    }))

  it.effect("registerCampaign records a campaign and refreshes it on the next run", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const sql = yield* SqlClient.SqlClient
      const name = newCampaign("register")
      const createdAt = yield* Clock.currentTimeMillis
      yield* ledger.registerCampaign({ name, platform, profileUser: "my-profile", posts: ["17900000000000001"] })
      yield* TestClock.adjust(5_000)
      const posts = ["17900000000000001", "https://www.instagram.com/p/ABC/"]
      yield* ledger.registerCampaign({ name, platform, profileUser: "my-profile", posts })

      const rows = yield* sql`SELECT platform, profile_user, posts, created_at, updated_at FROM comment_dm_campaigns
        WHERE name = ${name}`.pipe(Effect.flatMap(Schema.decodeUnknown(Schema.Array(CampaignRow))))
      assert.deepStrictEqual(rows, [{
        platform,
        profile_user: "my-profile",
        posts: JSON.stringify(posts),
        created_at: createdAt,
        updated_at: createdAt + 5_000
      }])
    }))

  it.effect("two steps of one person are rows of their own, each with its own claim and settlement", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("steps")
      // A public reply takes its comment's key of the campaign's profile.
      yield* ledger.registerCampaign({ name: campaign, platform, profileUser: campaign, posts: [] })
      const first = candidate(campaign, 1)
      const reply = { ...first, step: "public_reply" as const, commentText: undefined }
      assert.strictEqual(yield* ledger.discover([first, reply]), 2)
      assert.strictEqual(yield* ledger.discover([first, reply]), 0, "each row once")
      assert.isTrue(yield* ledger.claim(first, { ...claimBy("r1"), path: "dm", campaignVersion: 3 }))
      assert.isTrue(yield* ledger.settle(first, "r1", Settlement.Sent({ messageId: "m1", at: new Date() })))
      const stepStates = (step: StepKind) => ledger.states(campaign, platform, step, [first.userId])
      assert.strictEqual((yield* stepStates("first_message")).get(first.userId), "sent")
      assert.strictEqual((yield* stepStates("public_reply")).get(first.userId), "pending")
      assert.strictEqual((yield* stepStates("follow_up")).size, 0)
      assert.deepStrictEqual(yield* ledger.counts(campaign, "public_reply"), { ...noCounts(), pending: 1 })
      const pending = Chunk.toArray(yield* Stream.runCollect(ledger.pendingEntries(campaign, "public_reply")))
      assert.deepStrictEqual(pending.map((entry) => [entry.userId, entry.step]), [[first.userId, "public_reply"]])
      assert.deepStrictEqual(yield* Stream.runCollect(ledger.pendingEntries(campaign, "first_message")), Chunk.empty())

      // The second step's claim and settlement touch only its row.
      assert.isTrue(yield* ledger.claim(reply, claimBy("r2")))
      assert.isFalse(yield* ledger.settle(first, "r2", Settlement.Refused({ reason: "not its claim" })))
      assert.isTrue(yield* ledger.settle(reply, "r2", Settlement.Unconfirmed({ reason: "timed out" })))
      const [firstRow, replyRow] = [yield* entryOf(first), yield* entryOf(reply)]
      assert.deepStrictEqual(
        [firstRow.state, firstRow.path, firstRow.campaignVersion, firstRow.messageId, firstRow.commentText],
        ["sent", "dm", 3, "m1", "GUIDE please"]
      )
      assert.deepStrictEqual(
        [replyRow.state, replyRow.path, replyRow.reason, replyRow.commentText],
        ["unconfirmed", undefined, "timed out", undefined]
      )
      assert.deepStrictEqual((yield* allEntries(campaign)).map((entry) => entry.step), [
        "first_message",
        "public_reply"
      ])
    }))

  it.effect("the profile's comment keys: one private and one public reply per comment, whichever campaign asks", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const profile = `profile-${crypto.randomUUID()}`
      const commentId = `comment-${crypto.randomUUID()}`
      const [a, b, other, dms] = ["a", "b", "other", "dms"].map((label) => newCampaign(`replies-${label}`))
      for (const name of [a!, b!, dms!]) {
        yield* ledger.registerCampaign({ name, platform, profileUser: profile, posts: [] })
      }
      yield* ledger.registerCampaign({ name: other!, platform, profileUser: `${profile}-2`, posts: [] })
      const person = (campaign: string, step: StepKind = "first_message") => candidate(campaign, 1, { commentId, step })
      yield* ledger.discover([a!, b!, other!, dms!].flatMap((name) => [person(name), person(name, "public_reply")]))
      const privately = (runner: string) => ({ ...claimBy(runner), path: "private_reply" as const })

      assert.isTrue(yield* ledger.claim(person(a!), privately("r1")))
      // The claim fails until the first one settles, and after: the comment's private reply is taken.
      assert.isFalse(yield* ledger.claim(person(b!), privately("r2")))
      const taken = yield* entryOf(person(b!))
      assert.deepStrictEqual([taken.state, taken.reason], ["skipped", "comment_taken" satisfies SkipReason])
      // A DM takes no key; another profile has keys of its own.
      assert.isTrue(yield* ledger.claim(person(dms!), { ...claimBy("r3"), path: "dm" }))
      assert.isTrue(yield* ledger.claim(person(other!), privately("r4")))

      // The holder of a key keeps it: a claim left pending claims again.
      assert.isTrue(yield* ledger.settle(person(a!), "r1", Settlement.Pending({ reason: "retry later" })))
      assert.isTrue(yield* ledger.claim(person(a!), privately("r1")))

      // Public replies have a key of their own per comment: two runners of two campaigns race for it.
      const raced = yield* Effect.all([
        ledger.claim(person(a!, "public_reply"), claimBy("r1")),
        ledger.claim(person(b!, "public_reply"), claimBy("r2"))
      ], { concurrency: 2 })
      assert.deepStrictEqual(raced.filter(Boolean), [true])
      const loser = raced[0] ? b! : a!
      assert.strictEqual((yield* entryOf(person(loser, "public_reply"))).reason, "comment_taken")
    }))

  it.effect("a private reply in doubt is claimed again only as a retry, by one runner, with its comment's key", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const profile = `profile-${crypto.randomUUID()}`
      const [campaign, other] = ["retry", "retry-other"].map(newCampaign)
      for (const name of [campaign!, other!]) {
        yield* ledger.registerCampaign({ name, platform, profileUser: profile, posts: [] })
      }
      const person = candidate(campaign!, 1)
      yield* ledger.discover([person, candidate(other!, 1)])
      const privately = (runner: string, inDoubt?: boolean) => ({
        ...claimBy(runner),
        path: "private_reply" as const,
        ...(inDoubt === undefined ? {} : { inDoubt })
      })
      assert.isFalse(yield* ledger.claim(person, privately("r1", true)), "a pending row is not a retry")
      assert.isTrue(yield* ledger.claim(person, privately("r1")))
      assert.isTrue(yield* ledger.settle(person, "r1", Settlement.InDoubt({ reason: "reset after sending" })))

      assert.isFalse(yield* ledger.claim(person, privately("r2")), "in doubt: not claimable as pending")
      const retries = yield* Effect.all([
        ledger.claim(person, privately("r2", true)),
        ledger.claim(person, privately("r3", true))
      ], {
        concurrency: 2
      })
      assert.deepStrictEqual(retries.filter(Boolean), [true], "one runner retries")
      const retried = yield* entryOf(person)
      assert.deepStrictEqual([retried.state, retried.attempts, retried.path], ["claimed", 2, "private_reply"])
      // The retry keeps the comment's key: the other campaign still finds the comment taken.
      assert.isFalse(yield* ledger.claim(candidate(other!, 1), privately("r4")))
      assert.strictEqual((yield* entryOf(candidate(other!, 1))).reason, "comment_taken")
    }))

  it.effect("campaignVersion keeps the version of an unchanged file and numbers a changed one", () =>
    Effect.gen(function*() {
      const ledger = yield* Ledger
      const campaign = newCampaign("versions")
      const v1 = { fingerprint: "f1", spec: { name: campaign, message: "Hi" } }
      assert.strictEqual(yield* ledger.campaignVersion(campaign, v1), 1)
      assert.strictEqual(yield* ledger.campaignVersion(campaign, v1), 1)
      const edited = { fingerprint: "f2", spec: { name: campaign, message: "Hello" } }
      const together = yield* Effect.all([0, 1, 2].map(() => ledger.campaignVersion(campaign, edited)), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(together, [2, 2, 2])
      assert.strictEqual(yield* ledger.campaignVersion(campaign, v1), 3, "back to the first file is a new version")
      assert.strictEqual(yield* ledger.campaignVersion(newCampaign("versions"), edited), 1, "per campaign")
    }))

  it.effect.prop(
    "follows the delivery state machine under any sequence of operations",
    [FastCheck.array(operation, { minLength: 1, maxLength: 30 })],
    ([operations]) =>
      Effect.gen(function*() {
        const ledger = yield* Ledger
        const campaign = newCampaign("model")
        const everyone = people(campaign, modelPeople)
        yield* ledger.discover(everyone)
        const model = new Map(everyone.map((person) => [person.userId, { ...initialModelRow }]))
        for (const op of operations) {
          const now = yield* Clock.currentTimeMillis
          const actual = yield* runOperation(ledger, everyone, op)
          assert.strictEqual(actual, applyToModel(model, everyone, op, now), JSON.stringify(op))
        }
        const states = yield* ledger.states(
          campaign,
          platform,
          "first_message",
          everyone.map((person) => person.userId)
        )
        assert.deepStrictEqual(
          Object.fromEntries(states),
          Object.fromEntries([...model].map(([userId, row]) => [userId, row.state]))
        )
      }),
    { fastCheck: { numRuns: 40 } }
  )
}
