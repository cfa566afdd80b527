/**
 * Generated comments. Comment `i` of a generated post is a pure function of (seed, post, i): nothing is stored,
 * so a post with a million comments costs no memory and any page can be produced directly.
 */
import * as Prng from "./prng.js"

export interface Settings {
  /** Size of the commenter pool; a tenth of it are regulars who comment far more often. */
  readonly people: number
  /** Share of comments whose text asks for the guide (keyword "guide"). */
  readonly matchRatio: number
  /** Share of comments in the older flat form: `username` on the comment, `user: {id}` only. */
  readonly flatUsernameShare: number
  /** Share of comments without `user` at all (deleted accounts). */
  readonly missingUserShare: number
  /** Share of comments whose `user` has a username but no id (restricted accounts). */
  readonly missingUserIdShare: number
  /** Share of comments by the account itself. */
  readonly ownCommentShare: number
}

/** The account behind the profile, the author of its own comments. */
export interface Account {
  readonly id: string
  readonly handle: string
}

export interface Placement {
  /** Position of the post in the sandbox; part of every generated comment id. */
  readonly postIndex: number
  readonly count: number
  /** Comment times spread evenly from `startMillis` (oldest) to `endMillis` (newest). */
  readonly startMillis: number
  readonly endMillis: number
}

export interface Comment {
  readonly id: string
  readonly text: string
  readonly timestamp: number
  readonly user?: { readonly id?: string; readonly username?: string }
  readonly username?: string
  /** Whether the text was drawn from the texts that ask for the guide. */
  readonly asksForGuide: boolean
}

/** Texts that ask for the guide. */
export const matchingTexts: readonly [string, ...Array<string>] = [
  "GUIDE please",
  "guíde🔥",
  "ＧＵＩＤＥ",
  "guide!!",
  "Guide me 🙏",
  "gui\u0301de pls",
  "I want the guide",
  "guide 📘",
  "GUIDE пожалуйста",
  "guide من فضلك",
  "ガイド guide お願いします",
  "Guide\u200d🔥"
]

/** Texts that do not (some of them near misses). */
export const otherTexts: readonly [string, ...Array<string>] = [
  "love this",
  "guidelines?",
  "misguided take",
  "🔥🔥🔥",
  "so good 😍",
  "where did you film this?",
  "رائع جدا 👏",
  "Отличное видео",
  "太棒了！",
  "👩‍👩‍👧‍👦 family goals",
  "שלום מישראל",
  "cafe\u0301 vibes",
  "tag @friend",
  "first!"
]

/** What a creator writes under their own post: some of it names the keyword, as a prompt does. */
const ownTexts: readonly [string, ...Array<string>] = [
  "Comment GUIDE below and I'll send it to you 📘",
  "Thanks everyone! 🙏",
  "The guide is on its way, check your DMs 📩",
  "Reply GUIDE if you missed it"
]

const usernameStems: readonly [string, ...Array<string>] = [
  "anna",
  "marco",
  "li.wei",
  "fatima",
  "olga",
  "kenji",
  "sofia",
  "omar",
  "lucas",
  "amara",
  "noah",
  "priya",
  "mateo",
  "yuki",
  "chloe",
  "ibrahim"
]

const personPrefix = "178415"
const commentPrefix = "18"

/** The platform-scoped id of person `index` of the commenter pool (Instagram ids are 17-digit strings). */
export const personId = (index: number): string => personPrefix + String(index).padStart(11, "0")

export const parsePersonId = (id: string): number | undefined => {
  const match = /^178415(\d{11})$/.exec(id)
  return match?.[1] === undefined ? undefined : Number(match[1])
}

export const personUsername = (seed: number, index: number): string => {
  const random = Prng.stream(Prng.hash(seed, 0x5eed, index))
  const separator = random() < 0.5 ? "_" : "."
  return `${Prng.pick(usernameStems, random())}${separator}${index.toString(36)}`
}

export const commentId = (postIndex: number, index: number): string =>
  commentPrefix + String(postIndex + 1).padStart(4, "0") + String(index).padStart(11, "0")

export const parseCommentId = (id: string): { readonly postIndex: number; readonly index: number } | undefined => {
  const match = /^18(\d{4})(\d{11})$/.exec(id)
  if (match?.[1] === undefined || match[2] === undefined) return undefined
  return { postIndex: Number(match[1]) - 1, index: Number(match[2]) }
}

/** Comment `index` of a post; with an `account`, a share of `settings.ownCommentShare` are the account's own. */
export const commentAt = (
  settings: Settings,
  seed: number,
  placement: Placement,
  index: number,
  account?: Account
): Comment => {
  const random = Prng.stream(Prng.hash(seed, placement.postIndex, index))
  const span = placement.endMillis - placement.startMillis
  const timestamp = placement.startMillis + Math.floor(((index + random()) / placement.count) * span)
  const regulars = Math.max(1, Math.floor(settings.people / 10))
  const person = random() < 0.3
    ? Math.floor(random() * regulars)
    : Math.floor(random() * settings.people)
  const asksForGuide = random() < settings.matchRatio
  const text = Prng.pick(asksForGuide ? matchingTexts : otherTexts, random())
  const id = commentId(placement.postIndex, index)
  // Drawn from a stream of its own, so that a share of own comments leaves every other comment as it was.
  const own = Prng.stream(Prng.hash(seed, placement.postIndex, index, 0x0a11))
  if (account !== undefined && settings.ownCommentShare > 0 && own() < settings.ownCommentShare) {
    const ownText = Prng.pick(ownTexts, own())
    return { id, text: ownText, timestamp, user: { id: account.id, username: account.handle }, asksForGuide: false }
  }
  const shape = random()
  const userId = personId(person)
  const username = personUsername(seed, person)
  if (shape < settings.missingUserShare) {
    return { id, text, timestamp, asksForGuide }
  }
  if (shape < settings.missingUserShare + settings.missingUserIdShare) {
    return { id, text, timestamp, user: { username }, asksForGuide }
  }
  if (shape < settings.missingUserShare + settings.missingUserIdShare + settings.flatUsernameShare) {
    return { id, text, timestamp, username, user: { id: userId }, asksForGuide }
  }
  return { id, text, timestamp, user: { id: userId, username }, asksForGuide }
}
