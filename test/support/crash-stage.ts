/**
 * A stage for an end-to-end scenario: a seeded world served by an in-process sandbox with a distinctive key, a
 * campaign file and a ledger in a temporary directory, and the command run against them. Every output of every run
 * is kept, so that a scenario ends by checking that the key appears in none of them nor in the ledger.
 */
import type { Ledger } from "@comment-dm/core"
import { Sandbox } from "@comment-dm/sandbox"
import type { Faults } from "@comment-dm/sandbox"
import type { Scope } from "effect"
import { Effect } from "effect"
import * as Path from "node:path"
import { type CliOptions, type CliResult, writeCampaign } from "./cli.js"
import { assertNoSecret, assertPrivate, ledgerEntries, ledgerOutputs } from "./crash-checks.js"
import { command, temporaryDirectory } from "./crash-kill.js"
import * as World from "./crash-world.js"

export interface StageOptions {
  readonly world: World.World
  /**
   * The sandbox's messaging windows; "open" unless asked (every commenter wrote an hour before the start): the world's
   * refused people are the only ones a DM cannot reach.
   */
  readonly windows?: "faithful" | "open"
  readonly faults?: Faults.FaultsPatch
  readonly campaign?: World.CampaignOptions
}

export interface Stage {
  readonly world: World.World
  readonly sandbox: Sandbox.SandboxHandle
  readonly key: string
  readonly campaignFile: string
  readonly campaign: string
  readonly db: string
  readonly options: CliOptions
  /** `comment-dm <subcommand> <campaign-file> --db <ledger> ...rest`. */
  readonly args: (subcommand: string, ...rest: ReadonlyArray<string>) => ReadonlyArray<string>
  /** Runs {@link args} to the end and keeps its output. */
  readonly cli: (subcommand: string, ...rest: ReadonlyArray<string>) => Effect.Effect<CliResult>
  /** Keeps the output of a run started some other way (e.g. killed). */
  readonly keep: (label: string, result: CliResult) => void
  readonly entries: Effect.Effect<ReadonlyArray<Ledger.LedgerEntry>, Ledger.LedgerError>
  /** DM send requests the sandbox has received so far, answered or not. */
  readonly sendRequests: Effect.Effect<number>
  /** The key is in no kept output and not in the ledger files, which are private to their owner. */
  readonly assertNothingLeaked: () => void
}

export const make = (options: StageOptions): Effect.Effect<Stage, never, Scope.Scope> =>
  Effect.gen(function*() {
    const world = options.world
    const key = World.secretKey()
    const sandbox = yield* Sandbox.make({
      data: world.data,
      seed: world.seed,
      apiKey: key,
      windows: options.windows ?? "open",
      faults: { refusedRecipients: world.refused, ...options.faults }
    })
    const directory = yield* temporaryDirectory
    const spec = World.campaign(world, options.campaign)
    const campaignFile = writeCampaign(directory, "campaign.json", spec)
    const campaign = World.campaignName(world, options.campaign)
    const db = Path.join(directory, "ledger.sqlite")
    const cliOptions: CliOptions = {
      env: { UPLOAD_POST_BASE_URL: sandbox.baseUrl, UPLOAD_POST_API_KEY: key },
      timeoutMs: 90_000
    }
    const outputs: Record<string, string> = {}
    const keep = (label: string, result: CliResult) => {
      const number = Object.keys(outputs).length / 2 + 1
      outputs[`${number}: ${label} stdout`] = result.stdout
      outputs[`${number}: ${label} stderr`] = result.stderr
    }
    const args = (subcommand: string, ...rest: ReadonlyArray<string>) => [subcommand, campaignFile, "--db", db, ...rest]
    return {
      world,
      sandbox,
      key,
      campaignFile,
      campaign,
      db,
      options: cliOptions,
      args,
      cli: (subcommand, ...rest) =>
        Effect.tap(command(args(subcommand, ...rest), cliOptions), (result) => keep(subcommand, result)),
      keep,
      entries: ledgerEntries(db, campaign),
      sendRequests: Effect.map(sandbox.stats, (stats) => stats.requests["POST /uploadposts/dms/send"] ?? 0),
      assertNothingLeaked: () => {
        assertNoSecret(key, { ...outputs, ...ledgerOutputs(db) })
        assertPrivate(db)
      }
    }
  })
