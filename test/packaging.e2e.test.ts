/**
 * The two packages as an outsider gets them: @comment-dm/core and @comment-dm/runner packed with pnpm (their prepack
 * builds dist/ and the bundle), installed with npm from the tarballs into a project outside the workspace (no links),
 * then a consumer file type-checked with a plain strict NodeNext tsconfig and run, and the installed `comment-dm`.
 *
 * The consumer pins effect and the @effect/* peers to the minimum versions core declares: what is declared is what is
 * tested, and npm must then resolve one copy of effect. npm installs with --ignore-scripts, and better-sqlite3 gets the
 * workspace's compiled addon (the same version, the same Node): compiling it again would cost a minute.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { type CliResult, finished, jsonSummary, repositoryRoot, tempDir, writeCampaign } from "./support/cli.js"

const pnpm = Path.join(repositoryRoot, "node_modules", ".bin", "pnpm")
const tsc = Path.join(repositoryRoot, "node_modules", ".bin", "tsc")

const readJson = (path: string) => JSON.parse(Fs.readFileSync(path, "utf8"))
const rootPackage = readJson(Path.join(repositoryRoot, "package.json"))
const corePackage = readJson(Path.join(repositoryRoot, "packages", "core", "package.json"))

/** pnpm's own settings in its children's environment mean nothing to npm (and it warns about them). */
const env = (extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv => {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) =>
      !/^(pnpm_|npm_command$|npm_lifecycle_|npm_package_|npm_config_user_agent$|npm_config_verify_deps)/i.test(key)
    )
  )
  // Help must come without colour because its output is not a terminal, not because of an inherited NO_COLOR.
  delete base.NO_COLOR
  return { ...base, ...extra }
}

const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Readonly<Record<string, string>> }
): Promise<CliResult> =>
  finished(
    spawn(command, args, { cwd: options.cwd, env: env(options.env), stdio: ["ignore", "pipe", "pipe"] }),
    120_000
  )

const succeeded = (result: CliResult, what: string): CliResult => {
  assert.strictEqual(result.code, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`)
  return result
}

/** The consumer: a campaign built in code on the package's public API, its summary as one JSON line. */
const consumer = `import { Campaign, CampaignSpec, KeepAliveHttpClient, UploadPost } from "@comment-dm/core"
import * as SqliteLedger from "@comment-dm/core/sqlite"
import { Effect, Layer, Redacted } from "effect"

const [baseUrl = "", apiKey = "", ledger = "", post = ""] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const spec = yield* CampaignSpec.make({
    name: "packaged",
    platform: "instagram",
    user: "demo",
    posts: [post],
    match: { keywords: ["guide"] },
    message: "Hi @{{username}}, here is the guide",
    pace: { per_hour: 1_000_000, concurrency: 2 }
  })
  const summary = yield* Campaign.run(spec)
  console.log(JSON.stringify({ outcome: summary.outcome, sent: summary.counts.sent }))
})

const api = UploadPost.UploadPost.Default.pipe(
  Layer.provide(UploadPost.UploadPostConfig.layer({ baseUrl, apiKey: Redacted.make(apiKey) })),
  Layer.provide(KeepAliveHttpClient.layer())
)

Effect.runPromise(program.pipe(Effect.provide(Layer.merge(api, SqliteLedger.layer({ filename: ledger })))))
`

/** What a new project starts with: strict, NodeNext, nothing else (no exactOptionalPropertyTypes, default libs). */
const plainTsconfig = {
  compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, outDir: "out" },
  files: ["consumer.ts", "readme.ts"]
}

/** The example of packages/core/README.md, which must compile as it stands. */
const readmeExample = (): string => {
  const readme = Fs.readFileSync(Path.join(repositoryRoot, "packages", "core", "README.md"), "utf8")
  const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
  if (example === undefined) throw new Error("packages/core/README.md has no ts example")
  return example
}

/** Every version of `name` in the tree that `npm ls --all --json` prints. */
const versionsIn = (tree: unknown, name: string, found = new Set<string>()): Set<string> => {
  const dependencies = (tree as { dependencies?: Record<string, { version?: string }> }).dependencies ?? {}
  for (const [dependency, node] of Object.entries(dependencies)) {
    if (dependency === name && node.version !== undefined) found.add(node.version)
    versionsIn(node, name, found)
  }
  return found
}

interface Sandbox {
  readonly child: ChildProcess
  readonly baseUrl: string
  readonly postId: string
}

/** The installed `comment-dm sandbox` with a small generated post, windows open (this tests the package, not reach). */
const startSandbox = (project: string): Promise<Sandbox> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      Path.join(project, "node_modules", ".bin", "comment-dm"),
      ["sandbox", "--port", "0", "--comments", "12", "--seed", "3", "--open-windows"],
      { cwd: project, env: env(), stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk
      const [baseUrl, , postId] = output.split("\n")
      if (baseUrl !== undefined && postId !== undefined && postId !== "") resolve({ child, baseUrl, postId })
    })
    child.on("exit", (code) => reject(new Error(`comment-dm sandbox exited with ${code}: ${output}`)))
  })

const apiKey = "sandbox-key"

const deliveries = async (sandbox: Sandbox): Promise<number> => {
  const answer = await fetch(new URL("/__sandbox/stats", sandbox.baseUrl), {
    headers: { authorization: `Apikey ${apiKey}` }
  })
  const stats = (await answer.json()) as { readonly deliveries: number }
  return stats.deliveries
}

describe("packaging: the tarballs installed with npm outside the workspace", () => {
  const dir = tempDir("comment-dm-packaging-")
  const project = Path.join(dir.path, "project")
  const installed = (...path: ReadonlyArray<string>) => Path.join(project, "node_modules", ...path)
  let sandbox: Sandbox | undefined
  let typeCheck: Promise<CliResult> | undefined

  beforeAll(async () => {
    const packs = Path.join(dir.path, "packs")
    await Promise.all(
      ["core", "runner"].map((name) =>
        run(pnpm, ["pack", "--pack-destination", packs], { cwd: Path.join(repositoryRoot, "packages", name) })
          .then((result) => succeeded(result, `pnpm pack of ${name}`))
      )
    )
    Fs.mkdirSync(project)
    Fs.writeFileSync(
      Path.join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" })
    )
    const minimum = (name: string) => `${name}@${String(corePackage.peerDependencies[name]).replace(/^\^/, "")}`
    const tarballs = Fs.readdirSync(packs).map((file) => Path.join(packs, file))
    succeeded(
      await run("npm", [
        "install",
        "--ignore-scripts",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        ...tarballs,
        ...["effect", "@effect/platform", "@effect/sql", "@effect/experimental", "@effect/sql-sqlite-node"].map(
          minimum
        ),
        `better-sqlite3@${rootPackage.devDependencies["better-sqlite3"]}`,
        `@types/node@${rootPackage.devDependencies["@types/node"]}`
      ], { cwd: project }),
      "npm install"
    )
    const addon = Path.join("build", "Release", "better_sqlite3.node")
    const workspaceSqlite = Path.dirname(
      createRequire(Path.join(repositoryRoot, "package.json")).resolve(
        "better-sqlite3/package.json"
      )
    )
    Fs.mkdirSync(Path.dirname(installed("better-sqlite3", addon)), { recursive: true })
    Fs.copyFileSync(Path.join(workspaceSqlite, addon), installed("better-sqlite3", addon))
    Fs.writeFileSync(Path.join(project, "consumer.ts"), consumer)
    Fs.writeFileSync(Path.join(project, "readme.ts"), readmeExample())
    Fs.writeFileSync(Path.join(project, "tsconfig.json"), JSON.stringify(plainTsconfig))
    // The slowest step (it checks effect's declarations too): it runs while the command is tried.
    typeCheck = run(tsc, ["-p", "."], { cwd: project })
    sandbox = await startSandbox(project)
  }, 240_000)

  afterAll(() => {
    sandbox?.child.kill()
    dir.cleanup()
  })

  it("gives the consumer one copy of effect, the declared minimum", async () => {
    const tree = JSON.parse(
      succeeded(await run("npm", ["ls", "effect", "--all", "--json"], { cwd: project }), "npm ls").stdout
    )
    assert.deepStrictEqual([...versionsIn(tree, "effect")], [corePackage.peerDependencies.effect.replace(/^\^/, "")])
    assert.isFalse(Fs.existsSync(installed("@comment-dm", "core", "node_modules", "effect")))
    // The command is one bundle: it brings no effect of its own.
    assert.deepStrictEqual(Fs.readdirSync(installed("@comment-dm", "runner", "dist")), ["comment-dm.mjs"])
  })

  it("ships dist/ and no sources, tests or internal modules to import", () => {
    const core = installed("@comment-dm", "core")
    assert.sameMembers(Fs.readdirSync(core), ["README.md", "dist", "package.json"])
    assert.isTrue(Fs.existsSync(Path.join(core, "dist", "index.d.ts")))
    assert.isTrue(Fs.existsSync(Path.join(core, "dist", "index.js.map")))
    const exports = readJson(Path.join(core, "package.json")).exports
    assert.isNull(exports["./internal/*"])
    assert.deepStrictEqual(exports["."], { types: "./dist/index.d.ts", import: "./dist/index.js" })
    // The drivers are optional peers: only the modules of their subpaths may import them.
    const importers = (driver: string) =>
      Fs.readdirSync(Path.join(core, "dist"), { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith(".js"))
        .filter((file) => Fs.readFileSync(Path.join(core, "dist", file), "utf8").includes(`from "${driver}`))
    assert.deepStrictEqual(importers("@effect/sql-sqlite-node"), ["SqliteLedger.js"])
    assert.deepStrictEqual(importers("@effect/sql-pg"), ["PgLedger.js"])
  }, 30_000)

  it("puts comment-dm on the project's path, with help that names it and has no escape codes", async () => {
    const bin = installed(".bin", "comment-dm")
    const help = succeeded(await run(bin, ["--help"], { cwd: project }), "comment-dm --help")
    assert.notInclude(help.stdout, "\x1b")
    assert.include(help.stdout, "$ comment-dm")
    const runHelp = succeeded(await run(bin, ["run", "--help"], { cwd: project }), "comment-dm run --help")
    assert.include(runHelp.stdout, "$ comment-dm run [")
    assert.notInclude(runHelp.stdout, "\x1b")
    // `npx comment-dm` in the project runs the installed one; --no refuses to fetch anything from the registry.
    const npx = succeeded(
      await run("npx", ["--no", "--", "comment-dm", "--version"], { cwd: project }),
      "npx comment-dm"
    )
    assert.strictEqual(npx.stdout.trim(), "0.1.0")
  }, 60_000)

  it("runs a campaign with the installed comment-dm against the installed sandbox", async () => {
    if (sandbox === undefined) throw new Error("no sandbox")
    const campaign = writeCampaign(project, "campaign.json", {
      name: "installed",
      platform: "instagram",
      user: "demo",
      posts: [sandbox.postId],
      match: { keywords: ["guide"] },
      message: "Hi @{{username}}",
      // Every matching commenter by DM (the sandbox's windows are open): this tests the package, not reach.
      delivery: "dm",
      pace: { per_hour: 1_000_000, concurrency: 2 }
    })
    const before = await deliveries(sandbox)
    const result = succeeded(
      await run(installed(".bin", "comment-dm"), ["run", campaign, "--db", "command.sqlite", "--json"], {
        cwd: project,
        env: { UPLOAD_POST_BASE_URL: sandbox.baseUrl, UPLOAD_POST_API_KEY: apiKey }
      }),
      "comment-dm run"
    )
    const summary = jsonSummary(result)
    assert.strictEqual(summary.outcome, "completed")
    assert.isAbove(summary.counts.sent ?? 0, 0)
    assert.strictEqual(summary.counts.sent, summary.counts.matched)
    assert.strictEqual(await deliveries(sandbox), before + (summary.counts.sent ?? 0))
    // The report carries its charting library (uPlot) in the file, from the bundle: the install has no copy of it.
    succeeded(
      await run(installed(".bin", "comment-dm"), ["report", campaign, "--db", "command.sqlite", "--out", "r.html"], {
        cwd: project
      }),
      "comment-dm report"
    )
    assert.isFalse(
      Fs.existsSync(Path.join(project, "node_modules", "uplot")),
      "uplot is not installed with the package"
    )
    assert.include(Fs.readFileSync(Path.join(project, "r.html"), "utf8"), "var uPlot=function()")
  }, 60_000)

  it("type-checks a consumer and the package README's example with a plain strict NodeNext tsconfig", async () => {
    if (typeCheck === undefined) throw new Error("no type check")
    succeeded(await typeCheck, "tsc")
  }, 120_000)

  it("runs the consumer's campaign against the installed sandbox, and a second run sends nothing", async () => {
    if (sandbox === undefined) throw new Error("no sandbox")
    const args = ["out/consumer.js", sandbox.baseUrl, apiKey, "consumer.sqlite", sandbox.postId]
    const before = await deliveries(sandbox)
    const first = JSON.parse(succeeded(await run(process.execPath, args, { cwd: project }), "consumer").stdout)
    assert.strictEqual(first.outcome, "completed")
    assert.isAbove(first.sent, 0)
    assert.strictEqual(await deliveries(sandbox), before + first.sent)
    const second = JSON.parse(succeeded(await run(process.execPath, args, { cwd: project }), "consumer again").stdout)
    assert.deepStrictEqual(second, { outcome: "completed", sent: 0 })
    assert.strictEqual(await deliveries(sandbox), before + first.sent)
  }, 60_000)
})
