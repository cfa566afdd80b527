/**
 * Campaign edits: the campaign file changed after people were found. What was sent stays sent (a settled person is
 * never messaged again, whatever the file says now); the run tells which of `message`, `match` and `posts` changed
 * since the version before; and the people still pending, found under the old rules, are judged again under the new
 * ones before any send: those the new rules no longer take (an excluded word, a keyword removed, a post removed) end
 * `skipped` as `campaign_edited`. Judging again reads the comment text their row keeps while they are pending.
 */
import { Effect, Option, Predicate, Stream } from "effect"
import type * as CampaignSpec from "../CampaignSpec.js"
import type * as Ledger from "../Ledger.js"
import * as Matcher from "../Matcher.js"
import * as Template from "../Template.js"
import * as Reading from "./Reading.js"

/** The keys of the campaign file whose change is told, in the order told. */
const watched: ReadonlyArray<ReadonlyArray<string>> = [
  ["message"],
  ["match", "keywords"],
  ["match", "mode"],
  ["match", "exclude"],
  ["posts"]
]

const valueAt = (spec: unknown, path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>((value, key) => Predicate.hasProperty(value, key) ? value[key] : undefined, spec)

/**
 * The watched keys whose value differs between two versions of the campaign file (as the ledger records them: JSON);
 * none when the earlier one cannot be read.
 */
export const changedKeys = (before: unknown, after: unknown): ReadonlyArray<string> => {
  if (!Predicate.isRecord(before) || !Predicate.isRecord(after)) return []
  return watched
    .filter((path) => JSON.stringify(valueAt(before, path)) !== JSON.stringify(valueAt(after, path)))
    .map((path) => path.join("."))
}

/** A change of the campaign file since the version before the run's. */
export interface Edit {
  /** The version compared with. */
  readonly since: number
  readonly keys: ReadonlyArray<string>
  /** Whether the run recorded the version (the edit is new): only then is it told. */
  readonly fresh: boolean
}

/**
 * The edit the run's campaign file makes: compared with the version recorded before the run's own (`version`; 0 when
 * the run records none, a rehearsal, which compares with the latest unless that is the same file).
 */
export const editOf = (
  versions: ReadonlyArray<Ledger.CampaignVersion>,
  version: number,
  spec: unknown,
  startedAt: number
): Edit | undefined => {
  const latest = versions.at(-1)
  if (latest === undefined) return undefined
  const same = JSON.stringify(latest.spec) === JSON.stringify(spec)
  const own = version > 0 ? version : same ? latest.version : latest.version + 1
  const before = versions.filter((known) => known.version < own).at(-1)
  if (before === undefined) return undefined
  const keys = changedKeys(before.spec, spec)
  if (keys.length === 0) return undefined
  const fresh = version > 0 ? latest.version === version && latest.createdAt.getTime() >= startedAt : !same
  return { since: before.version, keys, fresh }
}

/** Whether the edit changes who the campaign takes: people pending under the old rules must be judged again. */
const changesRules = (edit: Edit): boolean => edit.keys.some((key) => key === "posts" || key.startsWith("match."))

/** What the run says of an edit. */
export const describe = (edit: Edit): string => {
  const keys = edit.keys.length === 1
    ? edit.keys[0]
    : `${edit.keys.slice(0, -1).join(", ")} and ${edit.keys.at(-1)}`
  const consequences = ["people already settled are never messaged again"]
  if (changesRules(edit)) {
    consequences.push(
      "people pending under the old rules are judged again under the new ones, and those who no longer match (or " +
        "whose post is gone) end skipped (campaign_edited)"
    )
  }
  if (edit.keys.includes("message")) consequences.push("people not messaged yet get the new text")
  return `${keys} changed since version ${edit.since}: ${consequences.join("; ")}`
}

/** What judging a pending person again looks at: the new match rules and the posts followed, when they changed. */
export interface Judge {
  readonly matcher: Matcher.Matcher | undefined
  /** The post keys the campaign follows; undefined when posts did not change or are `recent` (looked up each run). */
  readonly posts: ReadonlySet<string> | undefined
}

/** How to judge the pending people after an edit; none when the edit does not change who the campaign takes. */
export const judgeOf = (spec: CampaignSpec.CampaignSpec, edit: Edit | undefined): Judge | undefined => {
  if (edit === undefined || !changesRules(edit)) return undefined
  const explicit = spec.posts.flatMap((post) => post._tag === "Recent" ? [] : [Reading.postKey(post)])
  return {
    matcher: edit.keys.some((key) => key.startsWith("match.")) ? Matcher.compile(spec.match) : undefined,
    posts: edit.keys.includes("posts") && explicit.length === spec.posts.length ? new Set(explicit) : undefined
  }
}

/** A pending person judged again: still taken (with the keyword matched now, when the match changed), or not. */
export type Verdict =
  | { readonly _tag: "Keep"; readonly keyword: string | undefined }
  | { readonly _tag: "Drop" }

const keep = (keyword: string | undefined): Verdict => ({ _tag: "Keep", keyword })
const drop: Verdict = { _tag: "Drop" }

/**
 * A pending person under the new rules. A row without its comment text (a person forgotten) cannot be shown to match
 * new rules, so it is dropped rather than messaged on rules it may not meet.
 */
export const verdictOf = (judge: Judge, entry: Ledger.LedgerEntry): Verdict => {
  if (judge.posts !== undefined && !judge.posts.has(entry.postId)) return drop
  if (judge.matcher === undefined) return keep(entry.keyword)
  if (entry.commentText === undefined) return drop
  return Option.match(Matcher.match(judge.matcher, entry.commentText), { onNone: () => drop, onSome: keep })
}

/**
 * Judges the campaign's pending first messages again; succeeds with how many no longer match and were skipped. Only
 * rows still pending change (the ledger's statement is guarded), so a runner claiming meanwhile is never overruled.
 */
export const judgePending = (
  ledger: Ledger.Service,
  campaign: string,
  judge: Judge
): Effect.Effect<number, Ledger.LedgerError> =>
  ledger.pendingEntries(campaign, "first_message").pipe(
    Stream.mapEffect((entry) => {
      const verdict = verdictOf(judge, entry)
      if (verdict._tag === "Keep" && verdict.keyword === entry.keyword) return Effect.succeed(0)
      const keyword = verdict._tag === "Keep" ? Option.some(verdict.keyword ?? "") : Option.none()
      return Effect.map(ledger.judgeAgain(entry, keyword), (changed) => changed && verdict._tag === "Drop" ? 1 : 0)
    }),
    Stream.runFold(0, (skipped, one) => skipped + one)
  )

/** Whether a template of the campaign inserts the comment: the ledger then keeps settled people's comment texts. */
export const usesComment = (spec: CampaignSpec.CampaignSpec): boolean =>
  spec.messages.some((template) => Template.uses(template, "comment"))
