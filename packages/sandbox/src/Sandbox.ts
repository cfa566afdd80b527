/**
 * A local stand-in for the Upload-Post API, served over real HTTP, with fault injection and a control API.
 */
import { HttpRouter } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Duration, Effect, Layer, Random } from "effect"
import type { Scope } from "effect"
import * as Http from "node:http"
import type * as Control from "./Control.js"
import * as DataSet from "./DataSet.js"
import type * as Faults from "./Faults.js"
import * as Accounts from "./internal/accounts.js"
import * as Api from "./internal/api.js"
import * as Arrivals from "./internal/arrivals.js"
import { makeControl } from "./internal/control.js"
import * as ControlApi from "./internal/controlApi.js"
import { type Env, json } from "./internal/env.js"
import { type Account, makeShared, Store } from "./internal/store.js"
import * as Traffic from "./internal/traffic.js"
import type * as Profiles from "./Profiles.js"

export type { Account } from "./internal/store.js"

export const defaultApiKey = "sandbox-key"
export const defaultProfile = "demo"

export interface SandboxOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  readonly port?: number
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string
  /** The key clients must send as `Authorization: Apikey <KEY>` (default "sandbox-key"). */
  readonly apiKey?: string
  /** The profile username the API accepts as `user` (default: the data set's profile, else "demo"). */
  readonly profile?: string
  /** Posts and comments to serve (default `DataSet.demo`). */
  readonly data?: DataSet.DataSet
  /** Seed of every random choice: generated comments, injected faults, latency (default 1). */
  readonly seed?: number
  /** Sandbox time at start; it then advances with the Clock (default: the Clock's time). */
  readonly now?: Date | number
  /** Fault knobs that differ from `Faults.defaults`. */
  readonly faults?: Faults.FaultsPatch
  /**
   * `faithful` (the default): `/dms/send` reaches a person only within 24 hours of their last message to the account
   * (from the data set, the seed, or `personWrites`). `open`: every person wrote an hour before the start and the
   * window never closes, for tests about other things than the window (refused recipients are still refused).
   */
  readonly windows?: "faithful" | "open"
  /** The account behind the profile: its id, @name and plan, and whether the profile's answer tells them. */
  readonly account?: Account
  /**
   * Several profiles, each with its own data, account and daily DM cap, instead of `profile`, `data` and `account`;
   * the first is the one `profile` and `account` of the handle name.
   */
  readonly profiles?: readonly [Profiles.Profile, ...Array<Profiles.Profile>]
  /** The API keys and the profiles each may act for (default: `apiKey` for every profile). */
  readonly keys?: readonly [Profiles.Key, ...Array<Profiles.Key>]
  /** Comments arriving over time, on the sandbox clock (default: none). */
  readonly arrivals?: Profiles.Arrivals
}

export interface SandboxHandle extends Control.SandboxControl {
  /** The API base to give a client, e.g. "http://127.0.0.1:43123/api". */
  readonly baseUrl: string
  readonly port: number
  readonly apiKey: string
  readonly profile: string
  /** The Instagram account behind the profile: its user id (the author id of its own comments) and @handle. */
  readonly account: { readonly id: string; readonly handle: string }
  /** Every configured key (the first is `apiKey`). */
  readonly keyNames: ReadonlyArray<string>
}

export class Sandbox extends Context.Tag("@comment-dm/sandbox/Sandbox")<Sandbox, SandboxHandle>() {}

const notFound = json(404, { success: false, message: "Not found" })

/**
 * Serves the sandbox until the scope closes. Sandbox time follows the Clock in the environment, so a TestClock
 * drives the 7-day rule, the daily counter, rate windows and latency.
 */
export const make = (options: SandboxOptions = {}): Effect.Effect<SandboxHandle, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const startedAt = yield* clock.currentTimeMillis
    const offset = options.now === undefined ? 0 : new Date(options.now).getTime() - startedAt
    const data = options.data ?? DataSet.demo
    const seed = options.seed ?? 1
    const startMillis = startedAt + offset
    const profiles = options.profiles ?? [{
      name: options.profile ?? data.profile ?? defaultProfile,
      data,
      ...(options.account === undefined ? {} : { account: options.account })
    }]
    const keys = options.keys ?? [{ key: options.apiKey ?? defaultApiKey }]
    const shared = makeShared(options.profiles !== undefined)
    const stores = profiles.map((profile) =>
      new Store({
        profile: profile.name,
        seed,
        data: profile.data ?? { _tag: "Listed", posts: [] },
        windows: options.windows ?? "faithful",
        startMillis,
        faults: {
          ...options.faults,
          ...(profile.dailyDmLimit === undefined ? {} : { dailyDmLimit: profile.dailyDmLimit }),
          ...(profile.reauthRequired === undefined ? {} : { reauthRequired: profile.reauthRequired })
        },
        shared,
        ...(profile.account === undefined ? {} : { account: profile.account })
      })
    )
    const [first, ...rest] = stores
    const postIds = stores.flatMap((store) => store.postIds())
    const problem = Accounts.check(stores.map((store) => store.profile), keys, postIds) ??
      (options.arrivals === undefined ? undefined : Arrivals.check(options.arrivals, postIds))
    if (problem !== undefined) return yield* Effect.dieMessage(`The sandbox cannot start: ${problem}`)
    if (first === undefined) return yield* Effect.dieMessage("The sandbox cannot start: no profile")
    const accounts = new Accounts.Accounts([first, ...rest], keys)
    const arrivals = options.arrivals === undefined ? undefined : new Arrivals.Arrivals(
      options.arrivals,
      Arrivals.targets(
        options.arrivals,
        stores.flatMap((store) => store.postIds().map((postId) => ({ store, postId }))),
        seed
      ),
      seed,
      startMillis
    )
    // Sandbox time passing is what makes comments arrive: every reading of it adds those due by then.
    const now = Effect.map(clock.currentTimeMillis, (millis) => {
      arrivals?.advance(millis + offset)
      return millis + offset
    })
    const random = Random.make(seed)
    const traffic = new Traffic.Traffic()
    const env: Env = {
      accounts,
      traffic,
      now,
      chance: (share) => share <= 0 ? Effect.succeed(false) : Effect.map(random.next, (uniform) => uniform < share),
      pause: ({ maxMs, minMs }) =>
        maxMs <= 0 ? Effect.void : Effect.flatMap(
          random.nextIntBetween(minMs, maxMs + 1),
          (millis) => clock.sleep(Duration.millis(millis))
        )
    }
    const control = makeControl(env, arrivals)
    const app = HttpRouter.concat(Api.router(env), ControlApi.router(env, control)).pipe(
      Effect.catchTag("RouteNotFound", () => Effect.succeed(notFound))
    )
    const nodeServer = Http.createServer()
    const server = yield* NodeHttpServer.make(() => nodeServer, {
      port: options.port ?? 0,
      host: options.host ?? "127.0.0.1"
    }).pipe(Effect.orDie)
    // Keep-alive connections would otherwise hold the close until clients let go.
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    yield* server.serve(app)
    const address = server.address
    const port = address._tag === "TcpAddress" ? address.port : 0
    const hostname = address._tag === "TcpAddress" && address.hostname !== "0.0.0.0" ? address.hostname : "127.0.0.1"
    const host = hostname.includes(":") ? `[${hostname}]` : hostname
    return {
      ...control,
      baseUrl: `http://${host}:${port}/api`,
      port,
      apiKey: keys[0].key,
      profile: accounts.primary.profile,
      account: accounts.primary.account,
      keyNames: accounts.keyNames()
    }
  })

/** The sandbox as a service for the lifetime of the layer. */
export const layer = (options?: SandboxOptions): Layer.Layer<Sandbox> => Layer.scoped(Sandbox, make(options))
