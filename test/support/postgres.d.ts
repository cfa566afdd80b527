/** Where the server binaries are and whom they run as. */
export interface PostgresInstall {
  /** Holds `initdb`, `pg_ctl` and `createdb`. */
  readonly binDir: string
  /** The system user that owns and runs the cluster when this process is root; `undefined` runs it as ourselves. */
  readonly owner: SystemUser | undefined
}
export interface SystemUser {
  readonly name: string
  readonly uid: number
  readonly gid: number
}
/** A server can be started (`install`), or it cannot and `reason` says why. */
export type PostgresLookup = {
  readonly install: PostgresInstall
  readonly reason: undefined
} | {
  readonly install: undefined
  readonly reason: string
}
export interface PostgresServer {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/<database>` */
  readonly url: string
  /** Stops the server and deletes its directory; calling it again does nothing. */
  readonly stop: () => Promise<void>
}
/**
 * Finds the server binaries without starting anything, for `describe.skipIf(findPostgres().install === undefined)`.
 */
export declare const findPostgres: () => PostgresLookup
/**
 * Starts a fresh server and creates an empty database on it. Takes a couple of seconds; `stop` must be called (a
 * server still running when the process exits is stopped then).
 */
export declare const startPostgres: () => Promise<PostgresServer>
// # sourceMappingURL=postgres.d.ts.map
