/**
 * How a person can be reached under the platform's rules, as a pure function of what is known about them (Meta's
 * rules, see the README): `/dms/send` only within 24 hours of the person's last message to the account; a private
 * reply (Instagram) to any commenter, once per comment, within 7 days of the comment; never the account itself.
 * `doctor` previews `auto` with it; the engine's per-person choice follows the same rules.
 */
import { Duration } from "effect"
import { messagingWindow, windowMargin } from "./campaign/Inbound.js"
import { privateReplyWindow } from "./campaign/Step.js"
import type * as CampaignSpec from "./CampaignSpec.js"

// The windows and the margin are the engine's own, so that a preview and a run draw the same lines.
export { messagingWindow, privateReplyWindow }

/** Time kept in hand before either deadline: the margin the engine keeps before a DM's window ends. */
export const defaultMargin = windowMargin

export type SkipReason = "window_closed" | "comment_too_old" | "own_comment"

export type Choice =
  /** `/dms/send`, before `windowEndsAt` (unknown off Instagram, where the platform decides). */
  | { readonly _tag: "Dm"; readonly windowEndsAt: Date | undefined }
  /** `/comments/reply` to the person's comment, before `deadline` (unknown when the comment has no timestamp). */
  | { readonly _tag: "PrivateReply"; readonly deadline: Date | undefined }
  | { readonly _tag: "Skip"; readonly reason: SkipReason }

export interface Facts {
  readonly now: Date
  /** When the person last wrote to the account, as far as the conversations show. */
  readonly lastMessageAt: Date | undefined
  readonly commentTime: Date | undefined
  /** The comment is the account's own. */
  readonly ownComment: boolean
}

export interface Rules {
  readonly platform: CampaignSpec.Platform
  /** `auto` (DM when the window is open, else a private reply), `dm` or `private_reply`. */
  readonly delivery: "auto" | "dm" | "private_reply"
  readonly margin?: Duration.DurationInput
}

/**
 * The path for one person. `auto` on Instagram: a DM while their window is open (with the margin to spare), else a
 * private reply while their comment is younger than 7 days (less the margin; a comment without a time is tried, the
 * platform decides), else skipped. Elsewhere there are no private replies, and `auto` means `dm`: the platform decides.
 */
export const choose = (facts: Facts, rules: Rules): Choice => {
  if (facts.ownComment) return { _tag: "Skip", reason: "own_comment" }
  const now = facts.now.getTime()
  const margin = Duration.toMillis(Duration.decode(rules.margin ?? defaultMargin))
  const windowEnd = facts.lastMessageAt === undefined
    ? undefined
    : facts.lastMessageAt.getTime() + Duration.toMillis(messagingWindow)
  const dm: Choice | undefined = windowEnd !== undefined && windowEnd - margin > now
    ? { _tag: "Dm", windowEndsAt: new Date(windowEnd) }
    : undefined
  if (rules.platform !== "instagram" && rules.delivery !== "private_reply") {
    return dm ?? { _tag: "Dm", windowEndsAt: undefined }
  }
  if (rules.delivery === "dm") return dm ?? { _tag: "Skip", reason: "window_closed" }
  if (rules.delivery === "auto" && dm !== undefined) return dm
  if (facts.commentTime === undefined) return { _tag: "PrivateReply", deadline: undefined }
  const deadline = facts.commentTime.getTime() + Duration.toMillis(privateReplyWindow)
  return deadline - margin > now
    ? { _tag: "PrivateReply", deadline: new Date(deadline) }
    : { _tag: "Skip", reason: "comment_too_old" }
}
