/**
 * A sandbox serving listed posts for an end-to-end test. Without `messages`, every commenter's messaging window is
 * open (every commenter of a listed post wrote to the account an hour before the start, but the refused recipients);
 * with them, the sandbox is faithful and exactly these messages were written.
 */
import type { DataSet } from "@comment-dm/sandbox"
import { type RunningSandbox, startSandbox } from "./sandbox.js"

export interface ListedOptions {
  readonly profile: string
  readonly posts: ReadonlyArray<{ readonly id: string; readonly comments: ReadonlyArray<DataSet.Comment> }>
  readonly seed: number
  readonly faults?: Record<string, unknown>
  readonly messages?: ReadonlyArray<DataSet.Message> | undefined
}

export const listedSandbox = (
  { faults = {}, messages, posts, profile, seed }: ListedOptions
): Promise<RunningSandbox> =>
  startSandbox({
    data: {
      _tag: "Listed",
      profile,
      posts: posts.map((post) => ({ id: post.id, comments: [...post.comments] })),
      ...(messages === undefined ? {} : { messages })
    },
    seed,
    windows: messages === undefined ? "open" : "faithful",
    faults
  })
