import type { HttpClient } from "@effect/platform"
import { FetchHttpClient } from "@effect/platform"
import { Effect } from "effect"
import type { Scope } from "effect"
import type { DataSet, Faults } from "../src/index.js"
import { Sandbox } from "../src/index.js"

/** The sandbox clock in these tests starts at noon UTC on 2026-03-28. */
export const now = new Date("2026-03-28T12:00:00Z")

/** One post with hand-picked comments: recent ones, one 10 days old, one from a deleted account. */
export const studio: DataSet.Listed = {
  _tag: "Listed",
  profile: "studio",
  posts: [{
    id: "p1",
    url: "https://www.instagram.com/reel/Cstudio0001/",
    comments: [
      { id: "c1", text: "GUIDE please", timestamp: "2026-03-28T10:00:00+0000", user: { id: "u1", username: "anna" } },
      { id: "c2", text: "guide!!", timestamp: "2026-03-27T10:00:00+0000", user: { id: "u2", username: "marco" } },
      { id: "c3", text: "guide me", timestamp: "2026-03-26T10:00:00+0000", user: { id: "u3" }, username: "olga" },
      { id: "c4", text: "ＧＵＩＤＥ", timestamp: "2026-03-25T10:00:00+0000", user: { id: "u4", username: "kenji" } },
      { id: "c-old", text: "guide", timestamp: "2026-03-18T10:00:00+0000", user: { id: "u5", username: "sofia" } },
      { id: "c-gone", text: "guide pls", timestamp: "2026-03-28T09:00:00+0000" }
    ]
  }]
}

/**
 * A studio sandbox on a random port, with the knobs given, and an HTTP client. Its messaging windows are faithful
 * unless `windows` is "open" (every commenter wrote an hour before the start), for tests of other things.
 */
export const withStudio = <A, E>(
  faults: Faults.FaultsPatch,
  f: (sandbox: Sandbox.SandboxHandle) => Effect.Effect<A, E, HttpClient.HttpClient | Scope.Scope>,
  windows: "faithful" | "open" = "faithful"
): Effect.Effect<A, E, Scope.Scope> =>
  Sandbox.make({ data: studio, now, faults, windows }).pipe(Effect.flatMap(f), Effect.provide(FetchHttpClient.layer))

export const dm = (recipientId: string, message = "Here is your guide") => ({
  platform: "instagram",
  user: "studio",
  recipient_id: recipientId,
  message
})

export const privateReply = (commentId: string, message = "Here is your guide") => ({
  platform: "instagram",
  user: "studio",
  comment_id: commentId,
  message
})
