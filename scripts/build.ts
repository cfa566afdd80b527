/**
 * `pnpm build`: bundles the `comment-dm` command and the sandbox command into one ESM file each under build/bin/, so
 * that they start with plain Node: no TypeScript loader, one file to parse instead of hundreds. `tsc -b` remains the
 * type check. A bundle is rebuilt only when a file it was made from (or this script) changed since, so calling this
 * before every run costs a few file checks. With `--package` it also copies the command's bundle to
 * packages/runner/dist/, the `bin` of the @comment-dm/runner package (its `prepack` does this).
 */
import * as Esbuild from "esbuild"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export const repositoryRoot = Path.resolve(import.meta.dirname, "..")

export interface Bundle {
  readonly entry: string
  readonly outfile: string
}

const outDir = Path.join(repositoryRoot, "build", "bin")

export const commentDm: Bundle = {
  entry: Path.join(repositoryRoot, "packages", "runner", "src", "bin.ts"),
  outfile: Path.join(outDir, "comment-dm.mjs")
}

export const sandbox: Bundle = {
  entry: Path.join(repositoryRoot, "packages", "sandbox", "src", "main.ts"),
  outfile: Path.join(outDir, "sandbox.mjs")
}

export const bundles: ReadonlyArray<Bundle> = [commentDm, sandbox]

/** The `bin` of the @comment-dm/runner package: a copy of the command's bundle, made for packing. */
export const runnerBin = Path.join(repositoryRoot, "packages", "runner", "dist", "comment-dm.mjs")

/** The inputs of the last build, written beside the bundle: what `isStale` compares against. */
const inputsFile = (bundle: Bundle) => bundle.outfile.replace(/\.mjs$/, ".inputs.json")

const thisScript = fileURLToPath(import.meta.url)

const modifiedAt = (path: string): number | undefined => {
  try {
    return Fs.statSync(path).mtimeMs
  } catch {
    return undefined
  }
}

/** Missing, or older than one of its inputs (a changed source file, a changed dependency, this script). */
export const isStale = (bundle: Bundle): boolean => {
  const built = modifiedAt(bundle.outfile)
  const recorded = modifiedAt(inputsFile(bundle))
  if (built === undefined || recorded === undefined) return true
  const inputs: ReadonlyArray<string> = JSON.parse(Fs.readFileSync(inputsFile(bundle), "utf8"))
  return [thisScript, ...inputs].some((input) => {
    const modified = modifiedAt(Path.resolve(repositoryRoot, input))
    return modified === undefined || modified > built
  })
}

/** The module that reads uPlot's files at run time from source, and the same text inlined in the bundle. */
const uplotModule = /[\\/]packages[\\/]runner[\\/]src[\\/]internal[\\/]uplot\.ts$/

/**
 * Puts uPlot's browser script and style sheet into the bundle as strings, in place of internal/uplot.ts, which reads
 * them from node_modules: the packed command has no node_modules of its own for them. The files read go into `inlined`
 * (they are not modules of esbuild's metafile), which `isStale` compares too.
 */
const inlineUplot = (inlined: Set<string>): Esbuild.Plugin => ({
  name: "inline-uplot",
  setup: (build) => {
    build.onLoad({ filter: uplotModule }, (args) => {
      const dist = Path.join(Path.dirname(args.path), "..", "..", "node_modules", "uplot", "dist")
      const files = { script: "uPlot.iife.min.js", style: "uPlot.min.css" }
      return {
        loader: "js",
        contents: Object.entries(files).map(([name, file]) =>
          `export const ${name} = ${JSON.stringify(Fs.readFileSync(Path.join(dist, file), "utf8"))}`
        ).join("\n"),
        watchFiles: Object.values(files).map((file) => {
          const path = Path.join(dist, file)
          inlined.add(Path.relative(repositoryRoot, path))
          return path
        })
      }
    })
  }
})

const build = async (bundle: Bundle): Promise<void> => {
  const inlined = new Set<string>()
  const result = await Esbuild.build({
    entryPoints: [bundle.entry],
    outfile: bundle.outfile,
    absWorkingDir: repositoryRoot,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    // Native addons cannot be bundled; pg-native is only an optional driver of `pg`, never installed here.
    external: ["better-sqlite3", "pg-native"],
    // The CommonJS dependencies bundled into this ES module (`pg`, `undici`) still call `require`.
    banner: {
      js:
        "import { createRequire as __createRequire } from \"node:module\"\nconst require = __createRequire(import.meta.url)"
    },
    plugins: [inlineUplot(inlined)],
    metafile: true,
    write: false,
    logLevel: "warning"
  })
  Fs.mkdirSync(Path.dirname(bundle.outfile), { recursive: true })
  // Written under a temporary name and renamed, so a command started meanwhile never reads half a file.
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${process.pid}.tmp`
    Fs.writeFileSync(temporary, file.contents, { mode: 0o755 })
    Fs.renameSync(temporary, file.path)
  }
  const temporaryInputs = `${inputsFile(bundle)}.${process.pid}.tmp`
  Fs.writeFileSync(temporaryInputs, JSON.stringify([...Object.keys(result.metafile.inputs), ...inlined]))
  Fs.renameSync(temporaryInputs, inputsFile(bundle))
}

/** Builds every bundle that is missing or stale; returns the ones it built. */
export const ensureBuilt = async (): Promise<ReadonlyArray<Bundle>> => {
  const stale = bundles.filter(isStale)
  await Promise.all(stale.map(build))
  return stale
}

/** Vitest's global set-up (vitest.config.ts): the end-to-end tests start the bundles, built once per test run. */
export const setup = async (): Promise<void> => {
  await ensureBuilt()
}

if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === thisScript) {
  const started = performance.now()
  const built = await ensureBuilt()
  if (built.length > 0) {
    const names = built.map((bundle) => Path.relative(repositoryRoot, bundle.outfile)).join(", ")
    process.stderr.write(`built ${names} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
  }
  if (process.argv.includes("--package")) {
    Fs.mkdirSync(Path.dirname(runnerBin), { recursive: true })
    Fs.copyFileSync(commentDm.outfile, runnerBin)
  }
}
