/**
 * The messages people wrote to the account before the sandbox started, derived from the seed and the person's id:
 * nothing is stored per person, so a pool of a million people costs nothing until someone asks.
 */
import * as Prng from "./prng.js"
import * as Time from "./time.js"

export interface Shares {
  /** Wrote within the 24 hours before the start: their messaging window is open. */
  readonly recent: number
  /** Wrote 2 to 60 days before the start: their window is closed. */
  readonly old: number
}

export interface Seeded {
  readonly createdTime: number
  readonly text: string
}

const texts: readonly [string, ...Array<string>] = [
  "Hi! Could you send me the guide?",
  "hey 👋",
  "Is the guide still available?",
  "Loved your last reel!",
  "thanks 🙏",
  "Hola! ¿me mandas la guía?"
]

const minute = 60 * 1000
const hour = 60 * minute

/**
 * The last message person `userId` wrote to the account before `startMillis`, if any: a recent one lands between 10
 * minutes and 22 hours before the start (so some windows close while the sandbox runs), an old one 2 to 60 days before.
 */
export const seeded = (seed: number, userId: string, startMillis: number, shares: Shares): Seeded | undefined => {
  const random = Prng.stream(Prng.hash(seed, 0x1b0c, Prng.hashString(userId)))
  const draw = random()
  const ago = draw < shares.recent
    ? 10 * minute + random() * (22 * hour - 10 * minute)
    : draw < shares.recent + shares.old
    ? 2 * Time.dayMillis + random() * 58 * Time.dayMillis
    : undefined
  return ago === undefined
    ? undefined
    : { createdTime: startMillis - Math.floor(ago), text: Prng.pick(texts, random()) }
}

/** A message id in the form of the account's other message ids, fixed for a person and an instant. */
export const messageId = (userId: string, createdTime: number): string =>
  Buffer.from(`ig_message:${userId}:${createdTime}`).toString("base64url")
