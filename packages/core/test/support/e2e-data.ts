/**
 * Hand-made data sets for the end-to-end tests, with the people a campaign must reach written out by hand, so
 * that the tests check the pipeline against an answer it did not compute.
 */
import type { DataSet } from "@comment-dm/sandbox"

export const profile = "studio"

export const guidePost = { id: "17900000000000101", url: "https://www.instagram.com/reel/CguideReel1/" }
export const linkPost = { id: "17900000000000102", url: "https://www.instagram.com/reel/CguideReel2/" }

const person = (n: number) => `178414000000000${String(n).padStart(2, "0")}`

/** The commenters of the guide data set, by the name tests use for them. */
export const people = {
  anna: person(1),
  marco: person(2),
  li: person(3),
  fatima: person(4),
  olga: person(5),
  stopper: person(6),
  sam: person(7),
  kenji: person(8),
  ruth: person(9),
  priya: person(10),
  noah: person(11),
  chloe: person(12),
  tom: person(13)
} as const

/** A comment of the guide data set; ids share a prefix and differ by `suffix`. */
const c = (
  suffix: string,
  text: string,
  timestamp: string,
  user: { readonly id?: string; readonly username?: string }
): DataSet.Comment => ({ id: `1785889326900${suffix}`, text, timestamp, user })

/**
 * Two posts, 17 comments: matches in every form the matcher folds (case, accents, full-width letters, emoji next to
 * the word), people who comment twice and on both posts, a flat `username`, comments without a usable commenter,
 * an excluded word and near misses ("guidelines").
 */
export const guideData: DataSet.Listed = {
  _tag: "Listed",
  profile,
  posts: [
    {
      ...guidePost,
      platform: "instagram",
      caption: "Comment GUIDE for the guide",
      timestamp: "2026-03-20T09:00:00+0000",
      comments: [
        c("1101", "GUIDE please", "2026-03-28T10:15:00+0000", { id: people.anna, username: "anna.travels" }),
        c("1102", "guíde🔥", "2026-03-28T09:40:00+0000", { id: people.marco, username: "marco_cooks" }),
        c("1103", "love this", "2026-03-27T22:05:00+0000", { id: people.li, username: "li.wei" }),
        {
          id: "17858893269001104",
          text: "ＧＵＩＤＥ",
          timestamp: "2026-03-27T18:30:00+0000",
          user: { id: people.fatima },
          username: "fatima.art"
        },
        c("1105", "guidelines?", "2026-03-26T12:00:00+0000", { id: people.olga, username: "olga_runs" }),
        { id: "17858893269001106", text: "guide!!", timestamp: "2026-03-25T08:45:00+0000" },
        c("1107", "Guide me 🙏", "2026-03-24T16:20:00+0000", { username: "private.account" }),
        c("1108", "guide, then stop", "2026-03-23T11:11:00+0000", { id: people.stopper, username: "no.thanks" }),
        c("1109", "guide again pls", "2026-03-22T07:00:00+0000", { id: people.anna, username: "anna.travels" }),
        c("1110", "send me the guide", "2026-03-21T10:00:00+0000", { id: people.sam, username: "sam.closed" })
      ]
    },
    {
      ...linkPost,
      platform: "instagram",
      caption: "Comment LINK for the link",
      timestamp: "2026-03-25T09:00:00+0000",
      comments: [
        c("1201", "Guide?", "2026-03-28T11:00:00+0000", { id: people.kenji, username: "kenji" }),
        c("1202", "guide pls", "2026-03-28T10:30:00+0000", { id: people.marco, username: "marco_cooks" }),
        c("1203", "nice", "2026-03-27T10:00:00+0000", { id: people.ruth, username: "ruth" }),
        c("1204", "link please", "2026-03-27T09:00:00+0000", { id: people.priya, username: "priya" }),
        c("1205", "THE GUIDE 📘", "2026-03-26T09:00:00+0000", { id: people.noah, username: "noah" }),
        c("1206", "guide", "2026-03-26T08:00:00+0000", { id: people.chloe, username: "chloe" }),
        c("1207", "stop", "2026-03-25T10:00:00+0000", { id: people.tom, username: "tom" })
      ]
    }
  ]
}

/** Comments in `guideData`, of which 2 have no usable commenter id. */
export const guideComments = 17
export const guideDropped = 2

/** Who must get a DM from a `guideCampaign` (keywords guide and link, `stop` excluded), with the name to greet. */
export const expectedRecipients: ReadonlyMap<string, string> = new Map([
  [people.anna, "anna.travels"],
  [people.marco, "marco_cooks"],
  [people.fatima, "fatima.art"],
  [people.sam, "sam.closed"],
  [people.kenji, "kenji"],
  [people.priya, "priya"],
  [people.noah, "noah"],
  [people.chloe, "chloe"]
])

export const variants = [
  "Hi @{{username}}, here is your guide: https://example.com/g",
  "Thanks for the comment, @{{username}}! Your guide: https://example.com/g"
] as const

/** The texts a person may receive: one per variant, with their name filled in. */
export const possibleMessages = (username: string): ReadonlyArray<string> =>
  variants.map((variant) => variant.replace("{{username}}", username))

/** The campaign file for `guideData`: the first post by id, the second by URL; a very fast pace for the sandbox. */
export const guideCampaign = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: "guide-e2e",
  platform: "instagram",
  user: profile,
  posts: [guidePost.id, linkPost.url],
  match: { keywords: ["guide", "link"], mode: "word", exclude: ["stop"] },
  message: [...variants],
  delivery: "dm",
  pace: { per_hour: 360000, concurrency: 4 },
  ...overrides
})

/**
 * One post with `count` comments, each from a different person, all asking for the guide, newest first a minute
 * apart, ending at `newest`.
 */
export const crowdPost = (options: {
  readonly id: string
  readonly count: number
  readonly newest: Date
}): DataSet.Post => ({
  id: options.id,
  url: `https://www.instagram.com/reel/Ccrowd${options.id.slice(-5)}/`,
  platform: "instagram",
  caption: "Comment GUIDE",
  comments: Array.from({ length: options.count }, (_, index): DataSet.Comment => ({
    id: `${options.id}${String(index).padStart(4, "0")}`,
    text: index % 3 === 0 ? "GUIDE please" : index % 3 === 1 ? "guide!" : "the guide 🙏",
    timestamp: new Date(options.newest.getTime() - index * 60_000).toISOString().replace(/\.\d{3}Z$/, "+0000"),
    user: { id: `2784140${options.id.slice(-4)}${String(index).padStart(6, "0")}`, username: `fan_${index}` }
  }))
})

export const crowdData = (count: number, newest: Date): DataSet.Listed => ({
  _tag: "Listed",
  profile,
  posts: [crowdPost({ id: "17900000000000201", count, newest })]
})
