/**
 * A listed data set of one Instagram post commented by `people` people, an hour apart (the newest an hour ago), with
 * nobody having written to the account: for the tests of the web views, which vary the texts and names.
 */
import type { DataSet } from "@comment-dm/sandbox"

const hour = 3_600_000

export interface Commenters {
  readonly postId: string
  readonly people: number
  /** Distinct per test: the commenters' ids end in their number. */
  readonly commentIdPrefix: string
  readonly userIdPrefix: string
  readonly text: (n: number) => string
  readonly username: (n: number) => string
}

export const onePost = (options: Commenters, now: number): DataSet.Listed => ({
  _tag: "Listed",
  profile: "studio",
  messages: [],
  posts: [{
    id: options.postId,
    platform: "instagram",
    caption: "Comment GUIDE",
    timestamp: new Date(now - 24 * hour).toISOString(),
    comments: Array.from({ length: options.people }, (_, n) => ({
      id: `${options.commentIdPrefix}${String(n).padStart(4, "0")}`,
      text: options.text(n),
      timestamp: new Date(now - (n + 1) * hour).toISOString(),
      user: { id: `${options.userIdPrefix}${n}`, username: options.username(n) }
    }))
  }]
})
