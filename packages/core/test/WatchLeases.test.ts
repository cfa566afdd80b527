/**
 * A watcher that shares its campaign with other processes (`PostLeases`) reads only the posts its share gives it, and
 * reads the conversations only when `alone` lets it; without the service it reads every post.
 */
import { type DataSet, Sandbox } from "@comment-dm/sandbox"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import * as CampaignSpec from "../src/CampaignSpec.js"
import * as Pacer from "../src/Pacer.js"
import * as PostLeases from "../src/PostLeases.js"
import * as SqliteLedger from "../src/SqliteLedger.js"
import * as UploadPost from "../src/UploadPost.js"
import * as Watch from "../src/Watch.js"
import { countingReads } from "./support/commentReads.js"

const profile = "sharer"
const posts = ["17900000000007001", "17900000000007002", "17900000000007003"]
const person = (i: number) => `178414000000070${i}`

const data: DataSet.Listed = {
  _tag: "Listed",
  profile,
  posts: posts.map((id, i) => ({
    id,
    comments: [{
      id: `c-${id}`,
      text: "guide please",
      timestamp: new Date(Date.now() - 60_000).toISOString(),
      user: { id: person(i), username: `viewer.${i}` }
    }]
  }))
}

const name = "shared-watch"
const spec = CampaignSpec.make({
  name,
  platform: "instagram",
  user: profile,
  posts,
  match: { keywords: ["guide"] },
  message: "Hi @{{username}}, here is your guide",
  delivery: "dm"
})

/** One poll with the given leases service (or none): the posts whose comments were read, and who was sent. */
const onePoll = (leases: Option.Option<PostLeases.Service>) =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.make({ data, seed: 1, windows: "open" })
    const read: Array<string> = []
    const transport = countingReads((post) => read.push(post))
    const services = Layer.mergeAll(
      UploadPost.UploadPost.Default.pipe(
        Layer.provide(UploadPost.UploadPostConfig.layer({
          baseUrl: sandbox.baseUrl,
          apiKey: Redacted.make(sandbox.apiKey)
        })),
        Layer.provide(transport)
      ),
      SqliteLedger.layerMemory(),
      Pacer.layerUnlimited
    )
    const watching = Watch.watch(yield* Effect.orDie(spec), { once: true }).pipe(Effect.provide(services))
    yield* Option.match(leases, {
      onNone: () => watching,
      onSome: (service) => Effect.provideService(watching, PostLeases.PostLeases, service)
    })
    const sent = (yield* sandbox.deliveries).map((delivery) => delivery.recipientId).sort()
    return { read: [...new Set(read)].sort(), sent }
  }).pipe(Effect.scoped)

describe("Watch with post leases", () => {
  it.live("reads only the posts its share holds, and sends to the people found there", () =>
    Effect.gen(function*() {
      const asked: Array<string> = []
      const service: PostLeases.Service = {
        join: (campaign) =>
          Effect.succeed({
            mine: (list, key) =>
              Effect.sync(() => {
                asked.push(campaign)
                return list.filter((post) => key(post) === posts[1])
              }),
            mayRead: (post) => Effect.succeed(post === posts[1]),
            alone: () => Effect.succeedNone
          })
      }
      const { read, sent } = yield* onePoll(Option.some(service))
      assert.deepStrictEqual(read, [posts[1]])
      assert.deepStrictEqual(sent, [person(1)])
      assert.deepStrictEqual(asked, [name])
    }))

  it.live("without the service, every post is read", () =>
    Effect.gen(function*() {
      const { read, sent } = yield* onePoll(Option.none())
      assert.deepStrictEqual(read, [...posts].sort())
      assert.deepStrictEqual(sent, [0, 1, 2].map(person).sort())
    }))
})
