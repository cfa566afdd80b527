/**
 * A proxy in front of the sandbox for one `comment-dm` process: forwards every request as it is and logs the comment
 * reads (`GET /api/uploadposts/comments?post_id=…`) with their time, so that a test of several processes on one ledger
 * sees which of them read which post when.
 */
import type { TestContext } from "@effect/vitest"
import * as Http from "node:http"

/** One read of a post's comments, as a proxy saw it pass. */
export interface Read {
  readonly at: number
  readonly post: string
}

/** Starts a proxy to `target` (the sandbox's API base), closed when the test ends. */
export const startProxy = async (target: string, context: TestContext) => {
  const upstream = new URL(target)
  const reads: Array<Read> = []
  const server = Http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://proxy")
    const post = url.searchParams.get("post_id")
    if (url.pathname === "/api/uploadposts/comments" && post !== null) reads.push({ at: Date.now(), post })
    const forward = Http.request({
      host: upstream.hostname,
      port: upstream.port,
      method: request.method,
      path: request.url,
      headers: request.headers
    }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    forward.on("error", () => response.destroy())
    request.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  context.onTestFinished(() => {
    server.closeAllConnections()
    server.close()
  })
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return { baseUrl: `http://127.0.0.1:${port}/api`, reads }
}

/** The processes that read each post in [from, to), by post, from each process's reads by its name. */
export const readersIn = (logs: Record<string, ReadonlyArray<Read>>, from: number, to: number) => {
  const readers = new Map<string, Set<string>>()
  for (const [name, reads] of Object.entries(logs)) {
    for (const read of reads) {
      if (read.at < from || read.at >= to) continue
      readers.set(read.post, (readers.get(read.post) ?? new Set()).add(name))
    }
  }
  return readers
}

/** Whether `reads` holds a read of each of `posts` at or after `from`. */
export const everyPostReadBy = (reads: ReadonlyArray<Read>, posts: ReadonlyArray<string>, from: number) => () =>
  posts.every((post) => reads.some((read) => read.post === post && read.at >= from))
