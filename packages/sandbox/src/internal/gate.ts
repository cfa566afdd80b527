/**
 * What every API request passes before its endpoint: the key's rate windows (the request-limit knob and the plan's
 * minute and ten minutes), the key itself (configured and not revoked), then the per-profile window when the request
 * names one of the key's profiles. Counts the request per key and per profile.
 */
import type { Env } from "./env.js"
import type { Store } from "./store.js"
import { binding, planLimits, type RequestWindow } from "./traffic.js"

export interface Admission {
  /** The profile the request acts on (see `Accounts.resolve`). */
  readonly store: Store
  /** The key's profiles (what `GET /uploadposts/users` lists). */
  readonly owned: ReadonlyArray<Store>
  /** The window the `X-RateLimit-*` headers tell. */
  readonly window: RequestWindow | undefined
  /** Why the request is answered before its endpoint: over a rate limit, or a key that is unknown or revoked. */
  readonly refusal: "rate" | "key" | undefined
}

export const admit = (env: Env, key: string | undefined, user: string | undefined, now: number): Admission => {
  const state = env.accounts.key(key)
  const faults = env.accounts.primary.faults
  const keyWindows = env.traffic.take(
    `key\u0000${key ?? ""}`,
    [faults.requestLimit, ...(state === undefined ? [] : planLimits(state.plan ?? faults.plan))],
    now
  )
  const store = env.accounts.resolve(state, user)
  const owned = state?.profiles ?? []
  const keyWindow = binding(keyWindows)
  if (keyWindow?.exceeded === true || state === undefined || state.revoked) {
    if (state !== undefined) env.traffic.countKey(state.key, now, keyWindow?.exceeded === true)
    return { store, owned, window: keyWindow, refusal: keyWindow?.exceeded === true ? "rate" : "key" }
  }
  if (user === undefined || store.profile !== user) {
    env.traffic.countKey(state.key, now, false)
    return { store, owned, window: keyWindow, refusal: undefined }
  }
  const perProfile = faults.profileRequestLimit
  const profileWindows = perProfile === null
    ? []
    : env.traffic.take(`profile\u0000${user}`, [{ requests: perProfile, windowSeconds: 60 }], now)
  const window = binding([...keyWindows, ...profileWindows])
  const limited = profileWindows.some((profileWindow) => profileWindow.exceeded)
  env.traffic.countKey(state.key, now, limited)
  env.traffic.countProfile(user, limited)
  return { store, owned, window, refusal: limited ? "rate" : undefined }
}
