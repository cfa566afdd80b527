/**
 * The campaign file, version 1: its schema, its decoded form and the errors a bad file gets.
 *
 * The file is JSON- or YAML-shaped with snake_case keys; the decoded {@link CampaignSpec} has camelCase keys and
 * every default applied. Decoding checks everything that can be checked without the API: unknown keys anywhere,
 * types and ranges, post ids and URLs, templates (unknown variables, broken braces), the match spec (regex syntax,
 * keywords for the mode), and rules that span keys (private replies exist only on Instagram; a message whose fixed
 * text alone is over the platform's length). A spec that decodes is known good.
 */
import { Array as Arr, Data, Effect, Either, Option, ParseResult, Predicate, Schema } from "effect"
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Buttons from "./Buttons.js"
import { Platform, platforms } from "./internal/platform.js"
import { closest } from "./internal/suggest.js"
import * as Matcher from "./Matcher.js"
import * as Suppression from "./Suppression.js"
import * as Template from "./Template.js"

export { Platform }

const show = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (typeof value === "bigint") return String(value)
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/**
 * A message annotation "expected <what>, got <actual>". With `accepts`, inputs of the right shape (an object, a list)
 * report their inner problems instead, each at its own path.
 */
const expected = (what: string, accepts?: (input: unknown) => boolean) => ({
  message: (issue: ParseResult.ParseIssue) =>
    accepts?.(issue.actual) ?
      { message: "", override: false } :
      { message: `expected ${what}, got ${show(issue.actual)}`, override: true }
})

const oneOf = (literals: ReadonlyArray<string>) => ({
  message: (issue: ParseResult.ParseIssue) => {
    const hint = typeof issue.actual === "string" ?
      Option.match(closest(issue.actual, literals), { onNone: () => "", onSome: (s) => ` (did you mean "${s}"?)` }) :
      ""
    return {
      message: `expected one of ${literals.map((literal) => `"${literal}"`).join(", ")}, got ${
        show(issue.actual)
      }${hint}`,
      override: true
    }
  }
})

/** A problem at `path` below the value being decoded (at the value itself when the path is empty). */
const pointer = (
  path: ReadonlyArray<PropertyKey> | PropertyKey,
  actual: unknown,
  ast: Schema.Schema.AnyNoContext["ast"],
  message: string
): ParseResult.ParseIssue => {
  const type = new ParseResult.Type(ast, actual, message)
  if (typeof path !== "object") return new ParseResult.Pointer(path, actual, type)
  const [head, ...tail] = path
  return head === undefined ? type : new ParseResult.Pointer([head, ...tail], actual, type)
}

const composite = (
  ast: Schema.Schema.AnyNoContext["ast"],
  actual: unknown,
  issues: ReadonlyArray<ParseResult.ParseIssue>
): ParseResult.ParseIssue => {
  const [head, ...tail] = issues
  return head === undefined
    ? new ParseResult.Type(ast, actual)
    : new ParseResult.Composite(ast, actual, [head, ...tail])
}

const isObject = (input: unknown): boolean => Predicate.isRecord(input)
const isList = (input: unknown): boolean => Array.isArray(input)

/** A post named by its platform id. */
export const PostId = Schema.TaggedStruct("PostId", { id: Schema.String })
export type PostId = typeof PostId.Type

/** A post named by its https URL. */
export const PostUrl = Schema.TaggedStruct("PostUrl", { url: Schema.String })
export type PostUrl = typeof PostUrl.Type

/** The account's newest posts (`posts: recent` or `posts: { recent: N }`), looked up through /uploadposts/media. */
export const Recent = Schema.TaggedStruct("Recent", { count: Schema.Int })
export type Recent = typeof Recent.Type

/** How many newest posts `posts: recent` follows when no count is given. */
export const defaultRecentCount = 5

/** One entry of `posts`: a post by id or URL, or the account's newest posts. */
export const Post = Schema.Union(PostId, PostUrl, Recent)
export type Post = typeof Post.Type

const postIdPattern = /^[A-Za-z0-9_-]+$/

const classifyPost = (input: string | number | bigint): PostId | PostUrl | string => {
  if (typeof input === "bigint") {
    return input >= 0n ? { _tag: "PostId", id: String(input) } : `expected a post id or an https URL, got ${input}`
  }
  if (typeof input === "number") {
    if (Number.isSafeInteger(input) && input >= 0) return { _tag: "PostId", id: String(input) }
    return Number.isInteger(input) && input > 0 ?
      `${input} is too large to be exact as a number; write the post id as a string, in quotes` :
      `expected a post id or an https URL, got ${input}`
  }
  const text = input.trim()
  if (postIdPattern.test(text)) return { _tag: "PostId", id: text }
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) {
    let url: URL
    try {
      url = new URL(text)
    } catch {
      return `${show(input)} is not a valid URL`
    }
    if (url.protocol !== "https:") return `post URLs must use https, got ${show(input)}`
    return { _tag: "PostUrl", url: text }
  }
  return `expected a post id (letters, digits, "_" and "-") or an https URL, got ${show(input)}`
}

/** Entries with the same key name the same post: equal ids, or URLs equal but for a fragment or trailing slash. */
const postKey = (post: PostId | PostUrl): string => {
  if (post._tag === "PostId") return `id:${post.id}`
  const url = new URL(post.url)
  url.hash = ""
  return `url:${url.href.replace(/\/(?=$|\?)/, "")}`
}

const PostInput = Schema.Union(Schema.String, Schema.Number, Schema.BigIntFromSelf).annotations(
  expected("a post id or an https URL")
)

const PostList = Schema.Array(PostInput).annotations(
  expected("a list of post ids or URLs, or recent, or { recent: N }", isList)
)

/** `recent` or `{ recent: N }`: the count, or a message saying what is wrong. */
const recentCount = (input: unknown): number | string | undefined => {
  if (input === "recent") return defaultRecentCount
  if (!Predicate.isRecord(input) || !("recent" in input)) return undefined
  const extra = Object.keys(input).filter((key) => key !== "recent")
  if (extra.length > 0) return `unknown key ${show(extra[0])} beside recent`
  const count = input.recent
  return typeof count === "number" && Number.isInteger(count) && count >= 1 && count <= 50
    ? count
    : `recent: expected a number of posts from 1 to 50, got ${show(count)}`
}

const PostsFromInput = Schema.transformOrFail(
  Schema.Unknown,
  Schema.NonEmptyArray(Post),
  {
    strict: true,
    decode: (raw, options, ast) => {
      const recent = recentCount(raw)
      if (typeof recent === "number") {
        return ParseResult.succeed<NonEmptyReadonlyArray<Post>>([{ _tag: "Recent", count: recent }])
      }
      if (typeof recent === "string") return ParseResult.fail(new ParseResult.Type(ast, raw, recent))
      return Effect.flatMap(ParseResult.decodeUnknown(PostList)(raw, options), (inputs) => {
        if (inputs.length === 0) {
          return ParseResult.fail(new ParseResult.Type(ast, inputs, "expected at least one post id or URL, got []"))
        }
        const refs: Array<PostId | PostUrl> = []
        const issues: Array<ParseResult.ParseIssue> = []
        const seen = new Map<string, number>()
        inputs.forEach((input, index) => {
          const ref = classifyPost(input)
          if (typeof ref === "string") {
            issues.push(pointer(index, input, ast, ref))
            return
          }
          const key = postKey(ref)
          const first = seen.get(key)
          if (first !== undefined) {
            issues.push(pointer(index, input, ast, `duplicate of posts[${first}] (${show(inputs[first])})`))
            return
          }
          seen.set(key, index)
          refs.push(ref)
        })
        const [head, ...tail] = refs
        if (issues.length > 0 || head === undefined) return ParseResult.fail(composite(ast, inputs, issues))
        return ParseResult.succeed<NonEmptyReadonlyArray<Post>>([head, ...tail])
      })
    },
    encode: (posts) =>
      ParseResult.succeed(
        posts[0]._tag === "Recent"
          ? { recent: posts[0].count }
          : posts.flatMap((post) => post._tag === "PostId" ? [post.id] : post._tag === "PostUrl" ? [post.url] : [])
      )
  }
)

const Terms = (example: string) =>
  Schema.Array(Schema.String.annotations(expected("a string"))).annotations(
    expected(`a list of strings such as ${example}`, isList)
  )

/** `opt_out`: at least one word, none that folds to nothing (it would make every empty comment an opt-out). */
const OptOutWords = Terms("[stop, unsubscribe, remove]").pipe(
  Schema.filter((words) => {
    if (words.length === 0) return "expected at least one opt-out word, got []"
    const issues = words.flatMap((word, index) =>
      Suppression.foldWhole(word) === ""
        ? [{ path: [index], message: `expected a word, got ${show(word)} (nothing is left once folded)` }]
        : []
    )
    return issues.length === 0 ? undefined : issues
  })
)

const MatchInput = Schema.Struct({
  keywords: Schema.optionalWith(Terms("[guide, link]"), { exact: true }),
  mode: Schema.optionalWith(Matcher.Mode.annotations(oneOf(Matcher.Mode.literals)), { exact: true }),
  exclude: Schema.optionalWith(Terms("[stop]"), { exact: true })
}).annotations(expected("an object with keywords, mode and exclude", isObject))

const MatchFromInput = Schema.transformOrFail(MatchInput, Matcher.ValidMatchSpec, {
  strict: true,
  decode: (input, _, ast) => {
    const spec: Matcher.MatchSpec = {
      mode: input.mode ?? "word",
      keywords: input.keywords ?? [],
      exclude: input.exclude ?? []
    }
    const problems = Matcher.validate(spec)
    return problems.length === 0 ?
      ParseResult.succeed(Matcher.ValidMatchSpec.make(spec, { disableValidation: true })) :
      ParseResult.fail(composite(
        ast,
        input,
        problems.map((problem) => pointer(problem.path, input, ast, problem.message))
      ))
  },
  encode: (spec) => ParseResult.succeed({ keywords: spec.keywords, mode: spec.mode, exclude: spec.exclude })
})

const TemplateType = Schema.typeSchema(Template.FromString)

/** The control characters a message may not hold: all but tab, line feed and carriage return. */
const messageControl = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/

const MessageFromInput = Schema.transformOrFail(
  Schema.Union(Schema.String, Schema.Array(Schema.String)).annotations(
    expected("a message (a string) or a list of message variants (strings)")
  ),
  Schema.NonEmptyArray(TemplateType),
  {
    strict: true,
    decode: (input, _, ast) => {
      const sources = typeof input === "string" ? [input] : input
      if (sources.length === 0) {
        return ParseResult.fail(new ParseResult.Type(ast, input, "expected at least one message variant, got []"))
      }
      const templates: Array<Template.Template> = []
      const issues: Array<ParseResult.ParseIssue> = []
      sources.forEach((source, index) => {
        const path = typeof input === "string" ? [] : [index]
        if (source.trim() === "") {
          issues.push(pointer(path, source, ast, "is empty; write the message to send"))
          return
        }
        // Pasted text can carry NUL or a terminal escape; sent, it reaches the person as garbage or not at all.
        if (messageControl.test(source)) {
          issues.push(
            pointer(
              path,
              source,
              ast,
              "contains a control character (NUL, ESC...); a message may hold line breaks and tabs only"
            )
          )
          return
        }
        const parsed = Template.parse(source)
        if (parsed._tag === "Left") issues.push(pointer(path, source, ast, parsed.left.message))
        else templates.push(parsed.right)
      })
      const [head, ...tail] = templates
      if (issues.length > 0 || head === undefined) return ParseResult.fail(composite(ast, input, issues))
      return ParseResult.succeed<NonEmptyReadonlyArray<Template.Template>>([head, ...tail])
    },
    encode: (templates) =>
      ParseResult.succeed(templates.length === 1 ? templates[0].source : templates.map((template) => template.source))
  }
)

const ButtonType = Schema.declare(
  (input): input is Buttons.Button =>
    Predicate.isRecord(input) && typeof input.title === "string" && input.url instanceof Template.Template,
  { identifier: "Button" }
)

/** `buttons`: up to 3 `{ title, url }` on private replies, checked by {@link Buttons.check}. */
const ButtonsFromInput = Schema.transformOrFail(
  Schema.Array(
    Schema.Struct({
      title: Schema.String.annotations(expected("a string")),
      url: Schema.String.annotations(expected("an https URL (a string)"))
    }).annotations(expected("an object with title and url", isObject))
  ).annotations(expected("a list of buttons such as [{ title: \"Get the guide\", url: \"https://...\" }]", isList)),
  Schema.Array(ButtonType),
  {
    strict: true,
    decode: (input, _, ast) =>
      Either.match(Buttons.check(input), {
        onRight: (buttons) => ParseResult.succeed(buttons),
        onLeft: (problems) =>
          ParseResult.fail(
            composite(ast, input, problems.map((problem) => pointer(problem.path, input, ast, problem.message)))
          )
      }),
    encode: (buttons) => ParseResult.succeed(buttons.map((button) => ({ title: button.title, url: button.url.source })))
  }
)

/**
 * How the first message reaches a person: `auto` (the default) picks per person on Instagram (a DM inside their 24-hour
 * window, else a private reply within 7 days of their comment, else a skip with the reason); `dm` and `private_reply`
 * always take that path. Elsewhere `auto` means `dm`.
 */
export const Delivery = Schema.Literal("auto", "dm", "private_reply")
export type Delivery = typeof Delivery.Type

/** What `delivery` comes to on the campaign's platform: `auto` picks per person only on Instagram. */
export const deliveryOf = (spec: { readonly delivery: Delivery; readonly platform: string }): Delivery =>
  spec.delivery === "auto" && spec.platform !== "instagram" ? "dm" : spec.delivery

const NonEmptyTrimmed = Schema.Trim.pipe(Schema.nonEmptyString()).annotations(expected("a non-empty string"))

export const Pace = Schema.Struct({
  /** Sends per hour, at most. */
  perHour: Schema.optionalWith(Schema.Int.pipe(Schema.positive()).annotations(expected("a positive integer")), {
    exact: true,
    default: () => 200
  }).pipe(Schema.fromKey("per_hour")),
  /** Sends in flight at once. */
  concurrency: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 32)).annotations(expected("an integer from 1 to 32")),
    { exact: true, default: () => 4 }
  )
}).annotations(expected("an object with per_hour and concurrency", isObject))
export type Pace = typeof Pace.Type

const defaultPace: Pace = { perHour: 200, concurrency: 4 }

const PlanLimit = Schema.Int.pipe(Schema.between(1, 1_000_000)).annotations(
  expected("a positive integer (at most 1000000)")
)

/**
 * `api_plan`: the Upload-Post plan's request limits of the campaign's key (see `RequestBudget`); each one absent is
 * learned from the answers' `X-RateLimit-Limit` (10 minutes: 5 × a minute), and there is no per-profile limit unless
 * given. Campaigns that share a key share one budget, under the tightest of their plans.
 */
export const ApiPlan = Schema.Struct({
  perMinute: Schema.optionalWith(PlanLimit, { exact: true }).pipe(Schema.fromKey("per_minute")),
  perTenMinutes: Schema.optionalWith(PlanLimit, { exact: true }).pipe(Schema.fromKey("per_10_minutes")),
  perProfilePerMinute: Schema.optionalWith(PlanLimit, { exact: true }).pipe(Schema.fromKey("per_profile_per_minute"))
}).annotations(expected("an object with per_minute, per_10_minutes and per_profile_per_minute", isObject))
export type ApiPlan = typeof ApiPlan.Type

/**
 * When the platform's daily DM count is assumed to start over (Upload-Post does not document it): at a time of day in
 * UTC (`"00:00 UTC"`, the default), or `rolling`, 24 hours after the limit was reached.
 */
export const DailyReset = Schema.Union(
  Schema.TaggedStruct("UtcTime", { minutes: Schema.Int.pipe(Schema.between(0, 24 * 60 - 1)) }),
  Schema.TaggedStruct("Rolling", {})
)
export type DailyReset = typeof DailyReset.Type

const defaultDailyReset: DailyReset = { _tag: "UtcTime", minutes: 0 }

const dailyResetWanted = `"HH:MM UTC" (such as "00:00 UTC") or "rolling"`

const DailyResetFromInput = Schema.transformOrFail(
  Schema.String.annotations(expected(dailyResetWanted)),
  DailyReset,
  {
    strict: true,
    decode: (input, _, ast) => {
      if (input === "rolling") return ParseResult.succeed({ _tag: "Rolling" as const })
      const time = /^([01]\d|2[0-3]):([0-5]\d) UTC$/.exec(input)
      if (time === null) {
        return ParseResult.fail(new ParseResult.Type(ast, input, `expected ${dailyResetWanted}, got ${show(input)}`))
      }
      return ParseResult.succeed({ _tag: "UtcTime" as const, minutes: Number(time[1]) * 60 + Number(time[2]) })
    },
    encode: (reset) =>
      ParseResult.succeed(
        reset._tag === "Rolling"
          ? "rolling"
          : `${String(Math.floor(reset.minutes / 60)).padStart(2, "0")}:${
            String(reset.minutes % 60).padStart(2, "0")
          } UTC`
      )
  }
)

/**
 * The account itself, for a platform that does not tell it through the profile (`GET /uploadposts/users/{profile}`):
 * its own comments never match. `userId` is its platform user id, `username` its @name (without the @).
 */
export const OwnAccount = Schema.Struct({
  userId: Schema.optionalWith(Schema.String, { exact: true }),
  username: Schema.optionalWith(Schema.String, { exact: true })
})
export type OwnAccount = typeof OwnAccount.Type

const accountIdPattern = /^[A-Za-z0-9_-]{1,100}$/
const accountNamePattern = /^[\p{L}\p{N}._-]{1,100}$/u

const OwnAccountFromInput = Schema.transformOrFail(
  Schema.Struct({
    user_id: Schema.optionalWith(Schema.Unknown, { exact: true }),
    username: Schema.optionalWith(Schema.Unknown, { exact: true })
  }).annotations(expected("an object with user_id, username or both", isObject)),
  OwnAccount,
  {
    strict: true,
    decode: (input, _, ast) => {
      const issues: Array<ParseResult.ParseIssue> = []
      const id = input.user_id
      const userId = typeof id === "bigint" || (typeof id === "number" && Number.isSafeInteger(id) && id >= 0)
        ? String(id)
        : typeof id === "string" && accountIdPattern.test(id.trim())
        ? id.trim()
        : undefined
      if (id !== undefined && userId === undefined) {
        issues.push(
          pointer(
            "user_id",
            id,
            ast,
            `expected the account's user id (digits, such as "17841400000000000"), got ${show(id)}`
          )
        )
      }
      const name = input.username
      const username = typeof name === "string" && accountNamePattern.test(name.trim().replace(/^@/, ""))
        ? name.trim().replace(/^@/, "")
        : undefined
      if (name !== undefined && username === undefined) {
        issues.push(
          pointer(
            "username",
            name,
            ast,
            `expected the account's @name (letters, digits, ".", "_" and "-"), got ${show(name)}`
          )
        )
      }
      if (id === undefined && name === undefined) {
        issues.push(pointer([], input, ast, "expected user_id, username or both, got {}"))
      }
      if (issues.length > 0) return ParseResult.fail(composite(ast, input, issues))
      return ParseResult.succeed({
        ...(userId === undefined ? {} : { userId }),
        ...(username === undefined ? {} : { username })
      })
    },
    encode: (account) =>
      ParseResult.succeed({
        ...(account.userId === undefined ? {} : { user_id: account.userId }),
        ...(account.username === undefined ? {} : { username: account.username })
      })
  }
)

const dayMillis = 24 * 60 * 60 * 1000

/** The first moment after `reachedAt` (epoch milliseconds) when the daily DM count is assumed to start over. */
export const assumedReset = (reset: DailyReset, reachedAt: number): number => {
  if (reset._tag === "Rolling") return reachedAt + dayMillis
  const dayStart = reachedAt - (((reachedAt % dayMillis) + dayMillis) % dayMillis)
  const today = dayStart + reset.minutes * 60_000
  return today > reachedAt ? today : today + dayMillis
}

const unitMillis = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const

const withinWanted = `a duration such as "7d", "48h" or "90m" (m, h, d or w; from 1 minute to 365 days)`

/** `follow_up.within`: a whole number of minutes, hours, days or weeks, as epoch-free milliseconds. */
const WithinFromInput = Schema.transformOrFail(Schema.String.annotations(expected(withinWanted)), Schema.Number, {
  strict: true,
  decode: (input, _, ast) => {
    const found = /^\s*(\d{1,6})\s*(m|h|d|w)\s*$/.exec(input)
    const millis = found === null ? Number.NaN : Number(found[1]) * unitMillis[found[2] as keyof typeof unitMillis]
    return millis >= unitMillis.m && millis <= 365 * unitMillis.d
      ? ParseResult.succeed(millis)
      : ParseResult.fail(new ParseResult.Type(ast, input, `expected ${withinWanted}, got ${show(input)}`))
  },
  encode: (millis) => {
    const unit = (["w", "d", "h"] as const).find((name) => millis % unitMillis[name] === 0) ?? "m"
    return ParseResult.succeed(`${Math.round(millis / unitMillis[unit])}${unit}`)
  }
})

/** How long after a private reply a person's message to the account still brings the follow-up, by default. */
export const defaultFollowUpWithin = 7 * dayMillis

/** A step's key given as a bare message (a text or a list of variants) means `{ message: ... }`. */
const bareMessage = (what: string) =>
  Schema.transform(Schema.Unknown, Schema.Unknown, {
    strict: true,
    decode: (input) => typeof input === "string" || Array.isArray(input) ? { message: input } : input,
    encode: (input) => input
  }).annotations({ identifier: what })

const FollowUpFields = Schema.Struct({
  messages: MessageFromInput.pipe(Schema.propertySignature, Schema.fromKey("message")),
  /** Milliseconds after the private reply during which the person's message brings the follow-up. */
  within: Schema.optionalWith(WithinFromInput, { exact: true, default: () => defaultFollowUpWithin }),
  /** Keywords the person's message must match (the campaign's match mode); absent: any message but an opt-out. */
  when: Schema.optionalWith(Terms("[yes, link]"), { exact: true })
}).annotations(expected("an object with message, within and when, or a message", isObject))

/** `follow_up`: a DM sent once when the person writes to the account after their private reply. */
export const FollowUp = Schema.compose(bareMessage("follow_up"), FollowUpFields, { strict: false })
export type FollowUp = typeof FollowUp.Type

const PublicReplyFields = Schema.Struct({
  messages: MessageFromInput.pipe(Schema.propertySignature, Schema.fromKey("message")),
  /** Public replies per hour, at most; absent: a fifth of `pace.per_hour` (see {@link publicReplyPerHour}). */
  perHour: Schema.optionalWith(Schema.Int.pipe(Schema.positive()).annotations(expected("a positive integer")), {
    exact: true
  }).pipe(Schema.fromKey("per_hour"))
}).annotations(expected("an object with message and per_hour, or a message", isObject))

/** `public_reply`: a comment under the person's comment, once their first message was sent. */
export const PublicReply = Schema.compose(bareMessage("public_reply"), PublicReplyFields, { strict: false })
export type PublicReply = typeof PublicReply.Type

/** The public replies' own pace: `per_hour`, else a fifth of the campaign's (identical comments at volume look like spam). */
export const publicReplyPerHour = (spec: { readonly pace: Pace; readonly publicReply?: PublicReply | undefined }) =>
  spec.publicReply?.perHour ?? Math.max(1, Math.floor(spec.pace.perHour / 5))

/** The match spec `follow_up.when` is checked with: the campaign's mode (`word` for `any`), no exclusions. */
export const followUpWhen = (
  match: Matcher.MatchSpec,
  when: ReadonlyArray<string>
): Matcher.MatchSpec => ({ mode: match.mode === "any" ? "word" : match.mode, keywords: when, exclude: [] })

/**
 * `since`: the comments a campaign considers, from a time on (older ones are dropped before matching): `start`, the
 * campaign's first run as the ledger recorded it, or a date (its start, UTC) or date and time with a zone.
 */
export const Since = Schema.Union(
  Schema.TaggedStruct("Start", {}),
  Schema.TaggedStruct("At", { at: Schema.DateFromSelf })
)
export type Since = typeof Since.Type

const dateWanted =
  `a date such as "2026-12-31" (UTC) or a date and time with its zone such as "2026-12-31T18:00:00Z" ` +
  `or "2026-12-31T18:00:00+02:00"`

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/
const dateTimePattern =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?$/i

/** The instant a date text names (a bare date: its start, or with `endOfDay` its end, in UTC), or why it names none. */
export const parseInstant = (input: unknown, endOfDay: boolean): Date | string => {
  if (input instanceof Date) {
    return Number.isNaN(input.getTime())
      ? `expected ${dateWanted}, got an invalid Date`
      : input
  }
  if (typeof input !== "string") return `expected ${dateWanted}, got ${show(input)}`
  const text = input.trim()
  const day = datePattern.exec(text)
  const time = day === null ? dateTimePattern.exec(text) : null
  const parts = day ?? time
  if (parts === null) return `expected ${dateWanted}, got ${show(input)}`
  const field = (index: number): number => Number(parts[index] ?? 0)
  const [year, month, date, hour, minute, second, fraction] = [1, 2, 3, 4, 5, 6, 7].map(field) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number
  ]
  const utc = Date.UTC(
    year,
    month - 1,
    date,
    hour,
    minute,
    second,
    Math.round(fraction * 10 ** (3 - (parts[7]?.length ?? 3)))
  )
  const check = new Date(utc)
  if (
    check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== date ||
    hour > 23 || minute > 59 || second > 59
  ) {
    return `${show(input)} is not a date of the calendar`
  }
  if (day !== null) return new Date(endOfDay ? utc + dayMillis : utc)
  const zone = time?.[8]
  if (zone === undefined) {
    return `${show(input)} has no time zone: add Z for UTC or an offset such as +02:00`
  }
  if (zone.toUpperCase() === "Z") return check
  const offset = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)
  const sign = offset?.[1] === "-" ? -1 : 1
  const offsetMinutes = Number(offset?.[2] ?? 0) * 60 + Number(offset?.[3] ?? 0)
  if (offsetMinutes > 14 * 60) return `${show(input)} has an offset beyond ±14:00`
  return new Date(utc - sign * offsetMinutes * 60_000)
}

const instantFromInput = (what: string, endOfDay: boolean) =>
  Schema.transformOrFail(Schema.Unknown, Schema.DateFromSelf, {
    strict: true,
    decode: (input, _, ast) => {
      const at = parseInstant(input, endOfDay)
      return typeof at === "string"
        ? ParseResult.fail(new ParseResult.Type(ast, input, at))
        : ParseResult.succeed(at)
    },
    encode: (at) => ParseResult.succeed(at.toISOString())
  }).annotations({ description: what })

const SinceFromInput = Schema.transformOrFail(Schema.Unknown, Since, {
  strict: true,
  decode: (input, _, ast) => {
    if (input === "start") return ParseResult.succeed({ _tag: "Start" as const })
    const at = parseInstant(input, false)
    return typeof at === "string"
      ? ParseResult.fail(
        new ParseResult.Type(ast, input, `${at.replace(/^expected /, "expected start (the campaign's first run) or ")}`)
      )
      : ParseResult.succeed({ _tag: "At" as const, at })
  },
  encode: (since) => ParseResult.succeed(since._tag === "Start" ? "start" : since.at.toISOString())
})

/** `until`: a bare date ends with its day (UTC); a date and time ends there. */
const UntilFromInput = instantFromInput("until", true)

/** The environment variable a campaign's key is read from when its file names none. */
export const defaultApiKeyEnv = "UPLOAD_POST_API_KEY"

const apiKeyEnvWanted =
  "the name of the environment variable that holds the key (capital letters, digits and _, such as " +
  "UPLOAD_POST_API_KEY_CLIENT_A)"

/**
 * Whether a value given as a variable name is more likely the key itself: long, with digits, and without the `_` that
 * joins the words of a name. An uppercase key is rare, but a pasted one must never be taken for a name and logged.
 */
const looksLikeKey = (text: string): boolean => text.length >= 24 && /\d/.test(text) && !text.includes("_")

/**
 * `api_key_env`: the name of an environment variable, never the key itself. The value is never quoted back: a key
 * pasted here would otherwise end up in every log that shows the error.
 */
const ApiKeyEnv = Schema.String.annotations({
  message: () => `expected ${apiKeyEnvWanted} (the value given is not shown)`
}).pipe(
  Schema.filter((text) =>
    /^[A-Z_][A-Z0-9_]{0,127}$/.test(text) && !looksLikeKey(text)
      ? undefined
      : /^[A-Za-z_][A-Za-z_]{0,22}$/.test(text)
      ? `expected ${apiKeyEnvWanted}; write the name in capitals`
      : `expected ${apiKeyEnvWanted}, not the key itself: put the key in that variable and never in the campaign ` +
        "file (the value given is not shown)"
  )
)

const fields = Schema.Struct({
  /** The ledger key: the same name is the same campaign, and a rerun resumes it. Trimmed. */
  name: NonEmptyTrimmed,
  platform: Platform.annotations(oneOf(platforms)),
  /** The Upload-Post profile username. */
  user: NonEmptyTrimmed,
  posts: PostsFromInput,
  /** Absent: every commenter. */
  match: Schema.optionalWith(MatchFromInput, { exact: true, default: () => Matcher.everyone }),
  /** The `message` key: one or more variants; each recipient gets one, picked by {@link Template.pick}. */
  messages: MessageFromInput.pipe(Schema.propertySignature, Schema.fromKey("message")),
  delivery: Schema.optionalWith(Delivery.annotations(oneOf(Delivery.literals)), { exact: true, default: () => "auto" }),
  /** Buttons on private replies; absent: none (so that a file without them keeps its recorded fingerprint). */
  buttons: Schema.optionalWith(ButtonsFromInput, { exact: true }),
  pace: Schema.optionalWith(Pace, { exact: true, default: () => defaultPace }),
  /** The account itself (its own comments never match); absent: as the profile tells it. */
  account: Schema.optionalWith(OwnAccountFromInput, { exact: true }),
  followUp: Schema.optionalWith(FollowUp, { exact: true }).pipe(Schema.fromKey("follow_up")),
  publicReply: Schema.optionalWith(PublicReply, { exact: true }).pipe(Schema.fromKey("public_reply")),
  dailyReset: Schema.optionalWith(DailyResetFromInput, { exact: true, default: () => defaultDailyReset }).pipe(
    Schema.fromKey("daily_reset")
  ),
  /**
   * Whole messages or comments that put the person on the profile's suppression list (see `Suppression`); absent:
   * the defaults ({@link optOutOf}), left out of the file's recorded version so that older files keep theirs.
   */
  optOut: Schema.optionalWith(OptOutWords, { exact: true }).pipe(Schema.fromKey("opt_out")),
  /** A cap on sends for one run. */
  maxSends: Schema.optionalWith(Schema.NonNegativeInt.annotations(expected("a non-negative integer")), {
    exact: true
  }).pipe(Schema.fromKey("max_sends")),
  /** Comments older than this are dropped before matching (see {@link Since}). */
  since: Schema.optionalWith(SinceFromInput, { exact: true }),
  /** After this instant the campaign reaches nobody new, and a watcher stops. */
  until: Schema.optionalWith(UntilFromInput, { exact: true }),
  /**
   * `false` pauses the campaign: nothing is read or sent until it is `true` again. Absent means `true` (no default is
   * written, so that a file without it keeps its recorded version).
   */
  active: Schema.optionalWith(Schema.Boolean.annotations(expected("true or false")), { exact: true }),
  /** The environment variable that holds the campaign's key (absent: {@link defaultApiKeyEnv}). */
  apiKeyEnv: Schema.optionalWith(ApiKeyEnv, { exact: true }).pipe(Schema.fromKey("api_key_env")),
  /** The key's request limits (absent: learned from the answers). */
  apiPlan: Schema.optionalWith(ApiPlan, { exact: true }).pipe(Schema.fromKey("api_plan"))
}).annotations(expected("a campaign: an object with name, platform, user, posts and message", isObject))

const crossChecks = (spec: typeof fields.Type): Array<Schema.FilterIssue> => {
  const issues: Array<Schema.FilterIssue> = []
  if (spec.delivery === "private_reply" && spec.platform !== "instagram") {
    issues.push({
      path: ["delivery"],
      message: `private_reply works only on instagram; use delivery "dm" on ${spec.platform}`
    })
  }
  const checkLengths = (messages: ReadonlyArray<Template.Template>, at: ReadonlyArray<string>) =>
    messages.forEach((template, index) => {
      const problem = Template.checkLength(spec.platform, Template.staticText(template))
      if (problem._tag === "Left") {
        issues.push({
          path: messages.length === 1 ? [...at, "message"] : [...at, "message", index],
          message: `its fixed text alone is too long: ${problem.left}`
        })
      }
    })
  checkLengths(spec.messages, [])
  if (spec.followUp !== undefined) checkLengths(spec.followUp.messages, ["follow_up"])
  if (spec.publicReply !== undefined) checkLengths(spec.publicReply.messages, ["public_reply"])
  if (spec.followUp?.when !== undefined) {
    for (const problem of Matcher.validate(followUpWhen(spec.match, spec.followUp.when))) {
      const [, ...index] = problem.path
      issues.push({ path: ["follow_up", "when", ...index], message: problem.message })
    }
  }
  if (spec.since?._tag === "At" && spec.until !== undefined && spec.since.at.getTime() >= spec.until.getTime()) {
    issues.push({
      path: ["until"],
      message: `ends at ${spec.until.toISOString()}, not after since (${spec.since.at.toISOString()}): the campaign ` +
        "would reach nobody"
    })
  }
  return issues
}

/** The campaign's opt-out words: its `opt_out`, else STOP, UNSUBSCRIBE and REMOVE. */
export const optOutOf = (spec: { readonly optOut?: ReadonlyArray<string> | undefined }): ReadonlyArray<string> =>
  spec.optOut ?? Suppression.defaultOptOutWords

/** The campaign file schema: decodes the file's shape (snake_case) into a {@link CampaignSpec}. */
export const CampaignSpec = fields.pipe(Schema.filter(crossChecks))

/** A decoded campaign, defaults applied. */
export type CampaignSpec = typeof CampaignSpec.Type

/**
 * `posts` as written in a campaign file: post ids (strings, or numbers as YAML reads long digits) and URLs, or the
 * account's newest posts. The schema decodes from `unknown` so that each wrong entry gets its own message.
 */
export type PostsInput = ReadonlyArray<string | number | bigint> | "recent" | { readonly recent: number }

/** A campaign as written in a file, before decoding: what {@link make} takes. */
export type Input = Omit<typeof CampaignSpec.Encoded, "posts"> & { readonly posts: PostsInput }

/** One problem in a campaign, at a key path such as `pace.per_hour` or `posts[2]` (empty for the whole campaign). */
export interface Issue {
  readonly path: string
  readonly message: string
}

const formatIssue = (issue: Issue): string => issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`

/** A campaign that does not decode. `message` lists every problem with the path of its key. */
export class CampaignSpecError extends Data.TaggedError("CampaignSpecError")<{
  readonly issues: NonEmptyReadonlyArray<Issue>
}> {
  override get message(): string {
    if (this.issues.length === 1) return formatIssue(this.issues[0])
    return `${this.issues.length} problems:\n${this.issues.map((issue) => `  - ${formatIssue(issue)}`).join("\n")}`
  }
}

/** The keys each object of the file may have, by its path, for "did you mean" on an unknown key. */
const knownKeys: Record<string, ReadonlyArray<string>> = {
  "": [
    "name",
    "platform",
    "user",
    "posts",
    "match",
    "message",
    "delivery",
    "buttons",
    "pace",
    "account",
    "follow_up",
    "public_reply",
    "daily_reset",
    "opt_out",
    "max_sends",
    "since",
    "until",
    "active",
    "api_key_env",
    "api_plan"
  ],
  account: ["user_id", "username"],
  buttons: ["title", "url"],
  match: ["keywords", "mode", "exclude"],
  follow_up: ["message", "within", "when"],
  public_reply: ["message", "per_hour"],
  pace: ["per_hour", "concurrency"],
  api_plan: ["per_minute", "per_10_minutes", "per_profile_per_minute"]
}

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (out, key) => typeof key === "number" ? `${out}[${key}]` : out === "" ? String(key) : `${out}.${String(key)}`,
    ""
  )

const toIssue = (issue: ParseResult.ArrayFormatterIssue): Issue => {
  switch (issue._tag) {
    case "Unexpected": {
      const parent = formatPath(issue.path.slice(0, -1))
      const key = String(issue.path[issue.path.length - 1])
      // A key of a list's item is looked up by the list's path: `buttons[1]` by `buttons`.
      const hint = Option.match(closest(key, knownKeys[parent.replace(/\[\d+\]$/, "")] ?? []), {
        onNone: () => "",
        onSome: (known) => ` (did you mean "${known}"?)`
      })
      return { path: parent, message: `unknown key ${show(key)}${hint}` }
    }
    case "Missing":
      return { path: formatPath(issue.path), message: "required key is missing" }
    default:
      return { path: formatPath(issue.path), message: issue.message }
  }
}

const toError = (error: ParseResult.ParseError): CampaignSpecError => {
  const seen = new Set<string>()
  const issues: Array<Issue> = []
  for (const formatted of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const issue = toIssue(formatted)
    const key = formatIssue(issue)
    if (!seen.has(key)) {
      seen.add(key)
      issues.push(issue)
    }
  }
  const [head, ...tail] = issues
  return new CampaignSpecError({
    issues: head === undefined ? [{ path: "", message: error.message }] : [head, ...tail]
  })
}

const decodeUnknown = Schema.decodeUnknown(CampaignSpec, { errors: "all", onExcessProperty: "error" })

/** Decodes a parsed campaign file (a JSON or YAML value), reporting every problem at once. */
export const decode = (input: unknown): Effect.Effect<CampaignSpec, CampaignSpecError> =>
  Effect.mapError(decodeUnknown(input), toError)

/** Builds a campaign in code from the same shape as the file, with the same checks and defaults. */
export const make = (input: Input): Effect.Effect<CampaignSpec, CampaignSpecError> => decode(input)

/** The message of a campaign in code: one text, or variants (each recipient gets one). */
export type MessageInput =
  | { readonly message: string | ReadonlyArray<string>; readonly messages?: undefined }
  | { readonly messages: ReadonlyArray<string>; readonly message?: undefined }

/**
 * A campaign as code writes it: the decoded spec's camelCase names, typed; what is absent gets the file's default.
 * `dailyReset` is `"HH:MM UTC"` or `"rolling"`; `account` is the account's own user id, @name or both.
 */
export type CodeInput = MessageInput & {
  readonly name: string
  readonly platform: Platform
  readonly user: string
  readonly posts: PostsInput
  readonly match?: Matcher.MatchInput
  readonly delivery?: Delivery
  readonly buttons?: ReadonlyArray<Buttons.Input>
  readonly pace?: { readonly perHour?: number; readonly concurrency?: number }
  readonly dailyReset?: `${string} UTC` | "rolling"
  readonly maxSends?: number
  /** Whole messages or comments that opt a person out (default STOP, UNSUBSCRIBE, REMOVE). */
  readonly optOut?: ReadonlyArray<string>
  readonly apiKeyEnv?: string
  readonly apiPlan?: {
    readonly perMinute?: number
    readonly perTenMinutes?: number
    readonly perProfilePerMinute?: number
  }
  readonly account?: { readonly userId?: string; readonly username?: string }
  /** `within` as the file writes it ("7d"); a bare message is accepted as `message`. */
  readonly followUp?:
    | string
    | ReadonlyArray<string>
    | {
      readonly message: string | ReadonlyArray<string>
      readonly within?: string
      readonly when?: ReadonlyArray<string>
    }
  readonly publicReply?:
    | string
    | ReadonlyArray<string>
    | { readonly message: string | ReadonlyArray<string>; readonly perHour?: number }
  /** `"start"`, a date (`"2026-12-31"`), a date and time with its zone, or a `Date`. */
  readonly since?: string | Date
  /** A date (its day included), a date and time with its zone, or a `Date`. */
  readonly until?: string | Date
  readonly active?: boolean
}

/** The file's keys as code names them, for the problems of a campaign built by {@link fromCode}. */
const codeKeys: Readonly<Record<string, string>> = {
  per_hour: "perHour",
  daily_reset: "dailyReset",
  max_sends: "maxSends",
  opt_out: "optOut",
  api_key_env: "apiKeyEnv",
  api_plan: "apiPlan",
  per_minute: "perMinute",
  per_10_minutes: "perTenMinutes",
  per_profile_per_minute: "perProfilePerMinute",
  user_id: "userId",
  follow_up: "followUp",
  public_reply: "publicReply"
}

const codeNames = (text: string): string => text.replace(/\b[a-z]+(?:_[a-z0-9]+)+\b/g, (key) => codeKeys[key] ?? key)

/**
 * A problem as code names it: its path and the keys its words name (an unknown key's hint, "expected an object with
 * per_hour..."), but not the value it quotes after "got".
 */
const codeIssue = (messageKey: string) => (issue: Issue): Issue => {
  const got = issue.message.indexOf(", got ")
  const words = got < 0 ? issue.message : issue.message.slice(0, got)
  return {
    path: codeNames(issue.path.replace(/^message\b/, messageKey)),
    message: codeNames(words) + issue.message.slice(words.length)
  }
}

/** Only the keys given: an absent one takes the file's default rather than failing as `undefined`. */
const present = (entries: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined))

/**
 * Builds a campaign in code from its camelCase form: the checks, defaults and errors of the file decoder (the same
 * {@link CampaignSpecError}, its paths named as code names them: `pace.perHour`, `maxSends`, `messages[1]`). Keys
 * it does not know (from untyped code) are refused as the file's are.
 */
export const fromCode = (input: CodeInput): Effect.Effect<CampaignSpec, CampaignSpecError> => {
  // Untyped code may pass anything: what is not an object gets the decoder's own message.
  if (!isObject(input)) return decode(input)
  const {
    account,
    apiKeyEnv,
    apiPlan,
    dailyReset,
    followUp,
    maxSends,
    message,
    messages,
    optOut,
    pace,
    publicReply,
    ...rest
  } = input
  const { perMinute, perProfilePerMinute, perTenMinutes, ...restPlan } = apiPlan ?? {}
  const { concurrency, perHour, ...restPace } = pace ?? {}
  const { userId, ...restAccount } = account ?? {}
  const replyObject = typeof publicReply === "object" && "message" in publicReply ? publicReply : undefined
  const { perHour: repliesPerHour, ...restReply } = replyObject ?? {}
  return decode(present({
    ...rest,
    message: messages ?? message,
    pace: isObject(pace) ? present({ ...restPace, per_hour: perHour, concurrency }) : pace,
    account: isObject(account) ? present({ ...restAccount, user_id: userId }) : account,
    daily_reset: dailyReset,
    opt_out: optOut,
    max_sends: maxSends,
    follow_up: followUp,
    public_reply: replyObject === undefined ? publicReply : present({ ...restReply, per_hour: repliesPerHour }),
    api_key_env: apiKeyEnv,
    api_plan: isObject(apiPlan)
      ? present({
        ...restPlan,
        per_minute: perMinute,
        per_10_minutes: perTenMinutes,
        per_profile_per_minute: perProfilePerMinute
      })
      : apiPlan
  })).pipe(
    Effect.mapError((error) =>
      new CampaignSpecError({
        issues: Arr.map(error.issues, codeIssue(messages === undefined ? "message" : "messages"))
      })
    )
  )
}
