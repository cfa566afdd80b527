/**
 * The sandbox's profiles and API keys: which key may act for which profile, keys revoked while running, and the
 * store behind each profile. A key acting for a profile it does not own gets the API's answer for an invalid account.
 */
import type * as Faults from "../Faults.js"
import type { Store } from "./store.js"

export interface KeyState {
  readonly key: string
  /** The profiles the key may act for, in the sandbox's order. */
  readonly profiles: ReadonlyArray<Store>
  /** The key's own plan, over the `plan` knob. */
  readonly plan: Faults.Plan | undefined
  revoked: boolean
}

export interface KeySpec {
  readonly key: string
  /** Profile names; absent: every profile. */
  readonly profiles?: ReadonlyArray<string> | undefined
  readonly plan?: Faults.Plan | undefined
}

export class Accounts {
  readonly stores: readonly [Store, ...Array<Store>]
  private readonly byName: Map<string, Store>
  private readonly keys: Map<string, KeyState>

  /** Call with specs `check` accepted. */
  constructor(stores: readonly [Store, ...Array<Store>], keys: readonly [KeySpec, ...Array<KeySpec>]) {
    this.stores = stores
    this.byName = new Map(stores.map((store) => [store.profile, store]))
    this.keys = new Map(keys.map((spec) => [spec.key, {
      key: spec.key,
      profiles: spec.profiles === undefined
        ? stores
        : stores.filter((store) => spec.profiles?.includes(store.profile) === true),
      plan: spec.plan,
      revoked: false
    }]))
  }

  /** The first profile: the one a single-profile sandbox has. */
  get primary(): Store {
    return this.stores[0]
  }

  keyNames(): ReadonlyArray<string> {
    return [...this.keys.keys()]
  }

  /** A configured key, revoked or not. */
  key(key: string | undefined): KeyState | undefined {
    return key === undefined ? undefined : this.keys.get(key)
  }

  profile(name: string): Store | undefined {
    return this.byName.get(name)
  }

  /**
   * The store a request of this key acts on: the profile named `user` when the key owns it, else the key's first
   * profile, whose name then differs from `user` so the endpoint answers "invalid account" as the API does.
   */
  resolve(key: KeyState | undefined, user: string | undefined): Store {
    const owned = key?.profiles ?? [this.primary]
    return owned.find((store) => store.profile === user) ?? owned[0] ?? this.primary
  }

  /** The store holding a post, whichever profile it belongs to. */
  storeOfPost(postId: string): Store | undefined {
    return this.stores.find((store) => store.hasPost(postId))
  }
}

/** Why a set of profiles and keys cannot be served, or undefined when it can. */
export const check = (
  profiles: ReadonlyArray<string>,
  keys: ReadonlyArray<KeySpec>,
  postIds: ReadonlyArray<string>
): string | undefined => {
  const twice = (names: ReadonlyArray<string>) => names.find((name, index) => names.indexOf(name) !== index)
  const blank = profiles.find((name) => name.trim() === "" || /\s/.test(name))
  if (blank !== undefined) return `profile "${blank}" is empty or holds white space`
  const profile = twice(profiles)
  if (profile !== undefined) return `profile "${profile}" is listed twice`
  const key = twice(keys.map((spec) => spec.key))
  if (key !== undefined) return `key "${key}" is listed twice`
  for (const spec of keys) {
    if (spec.key.trim() === "" || /\s/.test(spec.key)) return `key "${spec.key}" is empty or holds white space`
    const unknown = spec.profiles?.find((name) => !profiles.includes(name))
    if (unknown !== undefined) return `key "${spec.key}" names profile "${unknown}", which is not configured`
    if (spec.profiles?.length === 0) return `key "${spec.key}" names no profile`
  }
  const post = twice(postIds)
  return post === undefined ? undefined : `post id ${post} belongs to two profiles`
}
