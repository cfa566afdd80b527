/**
 * `comment-dm doctor <campaign-file>`: the preflight of a first real run. It reads, and never sends: the key (`/me`,
 * with the plan), the profile (`/users/{profile}`: the account, whether it needs re-login), every post (a `post_url`
 * is only found among the profile's recent posts, so it is looked up in `/media` first, then the first page of
 * comments is read), the conversations, the plan's request limit and daily DM cap against the campaign's pace, and
 * what `auto` would do for the first page of commenters. Each problem comes with its fix and the exit code it means;
 * the report's exit code is 0 only when a run can proceed.
 */
import { type CampaignSpec, type Ledger, Matcher, OwnAccount, Reach, Retry, UploadPost } from "@comment-dm/core"
import type { UploadPostError } from "@comment-dm/core"
import { Clock, Duration, Effect, Either, Option } from "effect"
import { ExitCode } from "./ExitCode.js"

export type CheckName =
  | "key"
  | "profile"
  | "post"
  | "conversations"
  | "request_limit"
  | "daily_cap"
  | "preview"

/** `problem`: a run would fail or misbehave; `warning`: it can proceed, but read this; `skipped`: not checked. */
export type CheckStatus = "ok" | "warning" | "problem" | "skipped"

export interface Check {
  readonly name: CheckName
  /** What the check is about when there are several of its kind (a post), else null. */
  readonly subject: string | null
  readonly status: CheckStatus
  readonly detail: string
  /** What to do about a problem or warning; null when there is nothing to do. */
  readonly fix: string | null
  /** The exit code a problem means (2 configuration, 4 key or account, 1 anything else); 0 otherwise. */
  readonly exit_code: ExitCode
}

export interface PreviewPerson {
  readonly user_id: string
  readonly username: string | null
  readonly post: string
  /** `dm`, `private_reply`, `skipped`, or `suppressed` (on the profile's suppression list, or forgotten). */
  readonly path: "dm" | "private_reply" | "skipped" | "suppressed"
  /** The skip reason, or until when the path is open (ISO time), or null when unknown. */
  readonly reason: Reach.SkipReason | null
  readonly until: string | null
}

export interface Preview {
  /** Matching people on the first page of each post, each once. */
  readonly people: number
  readonly dm: number
  readonly private_reply: number
  readonly skipped: Readonly<Record<Reach.SkipReason, number>>
  /** People on the profile's suppression list or forgotten (`comment-dm forget`): a run messages none of them. */
  readonly suppressed: number
  /** The first people, in the order the first pages list them. */
  readonly sample: ReadonlyArray<PreviewPerson>
}

/** What `doctor` found; `--json` prints it as one line. */
export interface Report {
  readonly campaign: string
  readonly platform: string
  readonly user: string
  /** A run can proceed: no check has a problem. */
  readonly ok: boolean
  readonly exit_code: ExitCode
  readonly checks: ReadonlyArray<Check>
  readonly account: {
    readonly email: string | null
    readonly plan: string | null
    /** The platform account's own id and @name, and where they came from (null: unknown). */
    readonly user_id: string | null
    readonly username: string | null
    readonly source: "campaign" | "profile" | null
  } | null
  /** How many conversations the conversations endpoint listed (null: not read). */
  readonly conversations: number | null
  readonly limits: {
    readonly requests_per_minute: number | null
    readonly requests_per_10_minutes: number | null
    readonly daily_dm_cap: number | null
    readonly pace_per_hour: number
    readonly concurrency: number
  }
  readonly preview: Preview | null
}

// ---------------------------------------------------------------------------------------------------------------
// Pure parts

/** Documented plan figures (Upload-Post): request limits per key, the DM cap per profile and day. */
export interface PlanLimits {
  readonly requestsPerMinute: number | undefined
  readonly requestsPer10Minutes: number | undefined
  readonly dailyDmCap: number | undefined
}

/**
 * The figures of a plan by its name: Free 60 requests a minute and 300 per 10 minutes, 10 DMs a day; Business 500 a
 * minute and 2,500 per 10 minutes; every paid plan 500 DMs a day. Other plans' request limits are not documented.
 */
export const planLimits = (plan: string | undefined): PlanLimits => {
  const name = (plan ?? "").trim().toLowerCase()
  if (name === "") return { requestsPerMinute: undefined, requestsPer10Minutes: undefined, dailyDmCap: undefined }
  if (/\bfree\b/.test(name)) return { requestsPerMinute: 60, requestsPer10Minutes: 300, dailyDmCap: 10 }
  if (/\bbusiness\b/.test(name)) return { requestsPerMinute: 500, requestsPer10Minutes: 2_500, dailyDmCap: 500 }
  return { requestsPerMinute: undefined, requestsPer10Minutes: undefined, dailyDmCap: 500 }
}

/** Requests an hour a plan allows at most: the tighter of its two windows. */
export const requestsPerHour = (limits: PlanLimits): number | undefined => {
  const perMinute = limits.requestsPerMinute === undefined ? undefined : limits.requestsPerMinute * 60
  const perTen = limits.requestsPer10Minutes === undefined ? undefined : limits.requestsPer10Minutes * 6
  if (perMinute === undefined) return perTen
  return perTen === undefined ? perMinute : Math.min(perMinute, perTen)
}

/** Upload-Post paces its own comment-to-DM feature at this many DMs an hour and says Meta enforces it. */
export const platformPacePerHour = 200

const check = (
  name: CheckName,
  status: CheckStatus,
  detail: string,
  options: { readonly subject?: string; readonly fix?: string; readonly exit?: ExitCode } = {}
): Check => ({
  name,
  subject: options.subject ?? null,
  status,
  detail,
  fix: options.fix ?? null,
  exit_code: status === "problem" ? options.exit ?? ExitCode.Failure : ExitCode.Settled
})

const withSeparators = (n: number): string => n.toLocaleString("en-US")

/** The pace against the plan: the request limit (a problem when the pace alone is above it) and the daily cap. */
export const limitChecks = (spec: CampaignSpec.CampaignSpec, plan: string | undefined): ReadonlyArray<Check> => {
  const limits = planLimits(plan)
  const pace = spec.pace.perHour
  const checks: Array<Check> = []
  const perHour = requestsPerHour(limits)
  const planName = plan === undefined ? "the plan" : `plan ${JSON.stringify(plan)}`
  if (perHour === undefined) {
    checks.push(check(
      "request_limit",
      "warning",
      `${planName}'s request limit is not documented, so pace.per_hour ${pace} is not checked against it`,
      { fix: "watch for 429 answers with X-RateLimit headers; comment-dm waits for their reset" }
    ))
  } else if (pace > perHour) {
    checks.push(check(
      "request_limit",
      "problem",
      `pace.per_hour ${withSeparators(pace)} is above ${planName}'s request limit (${limits.requestsPerMinute} a ` +
        `minute, ${withSeparators(limits.requestsPer10Minutes ?? 0)} per 10 minutes: at most ` +
        `${withSeparators(perHour)} an hour), and every send is a request`,
      { fix: `set pace.per_hour to ${withSeparators(perHour)} or less (less still leaves room for reads)`, exit: 2 }
    ))
  } else if (pace > platformPacePerHour) {
    checks.push(check(
      "request_limit",
      "warning",
      `pace.per_hour ${withSeparators(pace)} is within ${planName}'s request limit (${withSeparators(perHour)} an ` +
        `hour) but above the ${platformPacePerHour} DMs an hour Upload-Post paces its own AutoDM at (it says Meta ` +
        "enforces it)",
      { fix: `set pace.per_hour to ${platformPacePerHour} or less` }
    ))
  } else {
    checks.push(check(
      "request_limit",
      "ok",
      `pace.per_hour ${pace} is within ${planName}'s request limit (${withSeparators(perHour)} an hour)`
    ))
  }
  const cap = limits.dailyDmCap
  if (cap === undefined) {
    checks.push(check("daily_cap", "warning", `${planName}'s daily DM cap is not known`, {
      fix: "at the cap the run stops with exit 3 and resumes after the daily reset (daily_reset)"
    }))
  } else if (pace * 24 > cap) {
    const hours = cap / pace
    checks.push(check(
      "daily_cap",
      "warning",
      `at ${pace} an hour the daily DM cap of ${withSeparators(cap)} (private and public replies count too) is ` +
        `reached after ${Duration.format(Duration.millis(Math.round(hours * 3_600_000)))}; the rest wait for the ` +
        "daily reset",
      { fix: "nothing to change: a run stops at the cap with exit 3 and the next run after daily_reset goes on" }
    ))
  } else {
    checks.push(check("daily_cap", "ok", `a day at ${pace} an hour stays within the daily DM cap of ${cap}`))
  }
  return checks
}

/** Post URLs name one post whatever the host spelling, trailing slash or query: Instagram's shortcode, else the path. */
export const urlKey = (text: string): string => {
  try {
    const url = new URL(text)
    const code = /\/(?:p|reel|reels|tv)\/([^/]+)/.exec(url.pathname)?.[1]
    return code ?? `${url.host.toLowerCase().replace(/^www\./, "")}${url.pathname.replace(/\/+$/, "")}`
  } catch {
    return text
  }
}

/** The one participant every conversation has (two at least): the account, when nobody told its id. */
const sharedParticipant = (conversations: ReadonlyArray<UploadPost.Conversation>): string | undefined => {
  const [first, ...rest] = conversations
  if (first === undefined || rest.length === 0) return undefined
  const shared = first.participantIds.filter((id) => rest.every((other) => other.participantIds.includes(id)))
  return shared.length === 1 ? shared[0] : undefined
}

/**
 * When each person last wrote to the account, from the conversations' messages. The account's own messages are told
 * apart by its id, else by being the one participant of every conversation; failing both, every sender counts (the
 * preview then errs towards DMs, which a run would see refused).
 */
export const lastMessages = (
  conversations: ReadonlyArray<UploadPost.Conversation>,
  knownAccountId: string | undefined
): Map<string, Date> => {
  const accountId = knownAccountId ?? sharedParticipant(conversations)
  const last = new Map<string, Date>()
  for (const conversation of conversations) {
    for (const message of conversation.messages) {
      const from = message.fromId
      if (from === undefined || from === accountId || message.createdTime === undefined) continue
      const before = last.get(from)
      if (before === undefined || message.createdTime > before) last.set(from, message.createdTime)
    }
  }
  return last
}

const sampleSize = 10

/** What `auto` would do for the matching people of the first pages, each person once (their newest comment). */
export const preview = (
  spec: CampaignSpec.CampaignSpec,
  pages: ReadonlyArray<{ readonly post: string; readonly comments: ReadonlyArray<UploadPost.Comment> }>,
  facts: {
    readonly now: Date
    readonly ownAccount: OwnAccount.OwnAccount | undefined
    readonly lastMessageAt: ReadonlyMap<string, Date>
    /** The people the ledger says no run messages: on the suppression list, or forgotten. */
    readonly suppressed?: ReadonlySet<string>
  }
): Preview => {
  const matcher = Matcher.compile(spec.match)
  const seen = new Set<string>()
  const skipped: Record<Reach.SkipReason, number> = { window_closed: 0, comment_too_old: 0, own_comment: 0 }
  const sample: Array<PreviewPerson> = []
  let dm = 0
  let privateReply = 0
  let suppressed = 0
  for (const page of pages) {
    for (const comment of page.comments) {
      const userId = comment.userId
      if (userId === undefined || userId === "" || seen.has(userId)) continue
      if (Option.isNone(Matcher.match(matcher, comment.text))) continue
      seen.add(userId)
      if (facts.suppressed?.has(userId) === true) {
        suppressed++
        if (sample.length < sampleSize) {
          sample.push({
            user_id: userId,
            username: comment.username ?? null,
            post: page.post,
            path: "suppressed",
            reason: null,
            until: null
          })
        }
        continue
      }
      const choice = Reach.choose({
        now: facts.now,
        lastMessageAt: facts.lastMessageAt.get(userId),
        commentTime: comment.timestamp,
        ownComment: facts.ownAccount !== undefined && OwnAccount.isOwn(facts.ownAccount, comment)
      }, { platform: spec.platform, delivery: "auto" })
      if (choice._tag === "Dm") dm++
      else if (choice._tag === "PrivateReply") privateReply++
      else skipped[choice.reason]++
      if (sample.length < sampleSize) {
        const until = choice._tag === "Dm"
          ? choice.windowEndsAt
          : choice._tag === "PrivateReply"
          ? choice.deadline
          : undefined
        sample.push({
          user_id: userId,
          username: comment.username ?? null,
          post: page.post,
          path: choice._tag === "Dm" ? "dm" : choice._tag === "PrivateReply" ? "private_reply" : "skipped",
          reason: choice._tag === "Skip" ? choice.reason : null,
          until: until?.toISOString() ?? null
        })
      }
    }
  }
  return { people: seen.size, dm, private_reply: privateReply, skipped, suppressed, sample }
}

/**
 * Problems decide the exit code: the key or the account first (4), then configuration (2), the daily limit (3), then
 * anything else (1).
 */
export const exitCodeOf = (checks: ReadonlyArray<Check>): ExitCode => {
  const codes = new Set(checks.filter((c) => c.status === "problem").map((c) => c.exit_code))
  for (const code of [ExitCode.Unauthorized, ExitCode.Configuration, ExitCode.DailyLimit, ExitCode.Failure]) {
    if (codes.has(code)) return code
  }
  return ExitCode.Settled
}

// ---------------------------------------------------------------------------------------------------------------
// The checks against the API

/** A doctor answers in seconds: one retry of a failed read, one short rate-limit wait. */
export const retryPolicy: Retry.RetryPolicy = {
  maxAttempts: 2,
  baseDelay: Duration.millis(500),
  maxDelay: Duration.seconds(1),
  maxElapsed: Duration.seconds(5),
  maxRateLimitWaits: 1,
  maxRateLimitWait: Duration.seconds(30)
}

type ReadError = UploadPostError.ReadError

/** The exit code and fix of a read that failed, whatever the check. */
const failure = (error: ReadError): { readonly exit: ExitCode; readonly fix: string } => {
  switch (error._tag) {
    case "Unauthorized":
      return {
        exit: ExitCode.Unauthorized,
        fix: "check UPLOAD_POST_API_KEY: copy the key again from the Upload-Post dashboard; repeated bad keys can " +
          "block the caller for minutes"
      }
    case "InvalidRequest":
      return { exit: ExitCode.Configuration, fix: "check the campaign's platform, user and posts" }
    case "DailyLimitReached":
      return { exit: ExitCode.DailyLimit, fix: "the daily DM limit answered a read: try again after the daily reset" }
    case "RateLimited":
      return { exit: ExitCode.Failure, fix: "the request-rate limit answered: try again after its reset" }
    case "Transient":
      return {
        exit: ExitCode.Failure,
        fix: "Upload-Post failed the request or did not answer: try again later; check UPLOAD_POST_BASE_URL"
      }
    case "MalformedResponse":
      return {
        exit: ExitCode.Failure,
        fix: "the answer does not fit Upload-Post's API: check UPLOAD_POST_BASE_URL points at the API"
      }
  }
}

const problemOf = (name: CheckName, error: ReadError, subject?: string): Check => {
  const { exit, fix } = failure(error)
  return check(name, "problem", error.message, { fix, exit, ...(subject === undefined ? {} : { subject }) })
}

const skipped = (name: CheckName, why: string, subject?: string): Check =>
  check(name, "skipped", `not checked: ${why}`, subject === undefined ? {} : { subject })

/** One read with the doctor's retries, its failure as a value. */
const read = <A>(effect: Effect.Effect<A, ReadError>) => Effect.either(Retry.retrying(effect, retryPolicy))

/** The profile: it answers, the platform's account is connected and needs no re-login; who the account is. */
const profileCheck = Effect.fn("Doctor.profile")(
  function*(api: UploadPost.UploadPost, spec: CampaignSpec.CampaignSpec) {
    const fromCampaign = OwnAccount.fromCampaign(spec)
    const answer = yield* read(api.profile({ user: spec.user }))
    if (answer._tag === "Left") {
      const error = answer.left
      const unknown = error._tag === "InvalidRequest"
      return {
        check: unknown
          ? check("profile", "problem", `profile ${JSON.stringify(spec.user)} did not answer: ${error.message}`, {
            fix:
              "set user: to the Upload-Post profile username (Upload-Post dashboard, Profiles), not the social @name",
            exit: ExitCode.Configuration
          })
          : problemOf("profile", error),
        ownAccount: fromCampaign,
        answered: false
      }
    }
    const profile = answer.right
    const account = profile.accounts?.get(spec.platform)
    const ownAccount = fromCampaign ?? OwnAccount.fromProfile(profile, spec.platform)
    if (profile.accounts !== undefined && account === undefined) {
      return {
        check: check("profile", "problem", `profile ${spec.user} has no ${spec.platform} account connected`, {
          fix: `connect the ${spec.platform} account to profile ${spec.user} in Upload-Post`,
          exit: ExitCode.Unauthorized
        }),
        ownAccount,
        answered: true
      }
    }
    if (account?.reauthRequired === true) {
      return {
        check: check(
          "profile",
          "problem",
          `the ${spec.platform} account of profile ${spec.user} must be connected again (reauth_required)`,
          { fix: `reconnect the ${spec.platform} account in the Upload-Post dashboard`, exit: ExitCode.Unauthorized }
        ),
        ownAccount,
        answered: true
      }
    }
    return {
      check: ownAccount === undefined
        ? check(
          "profile",
          "warning",
          `profile ${spec.user} answers, but does not tell its ${spec.platform} account: the account's own comments ` +
            "cannot be recognised",
          { fix: "add account: { user_id: ..., username: ... } to the campaign file" }
        )
        : check(
          "profile",
          "ok",
          `profile ${spec.user} answers; the account is ` +
            `${ownAccount.username === undefined ? "" : `@${ownAccount.username} `}(${
              ownAccount.userId ?? "id unknown"
            }` +
            `${ownAccount.source === "campaign" ? ", from the campaign file" : ""})`
        ),
      ownAccount,
      answered: true
    }
  }
)

interface PostRead {
  readonly check: Check
  readonly page: { readonly post: string; readonly comments: ReadonlyArray<UploadPost.Comment> } | undefined
}

/** Every post resolves: `recent` through `/media`, a URL among the recent posts, each one's first page of comments. */
const postChecks = Effect.fn("Doctor.posts")(function*(api: UploadPost.UploadPost, spec: CampaignSpec.CampaignSpec) {
  const { platform, user } = spec
  // Read once, for every post that needs it.
  let recent: Either.Either<ReadonlyArray<UploadPost.MediaItem>, ReadError> | undefined
  const recentPosts = Effect.suspend(() =>
    recent === undefined
      ? Effect.tap(read(api.media({ platform, user, limit: UploadPost.maxPageSize })), (answer) => (recent = answer))
      : Effect.succeed(recent)
  )
  const firstPage = (label: string, ref: UploadPost.PostRef, how: string) =>
    Effect.map(read(api.commentPage({ platform, user, post: ref }, Option.none())), (answer): PostRead => {
      if (answer._tag === "Left") {
        const error = answer.left
        return {
          check: error._tag === "InvalidRequest"
            ? check("post", "problem", `does not resolve: ${error.message}`, {
              subject: label,
              fix: `check that the post belongs to profile ${user} on ${platform}; use its id as the API lists it`,
              exit: ExitCode.Configuration
            })
            : problemOf("post", error, label),
          page: undefined
        }
      }
      const page = answer.right
      const more = Option.isSome(page.nextCursor) ? " (more pages follow)" : ""
      return {
        check: check("post", "ok", `resolves${how}: ${page.comments.length} comments on the first page${more}`, {
          subject: label
        }),
        page: { post: label, comments: page.comments }
      }
    })

  const reads: Array<PostRead> = []
  for (const post of spec.posts) {
    if (post._tag === "PostId") {
      reads.push(yield* firstPage(post.id, { postId: post.id }, ""))
    } else if (post._tag === "PostUrl") {
      const listed = yield* recentPosts
      if (Either.isLeft(listed)) {
        reads.push({ check: problemOf("post", listed.left, post.url), page: undefined })
        continue
      }
      const media = listed.right
      const found = media.find((item) => item.url !== undefined && urlKey(item.url) === urlKey(post.url))
      if (found === undefined) {
        reads.push({
          check: check(
            "post",
            "problem",
            `not among profile ${user}'s ${media.length} most recent posts: Upload-Post finds a post_url only among ` +
              "recent posts",
            { subject: post.url, fix: "name the post by its id instead of its URL", exit: ExitCode.Configuration }
          ),
          page: undefined
        })
        continue
      }
      reads.push(yield* firstPage(post.url, { postUrl: post.url }, ` (post id ${found.id})`))
    } else {
      const label = `recent:${post.count}`
      const listed = yield* recentPosts
      if (Either.isLeft(listed)) {
        reads.push({ check: problemOf("post", listed.left, label), page: undefined })
        continue
      }
      const media = listed.right.slice(0, post.count)
      if (media.length === 0) {
        reads.push({
          check: check("post", "warning", `finds no post of profile ${user} on ${platform}`, {
            subject: label,
            fix: "publish a post, or name posts by id"
          }),
          page: undefined
        })
        continue
      }
      for (const item of media) reads.push(yield* firstPage(item.id, { postId: item.id }, ` (${label})`))
    }
  }
  return reads
})

export const previewText = (preview: Preview): string => {
  const reasons = Object.entries(preview.skipped).filter(([, n]) => n > 0).map(([reason, n]) => `${n} ${reason}`)
  return `auto on the first page of each post: ${preview.people} matching people: ${preview.dm} by DM (their ` +
    `window is open), ${preview.private_reply} by private reply, ` +
    `${reasons.length === 0 ? "0 skipped" : `skipped ${reasons.join(", ")}`}` +
    (preview.suppressed > 0 ? `, ${preview.suppressed} suppressed (on the suppression list or forgotten)` : "")
}

/** Who a run would message none of, among these commenters: the ledger's answer; nobody without a ledger. */
export type Excluded = (
  people: ReadonlyArray<{ readonly userId: string; readonly username: string | undefined }>
) => Effect.Effect<ReadonlySet<string>, Ledger.LedgerError>

/** The report with its verdict, keys in the documented order. */
const finish = (report: Omit<Report, "ok" | "exit_code">): Report => {
  const exitCode = exitCodeOf(report.checks)
  return {
    campaign: report.campaign,
    platform: report.platform,
    user: report.user,
    ok: exitCode === ExitCode.Settled,
    exit_code: exitCode,
    checks: report.checks,
    account: report.account,
    conversations: report.conversations,
    limits: report.limits,
    preview: report.preview
  }
}

/** Runs every check against the API. Nothing is sent: only reads are made. */
export const diagnose = Effect.fn("Doctor.diagnose")(function*(
  spec: CampaignSpec.CampaignSpec,
  excluded: Excluded = () => Effect.succeed(new Set())
) {
  const api = yield* UploadPost.UploadPost
  const checks: Array<Check> = []
  const pace = spec.pace
  const me = yield* read(api.me)
  const base = {
    campaign: spec.name,
    platform: spec.platform,
    user: spec.user,
    conversations: null,
    preview: null
  }
  const limitsOf = (plan: string | undefined): Report["limits"] => {
    const limits = planLimits(plan)
    return {
      requests_per_minute: limits.requestsPerMinute ?? null,
      requests_per_10_minutes: limits.requestsPer10Minutes ?? null,
      daily_dm_cap: limits.dailyDmCap ?? null,
      pace_per_hour: pace.perHour,
      concurrency: pace.concurrency
    }
  }
  if (me._tag === "Left") {
    checks.push(problemOf("key", me.left))
    const why = me.left._tag === "Unauthorized" ? "the key was refused" : "the key could not be checked"
    for (const name of ["profile", "post", "conversations", "request_limit", "daily_cap", "preview"] as const) {
      checks.push(skipped(name, why))
    }
    return finish({ ...base, checks, account: null, limits: limitsOf(undefined) })
  }
  const account = me.right
  checks.push(check(
    "key",
    "ok",
    `the key is valid (${account.email ?? "no email given"}, plan ${account.plan ?? "not given"})`
  ))
  const profile = yield* profileCheck(api, spec)
  checks.push(profile.check)
  const accountJson = {
    email: account.email ?? null,
    plan: account.plan ?? null,
    user_id: profile.ownAccount?.userId ?? null,
    username: profile.ownAccount?.username ?? null,
    source: profile.ownAccount?.source ?? null
  }
  checks.push(...limitChecks(spec, account.plan))
  if (!profile.answered) {
    for (const name of ["post", "conversations", "preview"] as const) {
      checks.push(skipped(name, "the profile did not answer"))
    }
    return finish({ ...base, checks, account: accountJson, limits: limitsOf(account.plan) })
  }
  const posts = yield* postChecks(api, spec)
  checks.push(...posts.map((post) => post.check))
  const now = new Date(yield* Clock.currentTimeMillis)
  const conversations = yield* read(api.conversations({ platform: spec.platform, user: spec.user }))
  let lastMessageAt = new Map<string, Date>()
  if (conversations._tag === "Left") {
    checks.push(problemOf("conversations", conversations.left))
  } else {
    lastMessageAt = lastMessages(conversations.right, profile.ownAccount?.userId)
    const day = now.getTime() - Duration.toMillis(Reach.messagingWindow)
    const open = [...lastMessageAt.values()].filter((time) => time.getTime() > day).length
    checks.push(check(
      "conversations",
      "ok",
      `conversations are readable: ${conversations.right.length} conversations; ${open} people wrote to the account ` +
        "in the last 24 hours"
    ))
  }
  const pages = posts.flatMap((post) => post.page === undefined ? [] : [post.page])
  const commenters = new Map(
    pages.flatMap((page) =>
      page.comments.flatMap((comment) =>
        comment.userId === undefined || comment.userId === "" ? [] : [[comment.userId, comment.username] as const]
      )
    )
  )
  const suppressed = yield* excluded([...commenters].map(([userId, username]) => ({ userId, username })))
  const result = preview(spec, pages, { now, ownAccount: profile.ownAccount, lastMessageAt, suppressed })
  checks.push(check("preview", "ok", previewText(result)))
  return finish({
    ...base,
    checks,
    account: accountJson,
    limits: limitsOf(account.plan),
    conversations: conversations._tag === "Right" ? conversations.right.length : null,
    preview: result
  })
})

/** The report when the settings themselves are wrong (no key, a bad base URL): nothing could be asked. */
export const unconfigured = (spec: CampaignSpec.CampaignSpec, problem: string): Report =>
  finish({
    campaign: spec.name,
    platform: spec.platform,
    user: spec.user,
    checks: [
      check("key", "problem", problem, {
        fix: "export UPLOAD_POST_API_KEY (and UPLOAD_POST_BASE_URL for the sandbox) and run doctor again",
        exit: ExitCode.Configuration
      }),
      ...(["profile", "post", "conversations", "request_limit", "daily_cap", "preview"] as const).map((name) =>
        skipped(name, "the settings are incomplete")
      )
    ],
    account: null,
    conversations: null,
    limits: {
      requests_per_minute: null,
      requests_per_10_minutes: null,
      daily_dm_cap: null,
      pace_per_hour: spec.pace.perHour,
      concurrency: spec.pace.concurrency
    },
    preview: null
  })
