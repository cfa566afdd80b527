/**
 * `comment-dm forget` and `comment-dm prune`: erasing a person from the ledger, and dropping what it keeps of settled
 * people after a retention period. The work is core's `Forget`; this module reads the command line, asks for
 * confirmation where a username may name someone else, and says what was done.
 */
import { Forget, Suppression } from "@comment-dm/core"
import { Args, Command, Options } from "@effect/cli"
import type { Option } from "effect"
import { Effect } from "effect"
import * as Readline from "node:readline/promises"
import * as ExitCode from "./ExitCode.js"
import type * as LedgerDatabase from "./LedgerDatabase.js"
import { visible } from "./Visible.js"
import * as Workspace from "./Workspace.js"

export interface Shared {
  readonly db: Options.Options<Option.Option<LedgerDatabase.Given>>
  readonly json: Options.Options<boolean>
}

const say = (text: string) => Effect.sync(() => process.stdout.write(`${visible(text)}\n`))
const complain = (text: string) => Effect.sync(() => process.stderr.write(`comment-dm: ${visible(text)}\n`))

/** Stops the command with `code`, saying why on stderr. */
const stop = (code: ExitCode.ExitCode, text: string) => Effect.zipRight(complain(text), ExitCode.settle(code))

const describe = (person: Forget.Known): string =>
  `user ${person.userId} on ${person.platform}` +
  (person.usernames.length === 0 ? "" : ` (${person.usernames.map((name) => `@${name}`).join(", ")})`) +
  `: ${person.rows} row${person.rows === 1 ? "" : "s"} in campaign${person.campaigns.length === 1 ? "" : "s"} ` +
  person.campaigns.join(", ")

/** Asks on the terminal; answers whether the person said yes. */
const confirm = (question: string) =>
  Effect.promise(async () => {
    const prompt = Readline.createInterface({ input: process.stdin, output: process.stderr })
    try {
      return /^\s*y(es)?\s*$/i.test(await prompt.question(`${visible(question)} [y/N] `))
    } finally {
      prompt.close()
    }
  })

/** Whether the argument names a user id (ids match exactly) or a username, and who it names. */
const whoIs = (given: string, profile: string | undefined) =>
  Effect.gen(function*() {
    const scope = { profile }
    if (!given.startsWith("@")) {
      const byId = yield* Forget.findById(given, scope)
      // An id the ledger has not seen may still be forgotten: the tombstone keeps it from being recorded later.
      if (byId.length > 0 || /^\d+$/.test(given)) return { kind: "id" as const, people: byId, ids: [given] }
    }
    const people = yield* Forget.findByUsername(given, scope)
    return { kind: "username" as const, people, ids: people.map((person) => person.userId) }
  })

/** Text a person types for an id or a username: refused when it is empty or holds control characters. */
const problemOf = (given: string): string | undefined => {
  if (Forget.normaliseUsername(given) === "") return "expected a user id or a username, got nothing"
  if (/[\u0000-\u001f\u007f-\u009f]/.test(given)) return `${JSON.stringify(given)} holds control characters`
  return undefined
}

export const forgetCommand = (shared: Shared) =>
  Command.make(
    "forget",
    {
      person: Args.text({ name: "user-id|username" }).pipe(
        Args.withDescription(
          "the person's platform user id (matched exactly, also when the ledger has not seen it) or their @username " +
            "(matched, case folded, only against the ledger's rows; asks for confirmation)"
        )
      ),
      db: shared.db,
      profile: Options.text("profile").pipe(
        Options.withDescription(
          "only this Upload-Post profile's campaigns and lists (default: every profile in the ledger)"
        ),
        Options.optional
      ),
      yes: Options.boolean("yes").pipe(
        Options.withDescription("forget by username without asking (needed when there is no terminal to ask on)")
      ),
      json: shared.json
    },
    (args) =>
      Effect.gen(function*() {
        const problem = problemOf(args.person)
        if (problem !== undefined) return yield* stop(ExitCode.ExitCode.Configuration, problem)
        const profile = args.profile._tag === "Some" ? args.profile.value.trim() : undefined
        // `--profile "$PROFILE"` with the variable unset would forget in a profile nobody sends from, and say so with 0.
        if (profile === "") {
          return yield* stop(ExitCode.ExitCode.Configuration, "--profile is empty: name the Upload-Post profile")
        }
        // A mistyped profile would forget the person where nobody sends from, and say so with 0, their data kept.
        if (profile !== undefined) {
          const known = [...new Set((yield* Suppression.scopes).map((scope) => scope.profile))]
          if (!known.includes(profile)) {
            return yield* stop(
              ExitCode.ExitCode.Configuration,
              `--profile ${JSON.stringify(profile)}: no campaign or suppression list of the ledger has this profile (` +
                (known.length === 0 ? "it knows none yet" : `it knows ${known.join(", ")}`) +
                "); nothing was forgotten (leave --profile out to forget the person in every profile)"
            )
          }
        }
        const given = args.person.trim()
        const found = yield* whoIs(given, profile)
        if (found.kind === "username") {
          const name = Forget.normaliseUsername(given)
          if (found.people.length === 0) {
            return yield* stop(
              ExitCode.ExitCode.Configuration,
              `no row of the ledger names @${name}${profile === undefined ? "" : ` in profile ${profile}`}; nothing ` +
                "was forgotten (to stop someone the ledger has not seen, forget them by their user id)"
            )
          }
          const question = `@${name} names ${found.people.length === 1 ? "" : `${found.people.length} people: `}` +
            found.people.map(describe).join("; ") +
            ". Usernames change and are reused: forget " + (found.people.length === 1 ? "this person" : "them all") +
            "?"
          if (!args.yes) {
            if (process.stdin.isTTY !== true) {
              return yield* stop(
                ExitCode.ExitCode.Configuration,
                `${question.replace(/\?$/, "")}: forgetting by username needs confirmation; there is no terminal to ` +
                  "ask on, so nothing was forgotten: check the ids above and add --yes, or forget by user id"
              )
            }
            if (!(yield* confirm(question))) return yield* stop(ExitCode.ExitCode.Failure, "nothing was forgotten")
          }
        }
        const done = yield* Forget.forget(found.ids, { profile })
        if (args.json) {
          yield* say(JSON.stringify({
            forgotten: found.ids,
            profile: profile ?? null,
            rows: done.rows,
            stopped: done.stopped,
            settled: done.settled,
            unrecorded: done.unrecorded,
            suppressions: done.suppressions,
            replies: done.replies,
            scrubbed: done.scrubbed,
            scrub_problem: done.scrubProblem ?? null
          }))
        } else {
          yield* say(
            `forgot ${found.ids.length === 1 ? `user ${found.ids[0]}` : `${found.ids.length} people`}: the username, ` +
              `comment and message texts of ${done.rows} ledger row${done.rows === 1 ? "" : "s"} removed` +
              (done.stopped > 0 ? ` (${done.stopped} waiting now suppressed)` : "") +
              (done.settled > 0
                ? `; ${done.settled} claimed or in doubt now unconfirmed (the message may have gone out; it is ` +
                  "never sent again)"
                : "") +
              `; a tombstone keeps every campaign of ${
                profile === undefined ? "every profile" : `profile ${profile}`
              } from recording or messaging them again`
          )
        }
        if (!done.scrubbed) {
          return yield* stop(
            ExitCode.ExitCode.Failure,
            `the ledger's files could not be rewritten (${done.scrubProblem}): forgotten bytes may remain in them ` +
              "until then; run the same forget again when no runner uses the ledger"
          )
        }
      })
  ).pipe(
    Command.withDescription(
      "Forget a person. Remove their username, comment and message texts from every table of the ledger (rows stay, " +
        "under a pseudonym, so that status still adds up; people still waiting end suppressed) and keep a tombstone, " +
        "a salted hash of their id, so that no campaign records or messages them again. On SQLite the database's " +
        "files are rewritten (secure_delete, WAL checkpoint, VACUUM) so that none of the forgotten bytes stay in them. " +
        "Rows claimed or in doubt (a message may have gone out) end unconfirmed first; a runner holding one sends " +
        "nothing more to them. Exit codes: 0 forgotten, 2 nothing matched or no confirmation, 1 anything else."
    ),
    (self) => Command.provide(self, (args) => Workspace.ledgerOnly(args.db))
  )

/** `--older-than`: days, weeks or hours. */
const retention = /^\s*(\d{1,6})\s*(d|w|h)\s*$/

const hoursPer = { h: 1, d: 24, w: 24 * 7 } as const

export const pruneCommand = (shared: Shared) =>
  Command.make(
    "prune",
    {
      olderThan: Options.text("older-than").pipe(
        Options.withDescription("the retention period: people settled longer ago than this, e.g. 90d, 12w, 48h")
      ),
      db: shared.db,
      json: shared.json
    },
    (args) =>
      Effect.gen(function*() {
        const period = retention.exec(args.olderThan)
        const hours = period === null ? 0 : Number(period[1]) * hoursPer[period[2] as keyof typeof hoursPer]
        if (hours <= 0) {
          return yield* stop(
            ExitCode.ExitCode.Configuration,
            `--older-than ${JSON.stringify(args.olderThan)}: expected a period such as 90d, 12w or 48h`
          )
        }
        const before = new Date(Date.now() - hours * 3_600_000)
        const done = yield* Forget.prune(before)
        yield* say(
          args.json
            ? JSON.stringify({
              before: before.toISOString(),
              rows: done.rows,
              unrecorded: done.unrecorded,
              scrubbed: done.scrubbed,
              scrub_problem: done.scrubProblem ?? null
            })
            : `pruned the usernames, comment and message texts of ${done.rows} row${
              done.rows === 1 ? "" : "s"
            } settled before ${before.toISOString()}` +
              (done.unrecorded > 0 ? `, and ${done.unrecorded} usernames of people the ledger could not record` : "")
        )
        if (!done.scrubbed) {
          return yield* stop(
            ExitCode.ExitCode.Failure,
            `the ledger's files could not be rewritten (${done.scrubProblem}); run prune again when no runner uses it`
          )
        }
      })
  ).pipe(
    Command.withDescription(
      "Drop what the ledger keeps of people settled long ago. Their usernames, comment texts and message texts " +
        "go when they were settled (sent, refused, skipped, expired, suppressed, ...) longer ago than --older-than; " +
        "the rows stay for the counts. Pending and in-doubt people keep " +
        "theirs (reconciliation and re-judging need them)."
    ),
    (self) => Command.provide(self, (args) => Workspace.ledgerOnly(args.db))
  )
