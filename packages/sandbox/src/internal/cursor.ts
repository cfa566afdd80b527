/**
 * Comment cursors name the sequence number of the last comment returned. Sequence numbers never change, and new
 * comments get higher ones, so a cursor keeps its place while comments arrive at the top.
 */

export const encode = (postId: string, sequence: number): string =>
  Buffer.from(`${postId}:${sequence}`).toString("base64url")

/** The sequence number in a cursor for this post, or undefined when the cursor is not one of ours. */
export const decode = (cursor: string, postId: string): number | undefined => {
  const match = /^(.+):(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"))
  return match?.[1] === postId && match[2] !== undefined ? Number(match[2]) : undefined
}
