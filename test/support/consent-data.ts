/**
 * A small studio for the consent and data tests: one post of named people's comments in the sandbox, a campaign file
 * for it, and the command run against both.
 */
import type { DataSet } from "@comment-dm/sandbox"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type CliOptions, type CliResult, runCli, tempDir, writeCampaign } from "./cli.js"
import { control, type RunningSandbox, startSandbox } from "./sandbox.js"

export const profile = "consent.studio"
export const post = "17900000000000901"

const hour = 3_600_000

export interface Person {
  readonly id: string
  readonly username: string
  readonly text: string
  /** How long ago they commented. */
  readonly agoMillis?: number
}

export const comment = (person: Person, index: number): DataSet.Comment => ({
  id: `c-901-${index}`,
  text: person.text,
  timestamp: new Date(Date.now() - (person.agoMillis ?? hour)).toISOString(),
  user: { id: person.id, username: person.username }
})

export const dataSet = (people: ReadonlyArray<Person>): DataSet.Listed => ({
  _tag: "Listed",
  profile,
  posts: [{ id: post, comments: people.map(comment) }]
})

export const campaign = (extra: Readonly<Record<string, unknown>> = {}) => ({
  name: "consent-data",
  platform: "instagram",
  user: profile,
  posts: [post],
  match: { keywords: ["guide"] },
  message: "Hi @{{username}}, here is your guide: https://example.com/g ({{comment}})",
  delivery: "private_reply",
  pace: { per_hour: 360_000, concurrency: 2 },
  ...extra
})

export interface Studio {
  readonly sandbox: RunningSandbox
  readonly dir: string
  readonly db: string
  /** Writes the campaign file (again) with these keys over the defaults; returns its path. */
  readonly write: (extra?: Readonly<Record<string, unknown>>) => string
  /** The command with the sandbox's environment, in the studio's directory. */
  readonly cli: (args: ReadonlyArray<string>, options?: CliOptions) => Promise<CliResult>
  readonly close: () => Promise<void>
}

export const openStudio = async (people: ReadonlyArray<Person>): Promise<Studio> => {
  const sandbox = await startSandbox({ data: dataSet(people) })
  const dir = tempDir("comment-dm-consent-")
  const file = Path.join(dir.path, "campaign.json")
  return {
    sandbox,
    dir: dir.path,
    db: Path.join(dir.path, "ledger.sqlite"),
    write: (extra = {}) => {
      writeCampaign(dir.path, "campaign.json", campaign(extra))
      return file
    },
    cli: (args, options = {}) => runCli(args, { cwd: dir.path, ...options, env: { ...sandbox.env, ...options.env } }),
    close: async () => {
      await sandbox.close()
      dir.cleanup()
    }
  }
}

/** Both streams, for assertion messages. */
export const exitOf = (result: CliResult): string =>
  `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`

/** Every file under a directory, relative to it. */
export const filesUnder = (root: string): ReadonlyArray<string> =>
  Fs.existsSync(root)
    ? (Fs.readdirSync(root, { recursive: true, encoding: "utf8" }) as Array<string>).filter((name) =>
      Fs.statSync(Path.join(root, name)).isFile()
    ).sort()
    : []

/** A test run on a studio of these people, closed afterwards. */
export const withStudio = (people: ReadonlyArray<Person>, test: (studio: Studio) => Promise<void>) => async () => {
  const studio = await openStudio(people)
  try {
    await test(studio)
  } finally {
    await studio.close()
  }
}

/** Who the sandbox delivered to, one entry per delivery, sorted. */
export const recipients = async (studio: Studio): Promise<ReadonlyArray<string>> =>
  (await control(studio.sandbox.handle.deliveries)).map((delivery) => delivery.recipientId).sort()

/** The person comments on the studio's post now, with this text. */
export const commentsNow = (studio: Studio, id: string, person: Person, text: string) =>
  control(studio.sandbox.handle.addComment({
    postId: post,
    id,
    text,
    timestamp: new Date().toISOString(),
    user: { id: person.id, username: person.username }
  }))
