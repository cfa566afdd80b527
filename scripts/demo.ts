/**
 * `pnpm demo`: the sample campaign (examples/demo-campaign.yaml) against a sandbox started for the occasion, run by
 * the real command (its bundle, built first if missing or stale). Then three people who got a private reply write to
 * the account (two ask for more, one says STOP) and the campaign runs again: the follow-ups go out, the STOP is
 * honoured. Then its `status` and its report. No API key needed; the ledger and the report go to a fresh temporary
 * directory.
 */
import { Sandbox } from "@comment-dm/sandbox"
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { commentDm, ensureBuilt, repositoryRoot } from "./build.js"

const campaign = Path.join("examples", "demo-campaign.yaml")

const program = Effect.gen(function*() {
  yield* Effect.promise(ensureBuilt)
  const sandbox = yield* Sandbox.make()
  const ledgerDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-demo-"))
  const ledger = Path.join(ledgerDir, "demo.sqlite")
  yield* Effect.sync(() => {
    process.stdout.write(`sandbox: ${sandbox.baseUrl} (profile "${sandbox.profile}")\n`)
    process.stdout.write(`ledger:  ${ledger}\n\n`)
  })

  // The sandbox answers from this process, so the command runs beside it, never blocking it.
  const command = (args: ReadonlyArray<string>) =>
    Effect.async<number>((resume) => {
      process.stdout.write(`$ comment-dm ${args.join(" ")}\n`)
      const child = spawn(process.execPath, [commentDm.outfile, ...args], {
        cwd: repositoryRoot,
        stdio: "inherit",
        env: { ...process.env, UPLOAD_POST_BASE_URL: sandbox.baseUrl, UPLOAD_POST_API_KEY: sandbox.apiKey }
      })
      child.on("close", (code) => {
        process.stdout.write("\n")
        resume(Effect.succeed(code ?? 1))
      })
    })

  const code = yield* command(["run", campaign, "--db", ledger])
  if (code !== 0) return code
  // Three people who got a private reply write back: the first two ask for more (the follow-up's `when`), the third
  // opts out.
  const replied = (yield* sandbox.deliveries).filter((delivery) => delivery.kind === "private_reply").slice(0, 3)
  const messages = ["yes please!", "can I have more?", "STOP"]
  for (const [index, delivery] of replied.entries()) {
    const text = messages[index] ?? "yes"
    yield* sandbox.personWrites({ userId: delivery.recipientId, text })
    yield* Effect.sync(() => process.stdout.write(`(the sandbox: ${delivery.recipientId} writes "${text}")\n`))
  }
  yield* Effect.sync(() => process.stdout.write("\n"))
  const again = yield* command(["run", campaign, "--db", ledger, "--json"])
  yield* command(["status", campaign, "--db", ledger])
  yield* command(["report", campaign, "--db", ledger, "--out", Path.join(ledgerDir, "report.html")])
  return again
})

NodeRuntime.runMain(
  Effect.scoped(program).pipe(Effect.flatMap((code) => Effect.sync(() => process.exit(code))))
)
