/**
 * What the conversations endpoint tells `delivery: auto`: when each person last wrote to the account, and what. It is
 * read once per pass (a watcher: once per poll), never per person, and kept with the time it was read. A person it
 * does not list has no message seen: the endpoint documents no paging, so an answer may leave people out, and they
 * then get a private reply instead of a DM (never a DM the window may not allow).
 */
import { Clock, Duration, Effect, Option } from "effect"
import * as CampaignSpec from "../CampaignSpec.js"
import * as Retry from "../Retry.js"
import * as Suppression from "../Suppression.js"
import type * as UploadPost from "../UploadPost.js"
import type * as Errors from "../UploadPostError.js"

/** Instagram lets a business message a person within 24 hours of that person's last message to it. */
export const messagingWindow = Duration.hours(24)

/**
 * A DM is chosen only while at least this much of the window is left: clocks differ, the message may be listed late,
 * and a DM may wait in the queue for its pace slot. An hour keeps every such delay well inside the window.
 */
export const windowMargin = Duration.hours(1)

/** The whole messages that opt a person out when a campaign names none (folded as {@link fold} does). */
export const optOutWords: ReadonlyArray<string> = Suppression.defaultOptOutWords

/** A person's latest message to the account. */
export interface Written {
  readonly at: number
  readonly text: string
}

export interface Snapshot {
  /** When the conversations were read (epoch milliseconds); undefined: never read. */
  readonly readAt: number | undefined
  /** How many conversations the answer held. */
  readonly conversations: number
  /** Each person's latest message to the account, by user id. */
  readonly latest: ReadonlyMap<string, Written>
}

export const nothingSeen: Snapshot = { readAt: undefined, conversations: 0, latest: new Map() }

/**
 * Each sender's latest message. The account's own messages count under its own id, which is never a commenter to
 * reach (the account's own comments are dropped before), so the account's id need not be known here.
 */
export const snapshotOf = (conversations: ReadonlyArray<UploadPost.Conversation>, readAt: number): Snapshot => {
  const latest = new Map<string, Written>()
  for (const conversation of conversations) {
    for (const message of conversation.messages) {
      const at = message.createdTime?.getTime()
      if (message.fromId === undefined || at === undefined || Number.isNaN(at)) continue
      const known = latest.get(message.fromId)
      if (known === undefined || known.at < at) latest.set(message.fromId, { at, text: message.text })
    }
  }
  return { readAt, conversations: conversations.length, latest }
}

/** Case, width, diacritics and invisible characters folded, and the whitespace around and between words collapsed. */
export const fold: (text: string) => string = Suppression.foldWhole

/** Whether a whole message is one of the default opt-out words. */
export const isOptOut: (text: string) => boolean = Suppression.isOptOut(optOutWords)

/** When a DM to the person stops being safe to choose (the window's end less the margin), if they wrote at all. */
export const dmDeadline = (snapshot: Snapshot, userId: string): number | undefined => {
  const written = snapshot.latest.get(userId)
  return written === undefined
    ? undefined
    : written.at + Duration.toMillis(messagingWindow) - Duration.toMillis(windowMargin)
}

/** The conversations as `auto` last read them, for the stages of one campaign. */
export class Inbound {
  snapshot: Snapshot = nothingSeen
  /** Whether a whole message is one of the campaign's opt-out words. */
  readonly isOptOut: (text: string) => boolean

  constructor(readonly spec: CampaignSpec.CampaignSpec, readonly api: UploadPost.UploadPost) {
    this.isOptOut = Suppression.isOptOut(CampaignSpec.optOutOf(spec))
  }

  /**
   * Reads the conversations again (with the client's retries). A failure keeps what was read before and is returned,
   * so that the run can tell of it: nobody's window is known then beyond the last read.
   */
  readonly refresh: Effect.Effect<Option.Option<Errors.ReadError>> = Effect.suspend(() =>
    Effect.gen(this, function*() {
      const read = yield* Effect.either(
        Retry.retrying(
          this.api.conversations({ platform: this.spec.platform, user: this.spec.user }),
          this.api.settings.retry
        )
      )
      if (read._tag === "Left") return Option.some(read.left)
      this.snapshot = snapshotOf(read.right, yield* Clock.currentTimeMillis)
      return Option.none()
    })
  )
}
