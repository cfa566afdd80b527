/**
 * `tsx scripts/steps-flow.ts [PEOPLE] [WRITE_BACK_SHARE]`: the engagement flow at scale on the sandbox, by the real
 * command. PEOPLE commenters (default 10,000), each with a fresh matching comment and no message to the account, get a
 * private reply and a public reply; then WRITE_BACK_SHARE of them (default 0.2) write "yes" to the account and a
 * second run sends their follow-ups. Prints each run's per-step counts (from `run --json`) and its time.
 */
import { Sandbox } from "@comment-dm/sandbox"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { commentDm, ensureBuilt, repositoryRoot } from "./build.js"

const people = Number(process.argv[2] ?? 10_000)
const share = Number(process.argv[3] ?? 0.2)
const userId = (n: number) => `1784180${String(n).padStart(10, "0")}`

const main = Effect.gen(function*() {
  yield* Effect.promise(ensureBuilt)
  const now = Date.now()
  const sandbox = yield* Sandbox.make({
    data: {
      _tag: "Listed",
      profile: "flow",
      messages: [],
      posts: [{
        id: "17900000000000099",
        comments: Array.from({ length: people }, (_, n) => ({
          id: `c${n}`,
          text: "guide please",
          timestamp: new Date(now - 3_600_000 - n * 1000).toISOString(),
          user: { id: userId(n), username: `viewer.${n}` }
        }))
      }]
    },
    faults: { dailyDmLimit: 1_000_000 }
  })
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "comment-dm-flow-"))
  const file = Path.join(dir, "campaign.json")
  Fs.writeFileSync(
    file,
    JSON.stringify({
      name: "flow",
      platform: "instagram",
      user: "flow",
      posts: ["17900000000000099"],
      match: { keywords: ["guide"] },
      message: "Hi @{{username}}, here is the guide",
      follow_up: { message: "Here is the link, @{{username}}", when: ["yes"] },
      public_reply: { message: ["Sent you a DM 📩", "Check your inbox ✉️"], per_hour: 100_000_000 },
      pace: { per_hour: 100_000_000, concurrency: 8 }
    })
  )
  const run = Effect.async<{ readonly json: string; readonly millis: number }>((resume) => {
    const started = Date.now()
    const child = spawn(process.execPath, [
      commentDm.outfile,
      "run",
      file,
      "--json",
      "--db",
      Path.join(dir, "l.sqlite")
    ], {
      cwd: repositoryRoot,
      // Only the summary is read: the per-person lines on stderr would fill the pipe and stall the command.
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...process.env, UPLOAD_POST_BASE_URL: sandbox.baseUrl, UPLOAD_POST_API_KEY: sandbox.apiKey }
    })
    let out = ""
    child.stdout.on("data", (chunk) => out += String(chunk))
    child.on(
      "close",
      () => resume(Effect.succeed({ json: out.trim().split("\n").at(-1) ?? "", millis: Date.now() - started }))
    )
  })
  const report = (label: string, result: { readonly json: string; readonly millis: number }) => {
    const summary = JSON.parse(result.json)
    console.log(`${label}: ${summary.outcome} in ${(result.millis / 1000).toFixed(1)} s`)
    console.log(`  first message: ${JSON.stringify(summary.counts)}`)
    for (const [step, counts] of Object.entries(summary.steps as Record<string, Record<string, number>>)) {
      const shown = Object.entries(counts).filter(([, n]) => n > 0).map(([state, n]) => `${state} ${n}`).join(", ")
      console.log(`  ${step}: ${shown} (sum ${Object.values(counts).reduce((a, b) => a + b, 0)})`)
    }
  }
  report("first run", yield* run)
  const writers = Math.round(people * share)
  for (let n = 0; n < writers; n++) {
    yield* sandbox.personWrites({ userId: userId(n * Math.floor(1 / share)), text: "yes" })
  }
  report(`second run (${writers} wrote back)`, yield* run)
  const stats = yield* sandbox.stats
  console.log(`sandbox: ${JSON.stringify(stats)}`)
  Fs.rmSync(dir, { recursive: true, force: true })
})

Effect.runPromise(Effect.scoped(main)).then(() => process.exit(0))
