/**
 * The campaign files of a folder (`*.yaml`, `*.yml`, `*.json`, not in subfolders), read again whenever their size or
 * modification time changes. Each is a good campaign, with a fingerprint of what it means (an edit that changes only
 * comments or spacing changes nothing), or a problem with the path and what is wrong.
 */
import { CampaignSpec } from "@comment-dm/core"
import { FileSystem } from "@effect/platform"
import { Effect, Either, Option, Schema } from "effect"
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import * as CampaignFile from "../CampaignFile.js"

export interface Good {
  readonly _tag: "Good"
  readonly spec: CampaignSpec.CampaignSpec
  readonly fingerprint: string
}

export interface Broken {
  readonly _tag: "Broken"
  /** What is wrong, starting with the file's path (the message `run` gives for the same file). */
  readonly problem: string
}

export interface Entry {
  /** Size and modification time when it was read: the entry is read again when they change. */
  readonly stamp: string
  readonly content: Good | Broken
  /** Whether this scan read it (new or changed), so that its problem is told once. */
  readonly fresh: boolean
}

export type Listing = ReadonlyMap<string, Entry>

const campaignFile = /\.(ya?ml|json)$/i

// A decoded campaign always encodes again.
const encode = Schema.encodeSync(CampaignSpec.CampaignSpec)

/** What a campaign means, as a digest: equal for two files that differ only in comments, spacing or key order. */
const fingerprintOf = (spec: CampaignSpec.CampaignSpec): string =>
  Crypto.createHash("sha256").update(stable(encode(spec))).digest("hex")

/** JSON with the keys of every object sorted. */
const stable = (value: unknown): string =>
  JSON.stringify(value, (_, inner: unknown) =>
    inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner)

export class FolderError extends Schema.TaggedError<FolderError>()("FolderError", {
  folder: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `${this.folder}: ${this.detail}`
  }
}

/** Fails unless `folder` is a directory this process can list. */
export const check = (folder: string): Effect.Effect<void, FolderError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const info = yield* Effect.option(fs.stat(folder))
    if (Option.isNone(info)) {
      return yield* new FolderError({ folder, detail: "no such folder; give the folder that holds the campaign files" })
    }
    if (info.value.type !== "Directory") {
      return yield* new FolderError({ folder, detail: "not a folder; give the folder that holds the campaign files" })
    }
    yield* Effect.mapError(
      fs.readDirectory(folder),
      (error) => new FolderError({ folder, detail: `cannot be listed: ${error.message}` })
    )
  })

/**
 * The folder's campaign files now, each read again only when its stamp changed since `before`. Fails when the folder
 * cannot be listed (the caller keeps the last listing).
 */
export const scan = (
  folder: string,
  before: Listing
): Effect.Effect<Listing, FolderError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const names = yield* Effect.mapError(
      fs.readDirectory(folder),
      (error) => new FolderError({ folder, detail: `cannot be listed: ${error.message}` })
    )
    const listing = new Map<string, Entry>()
    for (const name of names.filter((name) => campaignFile.test(name) && !name.startsWith(".")).sort()) {
      const path = Path.join(folder, name)
      const info = yield* Effect.option(fs.stat(path))
      // Gone since the listing, or a folder named like a file: not a campaign file.
      if (Option.isNone(info) || info.value.type !== "File") continue
      // A file replaced by a rename (how many editors save) has another inode.
      const stamp = [
        info.value.size,
        Option.getOrElse(Option.map(info.value.mtime, (at) => at.getTime()), () => 0),
        Option.getOrElse(info.value.ino, () => 0)
      ].join(":")
      const known = before.get(path)
      if (known !== undefined && known.stamp === stamp) {
        listing.set(path, { ...known, fresh: false })
        continue
      }
      const loaded = yield* Effect.either(CampaignFile.load(path))
      listing.set(path, {
        stamp,
        fresh: true,
        content: Either.match(loaded, {
          onLeft: (error): Broken => ({ _tag: "Broken", problem: error.message }),
          onRight: (spec): Good => ({ _tag: "Good", spec, fingerprint: fingerprintOf(spec) })
        })
      })
    }
    return listing
  })
