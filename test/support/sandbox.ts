/**
 * A sandbox served in the test process, over real HTTP on loopback, for tests that are not Effect programs
 * (the command runs as a child process against it).
 */
import type { Control } from "@comment-dm/sandbox"
import { Sandbox } from "@comment-dm/sandbox"
import { Effect, Exit, Scope } from "effect"

export interface RunningSandbox {
  readonly handle: Sandbox.SandboxHandle
  readonly baseUrl: string
  readonly apiKey: string
  /** The environment a command needs to talk to this sandbox. */
  readonly env: Readonly<Record<string, string>>
  /** The person writes to the account now ("hi", "STOP", ...): their 24-hour DM window opens. */
  readonly personWrites: (userId: string, text: string) => Promise<Control.Message>
  readonly close: () => Promise<void>
}

export const startSandbox = async (options: Sandbox.SandboxOptions = {}): Promise<RunningSandbox> => {
  const scope = await Effect.runPromise(Scope.make())
  const handle = await Effect.runPromise(Scope.extend(Sandbox.make(options), scope))
  return {
    handle,
    baseUrl: handle.baseUrl,
    apiKey: handle.apiKey,
    env: { UPLOAD_POST_BASE_URL: handle.baseUrl, UPLOAD_POST_API_KEY: handle.apiKey },
    personWrites: (userId, text) => Effect.runPromise(handle.personWrites({ userId, text })),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** Runs one of the sandbox's control effects from a plain async test. */
export const control = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)
