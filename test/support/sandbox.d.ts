/**
 * A sandbox served in the test process, over real HTTP on loopback, for tests that are not Effect programs
 * (the command runs as a child process against it).
 */
import type { Sandbox } from "@comment-dm/sandbox"
import type { Effect } from "effect"
export interface RunningSandbox {
  readonly handle: Sandbox.SandboxHandle
  readonly baseUrl: string
  readonly apiKey: string
  /** The environment a command needs to talk to this sandbox. */
  readonly env: Readonly<Record<string, string>>
  readonly close: () => Promise<void>
}
export declare const startSandbox: (options?: Sandbox.SandboxOptions) => Promise<RunningSandbox>
/** Runs one of the sandbox's control effects from a plain async test. */
export declare const control: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
// # sourceMappingURL=sandbox.d.ts.map
