/**
 * A sandbox and a temporary directory for one end-to-end test, both gone when it finishes, and the command run
 * against that sandbox within the test file's slots.
 */
import type { Sandbox } from "@comment-dm/sandbox"
import type { TestContext } from "@effect/vitest"
import * as Path from "node:path"
import { type CliResult, runCli, tempDir, writeCampaign } from "./cli.js"
import type { Slots } from "./e2e-slots.js"
import { type RunningSandbox, startSandbox } from "./sandbox.js"

export interface Studio {
  readonly sandbox: RunningSandbox
  readonly dir: string
  /** The ledger file of the test. */
  readonly db: string
  /** Writes a campaign file into the test's directory. */
  readonly file: (content: string | object, name?: string) => string
  /** Runs the command against the sandbox (or with the environment given), killed after `timeoutMs` (default 90 s). */
  readonly cli: (
    args: ReadonlyArray<string>,
    env?: Readonly<Record<string, string | undefined>>,
    timeoutMs?: number
  ) => Promise<CliResult>
}

export const make = async (
  context: TestContext,
  slots: Slots,
  options: Sandbox.SandboxOptions
): Promise<Studio> => {
  const sandbox = await startSandbox(options)
  const dir = tempDir()
  context.onTestFinished(async () => {
    await sandbox.close()
    dir.cleanup()
  })
  return {
    sandbox,
    dir: dir.path,
    db: Path.join(dir.path, "ledger.sqlite"),
    file: (content, name = "campaign.json") => writeCampaign(dir.path, name, content),
    cli: (args, env = sandbox.env, timeoutMs = 90_000) => slots(() => runCli(args, { env, timeoutMs }))
  }
}
