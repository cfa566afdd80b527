/**
 * The control of a running sandbox over its profiles, keys and arrivals: what `Sandbox.make` hands out and the
 * /__sandbox/ endpoints serve.
 */
import { Effect, Either } from "effect"
import * as Control from "../Control.js"
import * as Faults from "../Faults.js"
import type { KeyState } from "./accounts.js"
import type { Arrivals } from "./arrivals.js"
import type { Env } from "./env.js"
import { type Store, toWire } from "./store.js"

const profileState = (store: Store): Control.ProfileState => ({
  name: store.profile,
  account: store.account,
  postIds: store.postIds(),
  reauthRequired: store.faults.reauthRequired || store.accountAnswers.reauthRequired === true,
  dailyDmLimit: store.faults.dailyDmLimit
})

const keyState = (key: KeyState): Control.KeyState => ({
  key: key.key,
  profiles: key.profiles.map((store) => store.profile),
  plan: key.plan ?? null,
  revoked: key.revoked
})

export const makeControl = (env: Env, arrivals: Arrivals | undefined): Control.SandboxControl => {
  const { accounts, now, traffic } = env
  const stores: ReadonlyArray<Store> = accounts.stores
  const primary = accounts.primary
  const profileNamed = (name: string) =>
    Either.fromNullable(accounts.profile(name), () => new Control.ProfileNotFound({ profile: name }))
  return {
    // Reading the clock first lets comments due by now arrive before the answer.
    deliveries: Effect.map(now, () => [...primary.deliveries]),
    addComment: (comment) =>
      Effect.flatMap(now, (millis) => (accounts.storeOfPost(comment.postId) ?? primary).addComment(comment, millis))
        .pipe(Effect.map(toWire)),
    addPost: ({ profile, ...post }) =>
      Effect.flatMap(
        now,
        (millis) =>
          Either.flatMap(profileNamed(profile ?? primary.profile), (store) =>
            accounts.storeOfPost(post.id) === undefined
              ? store.addPost(post, millis).pipe(Either.map((added) => ({ store, added })))
              : Either.left(new Control.PostExists({ postId: post.id })))
      ).pipe(
        Effect.map(({ added, store }) => ({
          id: added.id,
          url: added.url,
          platform: added.platform,
          comments: store.commentCount(added)
        }))
      ),
    personWrites: ({ profile, ...message }) =>
      Effect.flatMap(
        now,
        (millis) => Either.map(profileNamed(profile ?? primary.profile), (store) => store.personWrites(message, millis))
      ),
    resetDaily: Effect.sync(() => stores.forEach((store) => store.resetDaily())),
    faults: Effect.sync(() => primary.faults),
    setFaults: (patch) =>
      Effect.sync(() => {
        for (const store of stores) store.faults = Faults.apply(store.faults, patch)
        return primary.faults
      }),
    stats: Effect.map(now, (millis) => ({
      requests: traffic.requests(),
      responses: traffic.responses(),
      deliveries: primary.deliveries.length,
      dailyCount: primary.dailyCount(millis),
      keys: Object.fromEntries(accounts.keyNames().map((key) => [key, traffic.keyReport(key)])),
      profiles: Object.fromEntries(stores.map((store) => [store.profile, {
        ...traffic.profileTally(store.profile),
        ...store.stats(millis)
      }])),
      arrivedComments: arrivals?.summary().arrived ?? 0
    })),
    postIds: Effect.map(now, () => stores.flatMap((store) => store.postIds())),
    profiles: Effect.map(now, () => stores.map(profileState)),
    setProfile: (name, patch) =>
      Effect.map(profileNamed(name), (store) => {
        store.faults = Faults.apply(store.faults, patch)
        return profileState(store)
      }),
    keys: Effect.sync(() => accounts.keyNames().flatMap((key) => accounts.key(key) ?? []).map(keyState)),
    setKey: (patch) =>
      Effect.map(
        Either.fromNullable(accounts.key(patch.key), () => new Control.KeyNotFound()),
        (key) => {
          key.revoked = patch.revoked
          return keyState(key)
        }
      ),
    arrivals: Effect.map(now, () => arrivals?.summary() ?? { arrived: 0, posts: [] })
  }
}
