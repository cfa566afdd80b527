/**
 * The account itself. Instagram lists the account's own comments among everyone's (its replies under a post, say), and
 * a campaign must never message its own account: a comment whose author is the account never matches. Who the account
 * is comes from the campaign file's `account` when it has one, else from the profile (`GET /uploadposts/users/{profile}`,
 * read once per run).
 */
import { Effect, Option } from "effect"
import type * as CampaignSpec from "./CampaignSpec.js"
import * as Retry from "./Retry.js"
import * as StopSignal from "./StopSignal.js"
import * as UploadPost from "./UploadPost.js"
import type * as Errors from "./UploadPostError.js"

export interface OwnAccount {
  /** The account's platform user id: a comment's `user.id` when the account wrote it. */
  readonly userId: string | undefined
  /** Its @name without the @, compared without regard to case. */
  readonly username: string | undefined
  /** Where it was learned: the campaign file's `account`, or the profile's answer. */
  readonly source: "campaign" | "profile"
}

/** Whether the account wrote this comment: the same user id, or the same @name. */
export const isOwn = (
  account: OwnAccount,
  comment: { readonly userId: string | undefined; readonly username: string | undefined }
): boolean =>
  (account.userId !== undefined && comment.userId === account.userId) ||
  (account.username !== undefined && comment.username !== undefined &&
    comment.username.toLowerCase() === account.username.toLowerCase())

/** The platform's account of a profile, when the profile names it. */
export const fromProfile = (profile: UploadPost.Profile, platform: string): OwnAccount | undefined => {
  const account = profile.accounts?.get(platform)
  if (account === undefined || (account.userId === undefined && account.handle === undefined)) return undefined
  return { userId: account.userId, username: account.handle, source: "profile" }
}

/** The campaign file's `account`, when it has one. */
export const fromCampaign = (spec: CampaignSpec.CampaignSpec): OwnAccount | undefined =>
  spec.account === undefined
    ? undefined
    : { userId: spec.account.userId, username: spec.account.username, source: "campaign" }

const unknownNotice = (why: string) =>
  `notice: the account's own comments cannot be recognised in this run: ${why}; name the account in the campaign ` +
  `file (account: { user_id: ..., username: ... }) so that its comments never match`

/**
 * Who the account is: the campaign's `account`, else the profile's answer (one read, retried like every read). When
 * neither tells, `notice` says so once and the run goes on without it. A refused key fails: nothing else would work.
 * A stop (the context's `StopSignal`) that comes while the profile is read gives undefined at once, without the notice.
 */
export const resolve = (
  spec: CampaignSpec.CampaignSpec,
  notice: (text: string) => Effect.Effect<void>
): Effect.Effect<OwnAccount | undefined, Errors.Unauthorized, UploadPost.UploadPost> =>
  Effect.gen(function*() {
    const own = fromCampaign(spec)
    // A paused campaign makes no request at all (campaign/Period.ts).
    if (own !== undefined || spec.active === false) return own
    const api = yield* UploadPost.UploadPost
    // A stop asked for while the read waits (for the key's request budget, say) ends it: the run then reads nothing.
    const stop = yield* Effect.serviceOption(StopSignal.StopSignal)
    const stopped = Option.match(stop, { onNone: () => Effect.never, onSome: (signal) => signal.interrupt })
    const read = Effect.either(Retry.retrying(api.profile({ user: spec.user }), api.settings.retry))
    const raced = yield* Effect.raceFirst(Effect.asSome(read), Effect.as(stopped, Option.none()))
    if (Option.isNone(raced)) return undefined
    const answer = raced.value
    if (answer._tag === "Left") {
      if (answer.left._tag === "Unauthorized") return yield* Effect.fail(answer.left)
      yield* notice(unknownNotice(`the profile could not be read (${answer.left.message})`))
      return undefined
    }
    const found = fromProfile(answer.right, spec.platform)
    if (found === undefined) {
      yield* notice(unknownNotice(`Upload-Post did not tell the ${spec.platform} account of profile ${spec.user}`))
    }
    return found
  }).pipe(Effect.withSpan("OwnAccount.resolve"))
