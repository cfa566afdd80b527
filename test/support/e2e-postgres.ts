/** A throwaway PostgreSQL server for the end-to-end tests of one describe block. */
import { afterAll, beforeAll } from "@effect/vitest"
import { type PostgresServer, startPostgres } from "./postgres.js"

/** Starts a server before the block's tests and stops it after them; the function answers its URL. */
export const serverForBlock = (): () => string => {
  let server: PostgresServer | undefined
  beforeAll(async () => {
    server = await startPostgres()
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
  })
  return () => {
    if (server === undefined) throw new Error("PostgreSQL did not start")
    return server.url
  }
}
