/**
 * Post leases: several processes that follow the same campaigns on one PostgreSQL ledger (`comment-dm serve` or
 * `watch` on several hosts) share the reading of the posts, each post read by one process at a time.
 *
 * A process that follows a campaign says so in `comment_dm_post_holders` (one row per campaign and process, held until
 * `lease_until` and renewed); each post of the campaign has a row in `comment_dm_post_leases` naming the process that
 * reads it and until when. Every quarter lease a process renews its leases and takes free or expired posts up to its
 * share ({@link quota}: the posts divided by the live processes of the campaign, the remainder going to processes
 * chosen by the campaign's name, so that campaigns of one post spread too) with `SELECT … FOR UPDATE SKIP LOCKED`:
 * of two processes after one post, PostgreSQL's row locks let one take it. When its watcher asks which posts are its
 * own (between two reads), it also gives back what is above its share, for a process that joined. A process that dies stops renewing; its leases run out within one lease, and
 * the others take its posts at their next look. The read marks are in the ledger, so a post's new reader starts
 * where the last one stopped. Work that one process at a time does for a campaign (reading the conversations to settle
 * people in doubt) takes a PostgreSQL advisory lock instead (`Share.alone`).
 *
 * Without the service (one process, or a SQLite ledger), a watcher reads every post: {@link share} answers so.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Claimant from "./Claimant.js"
import { LedgerError } from "./Ledger.js"

export interface Options {
  /** How long a post stays with a process that stopped renewing (default 1 minute); renewed every quarter of it. */
  readonly lease?: Duration.DurationInput | undefined
  /** The process as the leases name it (default this process's claimant id, as claims name it). */
  readonly holder?: string | undefined
}

export const defaultLease = Duration.minutes(1)

/** One campaign's posts as one process sees them. */
export interface Share {
  /**
   * Of the campaign's posts (all of them, as the watcher follows them), those this process reads now; the others
   * are other processes'. Looks at the leases again when the list changed or a quarter lease has passed, and only then
   * gives back posts above its share: ask between reads, not while a read of a post it holds is in flight.
   */
  readonly mine: <P>(posts: ReadonlyArray<P>, key: (post: P) => string) => Effect.Effect<Array<P>, LedgerError>
  /** Whether this process holds the post's lease now, as of its last look at the leases. */
  readonly mayRead: (postKey: string) => Effect.Effect<boolean>
  /**
   * Runs `effect` unless another process (or another watcher of the campaign in this one) is running it for the
   * campaign at the same moment, in which case it is skipped (`None`): the other does the work.
   */
  readonly alone: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<Option.Option<A>, E | LedgerError, R>
}

export interface Service {
  /** The campaign's share for this process, until the scope closes, when its leases are given back. */
  readonly join: (campaign: string) => Effect.Effect<Share, never, Scope.Scope>
}

export class PostLeases extends Context.Tag("@comment-dm/core/PostLeases")<PostLeases, Service>() {}

/** Every post, always: a process alone with its campaigns. */
const whole: Share = {
  mine: (posts) => Effect.succeed([...posts]),
  mayRead: () => Effect.succeed(true),
  alone: (effect) => Effect.asSome(effect)
}

/** The campaign's share for this process: every post when no {@link PostLeases} is provided. */
export const share = (campaign: string): Effect.Effect<Share, never, Scope.Scope> =>
  Effect.flatMap(
    Effect.serviceOption(PostLeases),
    Option.match({ onNone: () => Effect.succeed(whole), onSome: (service) => service.join(campaign) })
  )

const failWith = (operation: string) =>
  Effect.mapError((cause: SqlError | ParseResult.ParseError) => new LedgerError({ operation, cause }))

const decodePostIds = Schema.decodeUnknown(Schema.Array(Schema.Struct({ post_id: Schema.String })))
const decodeHolders = Schema.decodeUnknown(Schema.Array(Schema.Struct({ holder: Schema.String })))
const decodeGot = Schema.decodeUnknown(Schema.Array(Schema.Struct({ got: Schema.Boolean })))

/** The statements of one campaign for one holder, at `now` (epoch milliseconds), on PostgreSQL. */
export const statements = (sql: SqlClient.SqlClient, campaign: string, holder: string) => {
  const ids = (rows: ReadonlyArray<unknown>) => Effect.map(decodePostIds(rows), (r) => r.map((row) => row.post_id))
  const sqlRaw = sql.withoutTransforms()
  return {
    /** Says the holder follows the campaign until `until`, and forgets the holders whose presence ran out. */
    present: (now: number, until: number) =>
      Effect.zipRight(
        sqlRaw`INSERT INTO comment_dm_post_holders (campaign, holder, lease_until) VALUES (${campaign}, ${holder},
          ${until}) ON CONFLICT (campaign, holder) DO UPDATE SET lease_until = ${until}`,
        sqlRaw`DELETE FROM comment_dm_post_holders WHERE campaign = ${campaign} AND lease_until <= ${now}`
      ),
    /** The holders that follow the campaign at `now`. */
    live: (now: number) =>
      sqlRaw`SELECT holder FROM comment_dm_post_holders WHERE campaign = ${campaign}
        AND lease_until > ${now}`.pipe(
        Effect.flatMap(decodeHolders),
        Effect.map((rows) => rows.map((row) => row.holder))
      ),
    /** A row for each post, free, where there is none yet. */
    list: (posts: ReadonlyArray<string>) =>
      posts.length === 0 ?
        Effect.void :
        sqlRaw`INSERT INTO comment_dm_post_leases ${
          sql.insert(posts.map((post_id) => ({ campaign, post_id, holder: null, lease_until: 0 })))
        } ON CONFLICT (campaign, post_id) DO NOTHING`,
    /** Extends the holder's leases of these posts to `until`; succeeds with their ids. */
    renew: (posts: ReadonlyArray<string>, until: number) =>
      posts.length === 0 ? Effect.succeed([]) : sqlRaw`UPDATE comment_dm_post_leases SET lease_until = ${until}
        WHERE campaign = ${campaign} AND holder = ${holder} AND post_id IN ${sql.in(posts)}
        RETURNING post_id`.pipe(Effect.flatMap(ids)),
    /** Gives back the holder's leases of every post but these (all of them when `keep` is empty). */
    releaseAllBut: (keep: ReadonlyArray<string>) =>
      sqlRaw`UPDATE comment_dm_post_leases SET holder = NULL, lease_until = 0
        WHERE campaign = ${campaign} AND holder = ${holder}
        ${keep.length === 0 ? sql`` : sql`AND post_id NOT IN ${sql.in(keep)}`}`,
    /** Gives back the holder's leases of these posts. */
    release: (posts: ReadonlyArray<string>) =>
      posts.length === 0 ? Effect.void : sqlRaw`UPDATE comment_dm_post_leases SET holder = NULL, lease_until = 0
        WHERE campaign = ${campaign} AND holder = ${holder} AND post_id IN ${sql.in(posts)}`,
    /**
     * Takes up to `count` of these posts that nobody holds at `now` (free, or their lease run out), until `until`;
     * rows another process is taking at the same moment are skipped, not waited for. Succeeds with the ids taken.
     */
    take: (posts: ReadonlyArray<string>, count: number, now: number, until: number) =>
      posts.length === 0 || count <= 0 ? Effect.succeed([]) : sqlRaw`WITH free AS (
          SELECT post_id FROM comment_dm_post_leases
          WHERE campaign = ${campaign} AND post_id IN ${sql.in(posts)} AND lease_until <= ${now}
          ORDER BY post_id LIMIT ${count}
          FOR UPDATE SKIP LOCKED
        )
        UPDATE comment_dm_post_leases AS lease SET holder = ${holder}, lease_until = ${until}
        FROM free WHERE lease.campaign = ${campaign} AND lease.post_id = free.post_id
        RETURNING lease.post_id`.pipe(Effect.flatMap(ids)),
    /** Says the holder no longer follows the campaign, and gives back its leases. */
    leave: Effect.zipRight(
      sqlRaw`UPDATE comment_dm_post_leases SET holder = NULL, lease_until = 0
        WHERE campaign = ${campaign} AND holder = ${holder}`,
      sqlRaw`DELETE FROM comment_dm_post_holders WHERE campaign = ${campaign} AND holder = ${holder}`
    )
  }
}

/** FNV-1a of a text: the same in every process, to choose who takes a campaign's remainder. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}

/**
 * How many of the campaign's `posts` the holder takes, of the live `holders`: each an equal part, and one more for as
 * many of them as the division leaves over, chosen by their order and the campaign's name. The quotas add up to the
 * posts exactly, so every post has a taker, and a campaign of one post goes to one holder or another by its name.
 */
export const quotaOf = (campaign: string, posts: number, holders: ReadonlyArray<string>, holder: string): number => {
  const sorted = [...new Set([...holders, holder])].sort()
  const count = sorted.length
  const slot = (sorted.indexOf(holder) + hash(campaign)) % count
  return Math.floor(posts / count) + (slot < posts % count ? 1 : 0)
}

/**
 * Looks at the campaign's leases: renews, gives back what is above the share (with `giveBack`: only between the
 * watcher's reads, so that no post is given back while it is being read), takes up to it; succeeds with the posts held.
 */
export const balance = (
  sql: SqlClient.SqlClient,
  campaign: string,
  holder: string,
  posts: ReadonlyArray<string>,
  now: number,
  leaseMillis: number,
  giveBack = true
): Effect.Effect<ReadonlyArray<string>, LedgerError> =>
  Effect.gen(function*() {
    const s = statements(sql, campaign, holder)
    const until = now + leaseMillis
    yield* s.present(now, until)
    const live = yield* s.live(now)
    yield* s.list(posts)
    yield* s.releaseAllBut(posts)
    const held = [...yield* s.renew(posts, until)].sort()
    const quota = quotaOf(campaign, posts.length, live, holder)
    if (held.length > quota && giveBack) {
      yield* s.release(held.slice(quota))
      return held.slice(0, quota)
    }
    return [...held, ...yield* s.take(posts, quota - held.length, now, until)]
  }).pipe(failWith(`share the posts of campaign ${campaign} with the other processes`))

let joins = 0

/**
 * The leases on the ledger's PostgreSQL database (the client of `PgLedger.layerClient`, which creates the tables). Holds
 * one connection of the pool for the advisory locks of `alone`, whatever the number of campaigns: a connection per
 * lock could take the whole pool and leave none for the work done under the locks.
 */
export const layer = (options: Options = {}): Layer.Layer<PostLeases, LedgerError, SqlClient.SqlClient> =>
  Layer.scoped(
    PostLeases,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const leaseMillis = Duration.toMillis(Duration.decode(options.lease ?? defaultLease))
      const look = Math.max(1, Math.floor(leaseMillis / 4))
      const runner = options.holder ?? Claimant.currentId
      const lockConnection = yield* failWith("reserve a connection for the campaigns' locks")(sql.reserve)
      /** Campaigns whose one-at-a-time work runs in this process now: a session's advisory locks are reentrant. */
      const busy = new Set<string>()
      const advisory = (fn: string, campaign: string) =>
        lockConnection.execute(`SELECT ${fn}(hashtext($1)) AS got`, [`comment-dm/alone/${campaign}`], undefined).pipe(
          Effect.flatMap(decodeGot),
          Effect.map((rows) => rows[0]?.got === true),
          failWith(`lock campaign ${campaign} for one process`)
        )
      /** Whether this process may do the campaign's one-at-a-time work now; if so, it holds the lock until `unlock`. */
      const tryLock = (campaign: string) =>
        Effect.suspend(() => {
          if (busy.has(campaign)) return Effect.succeed(false)
          busy.add(campaign)
          return advisory("pg_try_advisory_lock", campaign).pipe(
            Effect.tap((got) => got ? Effect.void : Effect.sync(() => busy.delete(campaign))),
            Effect.tapError(() => Effect.sync(() => busy.delete(campaign)))
          )
        })
      const unlock = (campaign: string) =>
        Effect.ensuring(
          Effect.ignore(advisory("pg_advisory_unlock", campaign)),
          Effect.sync(() => busy.delete(campaign))
        )
      return {
        join: (campaign) =>
          Effect.gen(function*() {
            // Each watcher a holder of its own, so that one that restarts never mistakes its predecessor's rows.
            const holder = `${runner}#${++joins}`
            const lock = yield* Effect.makeSemaphore(1)
            let posts: ReadonlyArray<string> | undefined
            let held = new Set<string>()
            let heldUntil = 0
            /** When the watcher last had the leases looked at (and posts above its share given back). */
            let askedAt = Number.NEGATIVE_INFINITY
            const refresh = (list: ReadonlyArray<string>, giveBack: boolean) =>
              lock.withPermits(1)(Effect.gen(function*() {
                const now = yield* Clock.currentTimeMillis
                held = new Set(yield* balance(sql, campaign, holder, list, now, leaseMillis, giveBack))
                posts = list
                heldUntil = now + leaseMillis
                if (giveBack) askedAt = now
              }))
            const statementsOf = statements(sql, campaign, holder)
            yield* Effect.addFinalizer(() => Effect.ignore(statementsOf.leave))
            // Renewal while the watcher lives, between its polls however far apart they are; it takes free posts too,
            // but gives back only when the watcher asks (`mine`), which it does between reads.
            yield* Effect.forkScoped(
              Effect.suspend(() => posts === undefined ? Effect.void : Effect.ignore(refresh(posts, false))).pipe(
                Effect.delay(Duration.millis(look)),
                Effect.forever
              )
            )
            const valid = Effect.map(Clock.currentTimeMillis, (now) => now < heldUntil)
            const share: Share = {
              mine: (list, key) =>
                Effect.gen(function*() {
                  const keys = [...new Set(list.map(key))].sort()
                  const now = yield* Clock.currentTimeMillis
                  const same = posts !== undefined && posts.length === keys.length &&
                    posts.every((post, i) => post === keys[i])
                  if (!same || now - askedAt >= look) yield* refresh(keys, true)
                  if (!(yield* valid)) return []
                  return list.filter((post) => held.has(key(post)))
                }),
              mayRead: (postKey) => Effect.map(valid, (ok) => ok && held.has(postKey)),
              alone: (effect) =>
                Effect.acquireUseRelease(
                  tryLock(campaign),
                  (got) => got ? Effect.asSome(effect) : Effect.succeedNone,
                  (got) => got ? unlock(campaign) : Effect.void
                )
            }
            return share
          })
      }
    })
  )
