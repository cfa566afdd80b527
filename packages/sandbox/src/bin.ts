/**
 * The `sandbox` command: serves the Upload-Post stand-in until SIGINT. On start it prints, one per line, the API
 * base URL, the profile username and the post ids (with `--config`: the base URL, then one line per profile, its name
 * and its post ids). Run by main.ts (the sandbox's own executable) and, as a subcommand, by `comment-dm sandbox`.
 */
import { Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import * as DataSet from "./DataSet.js"
import * as Faults from "./Faults.js"
import * as Profiles from "./Profiles.js"
import * as Sandbox from "./Sandbox.js"

/** A number option refused outside `[min, max]`, with a message naming the flag and the range. */
const within = <A extends number>(
  option: Options.Options<A>,
  name: string,
  min: number,
  max: number,
  range: string
): Options.Options<A> =>
  option.pipe(Options.mapEffect((value) =>
    value >= min && value <= max
      ? Either.right(value)
      : Either.left(ValidationError.invalidValue(HelpDoc.p(`--${name} must be ${range}, got ${value}`)))
  ))

const share = (name: string, description: string) =>
  within(Options.float(name), name, 0, 1, "between 0 and 1").pipe(
    Options.withDescription(description),
    Options.optional
  )

const positive = (name: string, description: string) =>
  within(Options.integer(name), name, 1, Number.MAX_SAFE_INTEGER, "at least 1").pipe(
    Options.withDescription(description),
    Options.optional
  )

const options = {
  port: Options.integer("port").pipe(
    Options.withDefault(8787),
    Options.withDescription("Port to listen on (default 8787; 0 picks a free port).")
  ),
  host: Options.text("host").pipe(
    Options.withDefault("127.0.0.1"),
    Options.withDescription("Interface to listen on (default 127.0.0.1).")
  ),
  apiKey: Options.text("api-key").pipe(
    Options.withDefault(Sandbox.defaultApiKey),
    Options.withDescription(
      `Key clients must send as "Authorization: Apikey <KEY>" (default "${Sandbox.defaultApiKey}").`
    )
  ),
  profile: Options.text("profile").pipe(
    Options.withDescription("Profile username the API accepts as `user` (default: the data set's, else \"demo\")."),
    Options.optional
  ),
  data: Options.file("data", { exists: "yes" }).pipe(
    Options.withDescription("A JSON data set of posts and comments (format in packages/sandbox/README.md)."),
    Options.optional
  ),
  comments: Options.integer("comments").pipe(
    Options.withDescription("Serve generated posts with this many comments each instead of the demo data."),
    Options.optional
  ),
  posts: Options.integer("posts").pipe(
    Options.withDefault(1),
    Options.withDescription("Number of generated posts (with --comments; default 1).")
  ),
  people: Options.integer("people").pipe(
    Options.withDescription("Distinct commenters in generated data (default: half the comments)."),
    Options.optional
  ),
  matchRatio: share("match-ratio", "Share of generated comments asking for the guide (default 0.4)."),
  seed: Options.integer("seed").pipe(
    Options.withDefault(1),
    Options.withDescription("Seed of every random choice: generated data, faults, latency (default 1).")
  ),
  now: Options.date("now").pipe(
    Options.withDescription("Sandbox time at start, e.g. 2026-03-28T12:00:00Z (default: the real time)."),
    Options.optional
  ),
  latency: Options.text("latency").pipe(
    Options.mapEffect((text) =>
      Either.mapLeft(Faults.parseLatency(text), (message) => ValidationError.invalidValue(HelpDoc.p(message)))
    ),
    Options.withDescription("Latency of every answer in ms: \"50\" or a range \"20..200\" (default 0)."),
    Options.optional
  ),
  readErrorRate: share("read-error-rate", "Share of reads answered with a 500 (default 0)."),
  sendErrorRate: share("send-error-rate", "Share of sends answered with a 500, nothing delivered (default 0)."),
  resetRate: share(
    "reset-rate",
    "Share of sends whose connection is destroyed after the message was delivered (default 0)."
  ),
  dailyLimit: Options.integer("daily-limit").pipe(
    Options.withDescription("Daily DM limit: DMs, private and public replies together (default 500)."),
    Options.optional
  ),
  refuse: Options.text("refuse").pipe(
    Options.withDescription(
      "A recipient id whose messaging window is closed whatever they write (repeatable; the demo has two)."
    ),
    Options.repeated
  ),
  unreachable: Options.text("unreachable").pipe(
    Options.withDescription("A recipient id that cannot be reached (repeatable)."),
    Options.repeated
  ),
  rateLimit: Options.integer("rate-limit").pipe(
    Options.withDescription("Requests allowed per key and window (default 100000)."),
    Options.optional
  ),
  rateWindow: Options.integer("rate-window").pipe(
    Options.withDefault(60),
    Options.withDescription("Length of the request-rate window in seconds (default 60).")
  ),
  conversationsFailing: Options.boolean("conversations-failing").pipe(
    Options.withDescription("Answer every conversations call with a 500.")
  ),
  oddRefuse: Options.text("odd-refuse").pipe(
    Options.withDescription(
      "A recipient id whose sends get the --odd-status / --odd-text answer (repeatable; \"all\" for every recipient)."
    ),
    Options.repeated
  ),
  oddStatus: within(Options.integer("odd-status"), "odd-status", 400, 599, "from 400 to 599").pipe(
    Options.withDefault(422),
    Options.withDescription("Status of the --odd-refuse answer (default 422).")
  ),
  oddText: Options.text("odd-text").pipe(
    Options.withDefault("This recipient cannot receive messages from this account right now (code 4711)"),
    Options.withDescription("The `error` text of the --odd-refuse answer.")
  ),
  cursorLoop: Options.text("cursor-loop").pipe(
    Options.withDescription(
      "A post id whose comment pages loop: from the second page on, next_cursor points back at the first (repeatable)."
    ),
    Options.repeated
  ),
  maxConversations: positive(
    "max-conversations",
    "List at most N conversations, the most recently active first (default: all)."
  ),
  openWindows: Options.boolean("open-windows").pipe(
    Options.withDescription(
      "Every person wrote to the account an hour before the start and DM windows never close (default: only a seeded " +
        "share wrote in the last 24 hours, as on Instagram)."
    )
  ),
  messagesPerConversation: positive(
    "messages-per-conversation",
    "List at most N messages per conversation, the newest first (default 25)."
  ),
  config: Options.file("config", { exists: "yes" }).pipe(
    Options.withDescription(
      "A JSON file of several profiles and API keys, the plan and arrivals (format in packages/sandbox/README.md); " +
        "it replaces --profile, --data and --comments."
    ),
    Options.optional
  ),
  plan: Options.text("plan").pipe(
    Options.mapEffect((text) =>
      Either.mapLeft(Profiles.parsePlan(text), (message) => ValidationError.invalidValue(HelpDoc.p(message)))
    ),
    Options.withDescription(
      "The plan's request limits per key: PER_MINUTE/PER_TEN_MINUTES, e.g. 250/2500 (default: none)."
    ),
    Options.optional
  ),
  profileLimit: positive(
    "profile-limit",
    "Requests per minute per profile, whatever the key (Upload-Post says 2; unconfirmed; default: none)."
  ),
  arrivals: within(Options.float("arrivals"), "arrivals", 0, 1_000_000, "from 0 to 1000000").pipe(
    Options.withDescription("New comments per minute across the posts, on the sandbox clock (default 0)."),
    Options.optional
  ),
  hotShare: share("hot-share", "Share of the posts that get most new comments (default 0.1)."),
  hotWeight: share("hot-weight", "Share of the new comments those posts get (default 0.9).")
}

type Parsed = Command.Command.ParseConfig<typeof options>

const faultsOf = (parsed: Parsed): Faults.FaultsPatch => ({
  ...Option.match(parsed.latency, { onNone: () => ({}), onSome: (latency) => ({ latency }) }),
  ...Option.match(parsed.readErrorRate, { onNone: () => ({}), onSome: (readErrorRate) => ({ readErrorRate }) }),
  ...Option.match(parsed.sendErrorRate, { onNone: () => ({}), onSome: (sendErrorRate) => ({ sendErrorRate }) }),
  ...Option.match(parsed.resetRate, {
    onNone: () => ({}),
    onSome: (resetAfterDeliveryRate) => ({ resetAfterDeliveryRate })
  }),
  ...Option.match(parsed.dailyLimit, { onNone: () => ({}), onSome: (dailyDmLimit) => ({ dailyDmLimit }) }),
  ...(parsed.refuse.length === 0 ? {} : { refusedRecipients: parsed.refuse }),
  ...(parsed.unreachable.length === 0 ? {} : { unreachableRecipients: parsed.unreachable }),
  ...Option.match(parsed.rateLimit, {
    onNone: () => ({}),
    onSome: (requests) => ({ requestLimit: { requests, windowSeconds: parsed.rateWindow } })
  }),
  ...(parsed.conversationsFailing ? { conversationsFailing: true } : {}),
  ...(parsed.oddRefuse.length === 0 ? {} : {
    oddRefusal: {
      recipients: parsed.oddRefuse.includes("all") ? "all" as const : parsed.oddRefuse,
      status: parsed.oddStatus,
      text: parsed.oddText
    }
  }),
  ...(parsed.cursorLoop.length === 0 ? {} : { cursorLoops: parsed.cursorLoop }),
  ...Option.match(parsed.maxConversations, {
    onNone: () => ({}),
    onSome: (maxConversations) => ({ maxConversations })
  }),
  ...Option.match(parsed.messagesPerConversation, {
    onNone: () => ({}),
    onSome: (messagesPerConversation) => ({ messagesPerConversation })
  }),
  ...Option.match(parsed.plan, { onNone: () => ({}), onSome: (plan) => ({ plan }) }),
  ...Option.match(parsed.profileLimit, {
    onNone: () => ({}),
    onSome: (profileRequestLimit) => ({ profileRequestLimit })
  })
})

/** The arrivals of the configuration file, with the flags' values over them; none when neither asks. */
const arrivalsOf = (parsed: Parsed, config: Profiles.Arrivals | undefined): Profiles.Arrivals | undefined => {
  const flags: Profiles.Arrivals = {
    ...Option.match(parsed.arrivals, { onNone: () => ({}), onSome: (perMinute) => ({ perMinute }) }),
    ...Option.match(parsed.hotShare, { onNone: () => ({}), onSome: (hotShare) => ({ hotShare }) }),
    ...Option.match(parsed.hotWeight, { onNone: () => ({}), onSome: (hotWeight) => ({ hotWeight }) })
  }
  return config === undefined && Object.keys(flags).length === 0 ? undefined : { ...config, ...flags }
}

const dataOf = (parsed: Parsed) =>
  Option.match(parsed.data, {
    onSome: DataSet.load,
    onNone: () =>
      Effect.succeed(Option.match(parsed.comments, {
        onNone: (): DataSet.DataSet => DataSet.demo,
        onSome: (comments) =>
          DataSet.generate({
            comments,
            posts: parsed.posts,
            ...Option.match(parsed.people, { onNone: () => ({}), onSome: (people) => ({ people }) }),
            ...Option.match(parsed.matchRatio, { onNone: () => ({}), onSome: (matchRatio) => ({ matchRatio }) })
          })
      }))
  })

export const command = Command.make("sandbox", options, (parsed) =>
  Effect.gen(function*() {
    const config = Option.getOrUndefined(yield* Effect.transposeOption(Option.map(parsed.config, Profiles.loadConfig)))
    if (
      config !== undefined &&
      (Option.isSome(parsed.profile) || Option.isSome(parsed.data) || Option.isSome(parsed.comments))
    ) {
      return yield* new DataSet.DataSetError({
        source: Option.getOrElse(parsed.config, () => ""),
        reason: "it lists the profiles, so leave out --profile, --data and --comments",
        what: "sandbox configuration"
      })
    }
    const data = yield* dataOf(parsed)
    const arrivals = arrivalsOf(parsed, config?.arrivals)
    const sandbox = yield* Sandbox.make({
      port: parsed.port,
      host: parsed.host,
      apiKey: parsed.apiKey,
      seed: parsed.seed,
      data,
      faults: { ...config?.faults, ...faultsOf(parsed) },
      windows: parsed.openWindows ? "open" : "faithful",
      ...Option.match(parsed.profile, { onNone: () => ({}), onSome: (profile) => ({ profile }) }),
      ...Option.match(parsed.now, { onNone: () => ({}), onSome: (now) => ({ now }) }),
      ...(config === undefined ? {} : { profiles: config.profiles }),
      ...(config?.keys === undefined ? {} : { keys: config.keys }),
      ...(arrivals === undefined ? {} : { arrivals })
    })
    const lines = config === undefined
      ? [sandbox.profile, ...yield* sandbox.postIds]
      : (yield* sandbox.profiles).map((profile) => [profile.name, ...profile.postIds].join(" "))
    yield* Console.log([sandbox.baseUrl, ...lines].join("\n"))
    return yield* Effect.never
  }).pipe(Effect.scoped)).pipe(
    Command.withDescription("A local stand-in for the Upload-Post API, for demos, tests and campaign rehearsals.")
  )
