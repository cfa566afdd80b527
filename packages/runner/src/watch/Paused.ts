/**
 * `watch` on a paused campaign (`active: false`): the watcher stays up, reads and sends nothing (not a single request),
 * and reads its campaign file again every few seconds, as `serve` rescans its folder; once the file says the campaign
 * is active again, the watcher starts on that version of the file. A file that breaks meanwhile is reported once, and
 * the wait goes on.
 */
import { type CampaignSpec, StopSignal } from "@comment-dm/core"
import type { FileSystem } from "@effect/platform"
import { Duration, Effect } from "effect"
import * as CampaignFile from "../CampaignFile.js"

/** How often the file is read again while paused: the poll interval, at most this. */
export const rereadAtMost = Duration.seconds(2)

export interface Options {
  readonly every: Duration.Duration
  readonly note: (text: string) => Effect.Effect<void>
  /** Told when the wait begins, and when it ends with the campaign active. */
  readonly onPaused?: (paused: boolean) => Effect.Effect<void>
}

/**
 * The campaign to watch: `spec` when it is not paused; else, after a wait, the file's version that is active, or the
 * paused one when a stop comes first (SIGINT, SIGTERM, a closed output), for the watcher to report on without
 * reading anything.
 */
export const untilActive = (
  path: string,
  spec: CampaignSpec.CampaignSpec,
  options: Options
): Effect.Effect<CampaignSpec.CampaignSpec, never, FileSystem.FileSystem | StopSignal.StopSignal> =>
  Effect.gen(function*() {
    if (spec.active !== false) return spec
    const stop = yield* StopSignal.StopSignal
    const every = Duration.min(options.every, rereadAtMost)
    yield* options.note(
      `the campaign is paused (active: false): nothing is read or sent; the watcher stays up, reads ${path} again ` +
        `every ${Duration.format(every)}, and starts once it says active: true (or leaves active out)`
    )
    if (options.onPaused !== undefined) yield* options.onPaused(true)
    const stopped = Effect.as(Effect.race(stop.interrupt, stop.wrapUp), true)
    let current = spec
    let problem: string | undefined
    while (true) {
      if (yield* Effect.raceFirst(Effect.as(Effect.sleep(every), false), stopped)) return current
      const loaded = yield* Effect.either(CampaignFile.load(path))
      if (loaded._tag === "Left") {
        if (loaded.left.message !== problem) {
          problem = loaded.left.message
          yield* options.note(`${problem}; the campaign stays paused until the file is fixed`)
        }
        continue
      }
      problem = undefined
      current = loaded.right
      if (current.active !== false) break
    }
    yield* options.note(`${path} says the campaign is active again: the watcher starts`)
    if (options.onPaused !== undefined) yield* options.onPaused(false)
    return current
  })
