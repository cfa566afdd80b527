/**
 * A sandbox with several profiles and API keys: each profile with its own posts, comments, conversations, daily DM
 * cap and account; each key allowed some profiles, with the plan's request limits; comments arriving over time. The
 * library options, and the JSON configuration file of the `sandbox` command (`--config`).
 */
import { FileSystem, Path } from "@effect/platform"
import { Effect, Either, ParseResult, Schema } from "effect"
import * as DataSet from "./DataSet.js"
import * as Faults from "./Faults.js"
import * as Accounts from "./internal/accounts.js"
import * as ArrivalsCheck from "./internal/arrivals.js"
import type { Account } from "./internal/store.js"

/** One profile of a sandbox that serves several. */
export interface Profile {
  /** The profile username the API accepts as `user`. */
  readonly name: string
  /** Its posts and comments (default: none; add posts with the control). */
  readonly data?: DataSet.DataSet
  /** The account behind it (default: an id made from the name, the name as @handle). */
  readonly account?: Account
  /** Its daily DM cap (default: the `dailyDmLimit` knob). */
  readonly dailyDmLimit?: number
  /** It needs a new login from the start (see the control's `setProfile`). */
  readonly reauthRequired?: boolean
}

/** An API key and what it may do. */
export interface Key {
  readonly key: string
  /** The profiles it may act for (default: every profile). */
  readonly profiles?: ReadonlyArray<string>
  /** Its plan's request limits (default: the `plan` knob). */
  readonly plan?: Faults.Plan
}

const Share = Schema.Number.pipe(Schema.between(0, 1, { message: () => "expected a share between 0 and 1" }))
const Rate = Schema.Number.pipe(
  Schema.nonNegative({ message: () => "expected a rate of at least 0" }),
  Schema.finite({ message: () => "expected a finite rate" })
)

/**
 * New comments over time, on the sandbox clock: `perMinute` across the posts, `hotShare` of the posts (chosen by the
 * seed) getting `hotWeight` of them, plus `perPost` rates of named posts; `matchRatio` of them ask for the guide, from
 * a pool of `people` commenters. `historyMinutes`: the same stream began that long before the start (posts already
 * live, with comments on their first page), its comments asking at `historyMatchRatio`.
 */
export const Arrivals = Schema.Struct({
  perMinute: Schema.optionalWith(Rate, { exact: true }),
  perPost: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Rate }), { exact: true }),
  hotShare: Schema.optionalWith(Share, { exact: true }),
  hotWeight: Schema.optionalWith(Share, { exact: true }),
  matchRatio: Schema.optionalWith(Share, { exact: true }),
  people: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100_000_000)), { exact: true }),
  /** The posts that get comments (default: every post at the start). */
  posts: Schema.optionalWith(Schema.Array(Schema.NonEmptyString), { exact: true }),
  /** Minutes before the start during which comments already arrived at the same rates (default 0): live posts. */
  historyMinutes: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 30 * 24 * 60)), { exact: true }),
  /** Share of those earlier comments that ask for the guide (default 0: an earlier run served them). */
  historyMatchRatio: Schema.optionalWith(Share, { exact: true })
})
export type Arrivals = typeof Arrivals.Type

/** Reads a plan as "PER_MINUTE/PER_TEN_MINUTES", e.g. "250/2500". */
export const parsePlan = (text: string): Either.Either<Faults.Plan, string> => {
  const match = /^\s*(\d{1,9})\s*\/\s*(\d{1,9})\s*$/.exec(text)
  const perMinute = Number(match?.[1])
  const perTenMinutes = Number(match?.[2])
  return match !== null && perMinute > 0 && perTenMinutes > 0
    ? Either.right({ perMinute, perTenMinutes })
    : Either.left(`plan must be requests per minute and per ten minutes like "250/2500", got "${text}"`)
}

/** A profile or key name: no white space, nothing invisible. */
const Name = Schema.String.pipe(
  Schema.pattern(/^[\x21-\x7e]{1,200}$/, { message: () => "expected 1 to 200 printable ASCII characters, no spaces" })
)

const AccountJson = Schema.Struct({
  userId: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  handle: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  plan: Schema.optionalWith(Schema.String, { exact: true }),
  told: Schema.optionalWith(Schema.Boolean, { exact: true }),
  reauthRequired: Schema.optionalWith(Schema.Boolean, { exact: true })
})

const ProfileJson = Schema.Struct({
  name: Name,
  /** A data set file, relative to the configuration file. */
  data: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  /** Generated posts instead: `posts` of `comments` each (post ids follow on from the previous profiles'). */
  generate: Schema.optionalWith(
    Schema.Struct({
      posts: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 9_999)), { exact: true }),
      comments: Schema.Int.pipe(Schema.between(0, 100_000_000)),
      people: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 100_000_000)), { exact: true }),
      matchRatio: Schema.optionalWith(Share, { exact: true })
    }),
    { exact: true }
  ),
  account: Schema.optionalWith(AccountJson, { exact: true }),
  dailyDmLimit: Schema.optionalWith(Schema.NonNegativeInt, { exact: true }),
  reauthRequired: Schema.optionalWith(Schema.Boolean, { exact: true })
}).pipe(
  Schema.filter((profile) =>
    profile.data === undefined || profile.generate === undefined || "give a profile `data` or `generate`, not both"
  )
)

const KeyJson = Schema.Struct({
  key: Name,
  profiles: Schema.optionalWith(Schema.NonEmptyArray(Name), { exact: true }),
  plan: Schema.optionalWith(Faults.Plan, { exact: true })
})

/** The `--config` file. */
export const ConfigJson = Schema.Struct({
  profiles: Schema.NonEmptyArray(ProfileJson),
  /** Default: one key, `--api-key`, for every profile. */
  keys: Schema.optionalWith(Schema.NonEmptyArray(KeyJson), { exact: true }),
  /** The plan of every key without its own. */
  plan: Schema.optionalWith(Faults.Plan, { exact: true }),
  /** Requests per minute per profile (unconfirmed on the real API; default none). */
  profileRequestLimit: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { exact: true }),
  arrivals: Schema.optionalWith(Arrivals, { exact: true })
})
export type ConfigJson = typeof ConfigJson.Type

/** What a configuration file sets among the sandbox's options. */
export interface Config {
  readonly profiles: readonly [Profile, ...Array<Profile>]
  readonly keys?: readonly [Key, ...Array<Key>]
  readonly faults: Faults.FaultsPatch
  readonly arrivals?: Arrivals
}

/** Reads and checks a configuration file; data set paths are read relative to it. */
export const loadConfig = (
  path: string
): Effect.Effect<Config, DataSet.DataSetError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const failed = (reason: string) => new DataSet.DataSetError({ source: path, reason, what: "sandbox configuration" })
    const text = yield* fs.readFileString(path).pipe(Effect.mapError((error) => failed(error.message)))
    const input = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (error) => failed(`not JSON (${String(error)})`)
    })
    const json = yield* Schema.decodeUnknown(ConfigJson, { onExcessProperty: "error", errors: "all" })(input).pipe(
      Effect.mapError((error) => failed(ParseResult.TreeFormatter.formatErrorSync(error)))
    )
    let firstPost = 0
    const profiles: Array<Profile> = []
    for (const profile of json.profiles) {
      const data = profile.data !== undefined
        ? yield* DataSet.load(paths.resolve(paths.dirname(path), profile.data)).pipe(
          Effect.mapError((error) => failed(`profile "${profile.name}": ${error.message}`))
        )
        : profile.generate === undefined
        ? undefined
        : DataSet.generate({ ...profile.generate, profile: profile.name, firstPost })
      if (data?._tag === "Generated") firstPost += data.posts.length
      profiles.push({
        name: profile.name,
        ...(data === undefined ? {} : { data }),
        ...(profile.account === undefined ? {} : { account: profile.account }),
        ...(profile.dailyDmLimit === undefined ? {} : { dailyDmLimit: profile.dailyDmLimit }),
        ...(profile.reauthRequired === undefined ? {} : { reauthRequired: profile.reauthRequired })
      })
    }
    const [first, ...rest] = profiles
    if (first === undefined) return yield* failed("no profile")
    const postIds = profiles.flatMap((profile) => profile.data?.posts.map((post) => post.id) ?? [])
    const problem = Accounts.check(profiles.map((profile) => profile.name), json.keys ?? [], postIds) ??
      (json.arrivals === undefined ? undefined : ArrivalsCheck.check(json.arrivals, postIds))
    if (problem !== undefined) return yield* failed(problem)
    return {
      profiles: [first, ...rest],
      ...(json.keys === undefined ? {} : { keys: json.keys }),
      faults: {
        ...(json.plan === undefined ? {} : { plan: json.plan }),
        ...(json.profileRequestLimit === undefined ? {} : { profileRequestLimit: json.profileRequestLimit })
      },
      ...(json.arrivals === undefined ? {} : { arrivals: json.arrivals })
    }
  })
