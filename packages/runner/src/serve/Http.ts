/**
 * `--http HOST:PORT`: `/healthz` (JSON, 503 while a campaign is parked or the ledger does not answer) and `/metrics`
 * (Prometheus text: the board's figures, and the API requests made by endpoint with their 429 answers), with
 * @effect/platform's HTTP server. Port 0 takes a free port; the log says which.
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Duration, Effect, Option, ParseResult, Schema } from "effect"
import * as Http from "node:http"
import * as RequestMetricsText from "../internal/requestMetrics.js"
import { urlOf } from "../internal/url.js"
import { visible } from "../Visible.js"
import type * as Health from "./Health.js"

export interface Address {
  readonly host: string
  readonly port: number
}

/** The text of `--http`: `HOST:PORT` (`[::1]:PORT` for IPv6), a port from 0 to 65535. */
export const parse = (text: string): Option.Option<Address> => {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text)
  if (match === null) return Option.none()
  const port = Number(match[2])
  if (port > 65_535) return Option.none()
  return Option.some({ host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port })
}

export const format = (address: Address): string =>
  `${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`

export const AddressFromText = Schema.transformOrFail(
  Schema.String,
  Schema.Struct({ host: Schema.String, port: Schema.Int }),
  {
    strict: true,
    decode: (text, _, ast) =>
      Option.match(parse(text), {
        onNone: () => ParseResult.fail(new ParseResult.Type(ast, text)),
        onSome: ParseResult.succeed
      }),
    encode: (address) => ParseResult.succeed(`${address.host}:${address.port}`)
  }
).annotations({
  message: (issue) =>
    `--http "${visible(String(issue.actual))}": expected HOST:PORT, such as 127.0.0.1:8642 (0 for a free port)`
})

/** Whether the ledger answers a trivial query within two seconds. */
const ledgerAnswers = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
  Effect.timeout(Duration.seconds(2)),
  Effect.as(true),
  Effect.orElseSucceed(() => false)
)

/** Serves the board until the scope closes; succeeds with the address it listens on (e.g. `127.0.0.1:8642`). */
export const serve = (address: Address, board: Health.Board) =>
  Effect.gen(function*() {
    const server = yield* NodeHttpServer.make(() => Http.createServer(), address)
    const app = HttpRouter.empty.pipe(
      HttpRouter.get(
        "/healthz",
        Effect.flatMap(ledgerAnswers, (answers) => {
          const { body, healthy } = board.health(answers)
          return HttpServerResponse.json(body, { status: healthy ? 200 : 503 })
        })
      ),
      HttpRouter.get(
        "/metrics",
        Effect.map(Effect.zip(ledgerAnswers, RequestMetricsText.lines), ([answers, requests]) =>
          HttpServerResponse.text(`${board.metrics(answers)}${requests.join("\n")}\n`, {
            contentType: "text/plain; version=0.0.4; charset=utf-8"
          }))
      )
    )
    yield* server.serve(app)
    return urlOf(server.address)
  })
