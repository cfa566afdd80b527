/**
 * A plain HTTP caller for the tests: real requests on loopback, answers kept whole (status, headers, JSON body).
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientError } from "@effect/platform"
import { Effect, Schema } from "effect"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"
import { DataSet } from "../src/index.js"

export interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
}

export interface Target {
  readonly baseUrl: string
  readonly apiKey: string
}

const send = (
  target: Target,
  request: HttpClientRequest.HttpClientRequest,
  apiKey: string | null
): Effect.Effect<Answer, HttpClientError.HttpClientError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const authorized = apiKey === null
      ? request
      : HttpClientRequest.setHeader(request, "authorization", `Apikey ${apiKey}`)
    const response = yield* client.execute(HttpClientRequest.prependUrl(authorized, target.baseUrl))
    const text = yield* response.text
    return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) }
  })

/** GET under the base URL; `apiKey: null` sends no Authorization header. */
export const get = (
  target: Target,
  path: string,
  query: Record<string, string | number> = {},
  apiKey: string | null = target.apiKey
) =>
  send(
    target,
    HttpClientRequest.get(path).pipe(
      HttpClientRequest.setUrlParams(Object.entries(query).map(([key, value]) => [key, String(value)] as const))
    ),
    apiKey
  )

export const post = (target: Target, path: string, body: unknown, apiKey: string | null = target.apiKey) =>
  send(target, HttpClientRequest.post(path).pipe(HttpClientRequest.bodyUnsafeJson(body)), apiKey)

export const CommentsPage = Schema.Struct({
  success: Schema.Literal(true),
  comments: Schema.Array(DataSet.Comment),
  pagination: Schema.Struct({ next_cursor: Schema.NullOr(Schema.String), has_next: Schema.Boolean })
})

export const Failure = Schema.Struct({
  success: Schema.Literal(false),
  error: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
})

export const decode = <A, I>(schema: Schema.Schema<A, I>) => (answer: Answer): A =>
  Schema.decodeUnknownSync(schema)(answer.body)

/** Reads every page of a post's comments, newest first. */
export const readAll = (target: Target & { readonly profile: string }, postId: string, limit: number) =>
  Effect.gen(function*() {
    const comments: Array<DataSet.Comment> = []
    let after: string | null = null
    do {
      const answer: Answer = yield* get(target, "/uploadposts/comments", {
        platform: "instagram",
        user: target.profile,
        post_id: postId,
        limit,
        ...(after === null ? {} : { after })
      })
      const page: typeof CommentsPage.Type = decode(CommentsPage)(answer)
      comments.push(...page.comments)
      after = page.pagination.next_cursor
    } while (after !== null)
    return comments
  })

/** The sandbox command run from source. */
export const bin = fileURLToPath(new URL("../src/main.ts", import.meta.url))

export interface Running {
  readonly lines: ReadonlyArray<string>
  readonly exited: Promise<number | null>
  readonly child: ChildProcess.ChildProcess
}

/** Starts the command and waits until it has printed `lineCount` lines. */
export const startCommand = (args: ReadonlyArray<string>, lineCount: number) =>
  Effect.acquireRelease(
    Effect.async<Running, Error>((resume) => {
      const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", bin, ...args], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      let output = ""
      let errors = ""
      child.stderr.on("data", (chunk: Buffer) => {
        errors += chunk.toString()
      })
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        const lines = output.split("\n").filter((line) => line !== "")
        if (lines.length >= lineCount) resume(Effect.succeed({ lines, exited, child }))
      })
      child.on("exit", (code) => resume(Effect.fail(new Error(`sandbox exited with ${code}: ${errors}`))))
    }),
    (running) => Effect.sync(() => running.child.kill("SIGKILL"))
  )
