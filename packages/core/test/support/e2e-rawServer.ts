/**
 * A bare node:http server on loopback for answers the sandbox cannot give: bodies that are not JSON, truncated or
 * of the wrong shape, headers of our choosing. It can also stand in front of a sandbox and pass requests on, so
 * that only the answers a test wants to spoil are spoiled.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface RawRequest {
  readonly method: string
  /** The full URL, e.g. http://127.0.0.1:40001/api/uploadposts/comments?after=... */
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export interface RawAnswer {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  /** Sent as is: JSON or not. */
  readonly body: string
}

export type RawHandler = (request: RawRequest) => RawAnswer | Promise<RawAnswer>

export interface RawServer {
  /** The API base to give a client, e.g. "http://127.0.0.1:40001/api". */
  readonly baseUrl: string
  /** Every request received, in order. */
  readonly requests: ReadonlyArray<RawRequest>
  readonly close: () => Promise<void>
}

const headersOf = (message: Http.IncomingMessage): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return headers
}

export const startRawServer = (handler: RawHandler): Promise<RawServer> =>
  new Promise((resolve, reject) => {
    const requests: Array<RawRequest> = []
    const server = Http.createServer((incoming, outgoing) => {
      const chunks: Array<Buffer> = []
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk))
      incoming.on("end", () => {
        const request: RawRequest = {
          method: incoming.method ?? "GET",
          url: new URL(incoming.url ?? "/", `http://${incoming.headers.host ?? "127.0.0.1"}`),
          headers: headersOf(incoming),
          body: Buffer.concat(chunks).toString("utf8")
        }
        requests.push(request)
        Promise.resolve(handler(request)).then(
          (answer) => outgoing.writeHead(answer.status, answer.headers).end(answer.body),
          (error: unknown) => outgoing.writeHead(599).end(String(error))
        )
      })
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        baseUrl: `http://127.0.0.1:${port}/api`,
        requests,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

/** Passes a request on to the server at `baseUrl` (same path and query) and returns its answer. */
export const forwardTo = (baseUrl: string) => async (request: RawRequest): Promise<RawAnswer> => {
  const target = new URL(request.url.pathname + request.url.search, new URL(baseUrl).origin)
  const headers = { ...request.headers }
  delete headers["host"]
  delete headers["content-length"]
  delete headers["connection"]
  const response = await fetch(target, {
    method: request.method,
    headers,
    ...(request.method === "GET" || request.method === "HEAD" ? {} : { body: request.body })
  })
  const answerHeaders: Record<string, string> = {}
  response.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== "transfer-encoding" && name !== "connection") {
      answerHeaders[name] = value
    }
  })
  return { status: response.status, headers: answerHeaders, body: await response.text() }
}

/** A port on loopback that nothing listens on: connecting to it is refused. */
export const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Http.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
