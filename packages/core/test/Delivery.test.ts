/**
 * The discovery and delivery stages with test services only: a scripted `HttpClient` instead of HTTP, a SQLite ledger in
 * memory, no pace, and the TestClock. Discovery records new people as pending; delivery claims, retries a transient
 * failure, settles what the last attempt said, and leaves a person another runner holds alone.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock, Tracer } from "effect"
import * as Control from "../src/campaign/Control.js"
import * as DailyLimit from "../src/campaign/DailyLimit.js"
import * as Delivery from "../src/campaign/Delivery.js"
import * as Discovery from "../src/campaign/Discovery.js"
import * as Recording from "../src/campaign/Recording.js"
import * as Step from "../src/campaign/Step.js"
import * as Ledger from "../src/Ledger.js"
import * as Matcher from "../src/Matcher.js"
import * as Pacer from "../src/Pacer.js"
import * as Retry from "../src/Retry.js"
import type * as Run from "../src/Run.js"
import * as Sender from "../src/Sender.js"
import * as UploadPost from "../src/UploadPost.js"
import { services } from "./support/scriptedClient.js"
import { smallCampaign } from "./support/smallCampaign.js"
import * as TestHttpClient from "./support/testHttpClient.js"

/** Answers each send with the next scripted status (200 once the script is used up), and counts the sends. */
const scripted = (statuses: Array<number>) => {
  const sent: Array<string> = []
  const layer = TestHttpClient.layer((request) => {
    const body = JSON.parse(TestHttpClient.bodyText(request) || "{}") as { readonly recipient_id?: string }
    sent.push(body.recipient_id ?? "")
    const status = statuses.shift() ?? 200
    return status === 200
      ? TestHttpClient.json(status, { success: true, message_id: `m-${sent.length}` })
      : TestHttpClient.json(status, { success: false, message: "upstream hiccup" })
  })
  return { sent, layer }
}

const spec = smallCampaign({ message: "Hi @{{username}}, here is the guide", delivery: "dm" })

const retry: Retry.RetryPolicy = { ...Retry.defaultPolicy, baseDelay: Duration.millis(100) }

/** The stages of one campaign, wired as the engine wires them. */
const stages = Effect.gen(function*() {
  const campaign = yield* spec
  const api = yield* UploadPost.UploadPost
  const ledger = yield* Ledger.Ledger
  const events: Array<Run.Event> = []
  const emit = (event: Run.Event) => Effect.sync(() => void events.push(event))
  const recorder = new Recording.Recorder(campaign.name, emit, 0)
  const control = yield* Control.make(emit)
  const gate = new DailyLimit.Gate({
    campaign: campaign.name,
    dailyReset: campaign.dailyReset,
    mode: "run",
    emit,
    control,
    budget: undefined
  })
  const step = Step.firstMessage(campaign)
  const deliverer: Delivery.Deliverer = {
    spec: campaign,
    sender: Sender.make(api),
    ledger,
    recorder,
    control,
    gate,
    pacer: Pacer.unlimited,
    retry,
    runner: "host/1/test",
    lease: Duration.minutes(2),
    freshClaimMillis: 1_000,
    permits: yield* Effect.makeSemaphore(1),
    maxSends: undefined,
    started: { count: 0 },
    names: yield* Delivery.stepNames,
    version: { current: undefined }
  }
  const discoverer: Discovery.Discoverer = {
    spec: campaign,
    ledger,
    recorder,
    matcher: Matcher.compile(campaign.match),
    step,
    rejudge: false
  }
  yield* ledger.registerCampaign({
    name: campaign.name,
    platform: campaign.platform,
    profileUser: "studio",
    posts: ["p1"]
  })
  const page = {
    _tag: "Page" as const,
    post: "p1",
    comments: [
      { id: "c1", post: "p1", text: "guide please", timestamp: undefined, userId: "u1", username: "ada" },
      { id: "c2", post: "p1", text: "the GUIDE again", timestamp: undefined, userId: "u1", username: "ada" },
      { id: "c3", post: "p1", text: "nice", timestamp: undefined, userId: "u2", username: "bo" },
      { id: "c4", post: "p1", text: "guide?", timestamp: undefined, userId: undefined, username: undefined }
    ]
  }
  const { open } = yield* Discovery.unsettled(discoverer, Discovery.targetsOf(discoverer, new Discovery.Seen(), page))
  return { campaign, ledger, events, recorder, deliver: Delivery.deliver(deliverer, step), open }
})

describe("Discovery", () => {
  it.scoped("keeps the first matching comment per person and records new people as pending", () =>
    Effect.gen(function*() {
      const { campaign, ledger, open, recorder } = yield* stages
      assert.deepStrictEqual(open.map((target) => [target.userId, target.commentId, target.step]), [
        ["u1", "c1", "first_message"]
      ])
      assert.deepStrictEqual([recorder.tally.comments, recorder.tally.matched, recorder.tally.fresh], [4, 1, 1])
      assert.deepStrictEqual(recorder.tally.dropped, { "no user id (deleted or restricted account)": 1 })
      const states = yield* ledger.states(campaign.name, campaign.platform, "first_message", ["u1", "u2"])
      assert.deepStrictEqual([...states], [["u1", "pending"]])
    }).pipe(Effect.provide(services(scripted([]).layer))))
})

describe("Delivery", () => {
  it.scoped("retries a transient failure after its back-off and settles the person sent, once", () => {
    const transport = scripted([503])
    return Effect.gen(function*() {
      const { campaign, deliver, events, ledger, open } = yield* stages
      const fiber = yield* Effect.fork(deliver(open[0]!))
      yield* TestClock.adjust(Duration.seconds(10))
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(transport.sent, ["u1", "u1"])
      assert.deepStrictEqual(events.map((event) => event._tag), ["Sent"])
      const counts = yield* ledger.counts(campaign.name, "first_message")
      assert.deepStrictEqual([counts.sent, counts.pending, counts.claimed], [1, 0, 0])
    }).pipe(Effect.provide(services(transport.layer)))
  })

  it.scoped("a person another runner holds is left alone: no request, nothing settled", () => {
    const transport = scripted([])
    return Effect.gen(function*() {
      const { campaign, deliver, events, ledger, open, recorder } = yield* stages
      const key = Step.keyOf(Step.firstMessage(campaign), open[0]!)
      assert.isTrue(yield* ledger.claim(key, { message: "hi", runner: "other/2/x", lease: Duration.minutes(2) }))
      yield* deliver(open[0]!)
      assert.deepStrictEqual(transport.sent, [])
      assert.deepStrictEqual(events, [])
      assert.strictEqual(recorder.tally.claimedElsewhere, 1)
    }).pipe(Effect.provide(services(transport.layer)))
  })

  it.scoped("names claim, send and settle as spans when the run has a tracer of its own, and makes none without", () => {
    const transport = scripted([])
    return Effect.gen(function*() {
      const base = yield* Effect.tracer
      const names: Array<string> = []
      const recording = Tracer.make({
        span: (name, ...rest) => {
          names.push(name)
          return base.span(name, ...rest)
        },
        context: base.context
      })
      const { deliver, open } = yield* Effect.withTracer(stages, recording)
      yield* Effect.withTracer(deliver(open[0]!), recording)
      assert.deepStrictEqual(names.filter((name) => name.startsWith("Delivery.")), [
        "Delivery.claim",
        "Delivery.send",
        "Delivery.settle"
      ])
      assert.strictEqual(yield* Delivery.stepNames, Delivery.untraced, "the default tracer gets no spans")
    }).pipe(Effect.provide(services(transport.layer)))
  })
})
