/**
 * Seeded worlds for the crash, fault and secret suites: a listed data set whose matching commenters are known by
 * construction (not by running the matcher under test), the campaign file that targets it, and a distinctive API
 * key to look for in every output.
 */
import type { DataSet } from "@comment-dm/sandbox"
import * as Crypto from "node:crypto"

/** A small seeded generator (mulberry32): the same seed gives the same data, faults and kill plan. */
export interface Prng {
  /** Uniform in [0, 1). */
  readonly next: () => number
  /** Uniform integer in [min, max]. */
  readonly int: (min: number, max: number) => number
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

export const prng = (seed: number): Prng => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  return { next, int, pick: (items) => items[int(0, items.length - 1)]! }
}

/** A key no other text contains by chance: if it shows up in an output, the output leaked it. */
export const secretKey = (): string => `sk-live-SECRET-${Crypto.randomBytes(12).toString("hex")}`

/** Comments that ask for the guide under `match: { keywords: [guide], mode: word, exclude: [stop] }`. */
export const askingTexts: ReadonlyArray<string> = [
  "GUIDE please",
  "guide 🔥",
  "Can I get the guide?",
  "ＧＵＩＤＥ",
  "guíde!!",
  "send me the Guide 🙏",
  "#guide"
]

/** Comments that do not: other words, the keyword inside a longer word, or an excluded term. */
export const otherTexts: ReadonlyArray<string> = [
  "love this",
  "guidelines?",
  "great reel",
  "misguided take",
  "stop the guide spam",
  "🔥🔥🔥",
  ""
]

export interface WorldOptions {
  readonly seed: number
  readonly posts?: number
  readonly commentsPerPost?: number
  /** Size of the commenter pool; people comment more than once, on the same post and across posts. */
  readonly people?: number
  /** Share of comments that ask for the guide. */
  readonly askingShare?: number
  /** How many matching people have a closed messaging window (the sandbox refuses them). */
  readonly refused?: number
}

export interface World {
  readonly seed: number
  readonly profile: string
  readonly data: DataSet.Listed
  readonly postIds: ReadonlyArray<string>
  /** User ids of every commenter the campaign must reach: at least one asking comment and a usable id. */
  readonly matching: ReadonlySet<string>
  /** Matching people the sandbox is told to refuse. */
  readonly refused: ReadonlyArray<string>
  /** Comments without a usable commenter id: the run drops them. */
  readonly unusable: number
}

const userId = (index: number) => `17841500${String(index).padStart(9, "0")}`

/** Posts of listed comments, newest last, with a known set of matching commenters. */
export const make = (options: WorldOptions): World => {
  const random = prng(options.seed)
  const posts = options.posts ?? 2
  const perPost = options.commentsPerPost ?? 200
  const people = options.people ?? Math.max(1, Math.ceil((posts * perPost) / 2))
  const askingShare = options.askingShare ?? 0.45
  const profile = "crash"
  const start = Date.UTC(2026, 2, 20)
  const matching = new Set<string>()
  let unusable = 0
  let commentNumber = 0
  const listed = Array.from({ length: posts }, (_, postIndex): DataSet.Post => {
    const id = `1790000000${String(postIndex + 1).padStart(7, "0")}`
    const comments = Array.from({ length: perPost }, (): DataSet.Comment => {
      commentNumber++
      const asks = random.next() < askingShare
      const text = random.pick(asks ? askingTexts : otherTexts)
      const person = random.int(1, people)
      const shape = random.next()
      const timestamp = new Date(start + commentNumber * 60_000).toISOString().replace(/\.\d{3}Z$/, "+0000")
      const base = { id: `c${options.seed}-${commentNumber}`, text, timestamp }
      // 3% deleted accounts, 2% without an id, 6% in the older flat form, the rest the current form.
      if (shape < 0.03) {
        unusable++
        return base
      }
      if (shape < 0.05) {
        unusable++
        return { ...base, user: { username: `gone_${person}` } }
      }
      if (asks) matching.add(userId(person))
      return shape < 0.11
        ? { ...base, username: `person_${person}`, user: { id: userId(person) } }
        : { ...base, user: { id: userId(person), username: `person_${person}` } }
    })
    return { id, url: `https://www.instagram.com/reel/crash${postIndex + 1}/`, platform: "instagram", comments }
  })
  const refusedCount = Math.min(options.refused ?? 3, matching.size)
  const shuffled = [...matching].sort((a, b) => a.localeCompare(b)).map((id) => ({ id, order: random.next() }))
  shuffled.sort((a, b) => a.order - b.order)
  return {
    seed: options.seed,
    profile,
    data: { _tag: "Listed", profile, posts: listed },
    postIds: listed.map((post) => post.id),
    matching,
    refused: shuffled.slice(0, refusedCount).map((entry) => entry.id),
    unusable
  }
}

export interface CampaignOptions {
  readonly name?: string
  readonly perHour?: number
  readonly concurrency?: number
  readonly maxSends?: number
}

export const campaignName = (world: World, options: CampaignOptions = {}): string =>
  options.name ?? `crash-${world.seed}`

/** The campaign file (as an object, written as JSON) for a world: every asking commenter gets one DM. */
export const campaign = (world: World, options: CampaignOptions = {}): Record<string, unknown> => ({
  name: campaignName(world, options),
  platform: "instagram",
  user: world.profile,
  posts: world.postIds,
  match: { keywords: ["guide"], mode: "word", exclude: ["stop"] },
  message: [
    "Hi @{{username}}, here is the guide: https://example.com/guide",
    "Thanks for asking, {{username}}! The guide: https://example.com/guide"
  ],
  pace: { per_hour: options.perHour ?? 1_000_000, concurrency: options.concurrency ?? 4 },
  // DMs, whatever the default: the checks expect the platform's refusals for the closed windows, not `auto`'s skips
  // (test/reach.e2e.test.ts kills and resumes `auto`).
  delivery: "dm",
  ...(options.maxSends === undefined ? {} : { max_sends: options.maxSends })
})
