/**
 * The baseline: the script a user writes by hand. It pages through each post's comments with the `after` cursor,
 * keeps the comments whose lowercased text includes the keyword, and sends one DM at a time, waiting for each
 * answer. It remembers the people it sent to in this run only: no ledger, no retries, no pacing.
 */

export interface Settings {
  readonly baseUrl: string
  readonly apiKey: string
  readonly platform: string
  readonly user: string
  readonly posts: ReadonlyArray<string>
  readonly keyword: string
  readonly message: string
  /** Stop after this many DMs. */
  readonly maxSends?: number
}

export interface Result {
  readonly comments: number
  readonly sent: number
  readonly failed: number
  readonly elapsedMillis: number
}

interface CommentsPage {
  readonly comments: ReadonlyArray<{
    readonly text: string
    readonly user?: { readonly id?: string; readonly username?: string }
    readonly username?: string
  }>
  readonly pagination?: { readonly next_cursor?: string | null; readonly has_next?: boolean }
}

export const run = async (settings: Settings): Promise<Result> => {
  const started = performance.now()
  const headers = { Authorization: `Apikey ${settings.apiKey}`, "Content-Type": "application/json" }
  const sentTo = new Set<string>()
  const limit = settings.maxSends ?? Number.POSITIVE_INFINITY
  let comments = 0
  let failed = 0
  for (const post of settings.posts) {
    let after: string | undefined
    do {
      const query = new URLSearchParams({
        platform: settings.platform,
        user: settings.user,
        post_id: post,
        limit: "50"
      })
      if (after !== undefined) query.set("after", after)
      const response = await fetch(`${settings.baseUrl}/uploadposts/comments?${query}`, { headers })
      if (!response.ok) throw new Error(`reading comments of ${post} failed: HTTP ${response.status}`)
      // Trusts the API's shape, as such a script does.
      const page = (await response.json()) as CommentsPage
      for (const comment of page.comments) {
        comments++
        const userId = comment.user?.id
        if (userId === undefined || sentTo.has(userId) || sentTo.size >= limit) continue
        if (!comment.text.toLowerCase().includes(settings.keyword)) continue
        const username = comment.user?.username ?? comment.username ?? "there"
        const answer = await fetch(`${settings.baseUrl}/uploadposts/dms/send`, {
          method: "POST",
          headers,
          body: JSON.stringify({
            platform: settings.platform,
            user: settings.user,
            recipient_id: userId,
            message: settings.message.replace("{{username}}", username)
          })
        })
        await answer.text()
        if (answer.ok) sentTo.add(userId)
        else failed++
      }
      after = page.pagination?.has_next === true ? page.pagination.next_cursor ?? undefined : undefined
    } while (after !== undefined && sentTo.size < limit)
  }
  return { comments, sent: sentTo.size, failed, elapsedMillis: performance.now() - started }
}
