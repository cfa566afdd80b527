/**
 * A throwaway PostgreSQL server for tests: a fresh cluster in a temporary directory, listening on a free loopback
 * port, with password authentication over TCP and one empty database. Stopping it deletes everything.
 *
 * Needs the server binaries (`scripts/ensure-postgres.sh` installs Debian's). PostgreSQL refuses to run as root, so
 * a root process runs the server as the `postgres` system user.
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"

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
export type PostgresLookup =
  | { readonly install: PostgresInstall; readonly reason: undefined }
  | { readonly install: undefined; readonly reason: string }

export interface PostgresServer {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/<database>` */
  readonly url: string
  /** Stops the server and deletes its directory; calling it again does nothing. */
  readonly stop: () => Promise<void>
}

const requiredPrograms = ["initdb", "pg_ctl", "createdb"] as const

const isExecutable = (path: string): boolean => {
  try {
    Fs.accessSync(path, Fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Debian's versioned directories, newest first, then the directories on PATH. */
const candidateBinDirs = (): Array<string> => {
  const root = "/usr/lib/postgresql"
  const versions = Fs.existsSync(root) ? Fs.readdirSync(root) : []
  const debian = versions
    .filter((version) => /^\d+(\.\d+)?$/.test(version))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    .map((version) => Path.join(root, version, "bin"))
  const onPath = (process.env["PATH"] ?? "").split(Path.delimiter).filter((dir) => dir.length > 0)
  return [...debian, ...onPath]
}

const systemUser = (name: string): SystemUser | undefined => {
  const passwd = Fs.existsSync("/etc/passwd") ? Fs.readFileSync("/etc/passwd", "utf8") : ""
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid] = line.split(":")
    if (user === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number.parseInt(uid, 10), gid: Number.parseInt(gid, 10) }
    }
  }
  return undefined
}

/**
 * Finds the server binaries without starting anything, for `describe.skipIf(findPostgres().install === undefined)`.
 */
export const findPostgres = (): PostgresLookup => {
  const binDir = candidateBinDirs().find((dir) =>
    requiredPrograms.every((program) => isExecutable(Path.join(dir, program)))
  )
  if (binDir === undefined) {
    return {
      install: undefined,
      reason: `no PostgreSQL server binaries (${
        requiredPrograms.join(", ")
      }) under /usr/lib/postgresql/*/bin or on PATH; run scripts/ensure-postgres.sh`
    }
  }
  if (process.getuid?.() !== 0) return { install: { binDir, owner: undefined }, reason: undefined }
  const owner = systemUser("postgres")
  if (owner === undefined) {
    return {
      install: undefined,
      reason: "PostgreSQL refuses to run as root and there is no `postgres` system user to run it as"
    }
  }
  return { install: { binDir, owner }, reason: undefined }
}

/** Runs a server program, as the cluster's owner when we are root; fails with its output. */
const run = (install: PostgresInstall, program: string, args: ReadonlyArray<string>, cwd: string): Promise<string> => {
  const executable = Path.join(install.binDir, program)
  const [command, commandArgs] = install.owner === undefined
    ? [executable, args]
    : ["runuser", ["-u", install.owner.name, "--", executable, ...args]]
  return new Promise((resolve, reject) => {
    ChildProcess.execFile(command, commandArgs, { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout)
      else reject(new Error(`${program} failed: ${error.message}\n${stdout}${stderr}`.trim()))
    })
  })
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port)
        else reject(new Error("could not find a free port"))
      })
    })
  })

const logTail = (logFile: string): string =>
  Fs.existsSync(logFile) ? Fs.readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n") : ""

const dataDirOf = (directory: string): string => Path.join(directory, "data")

/** Immediate shutdown: the data is thrown away anyway. */
const stopArgs = (directory: string) => ["-D", dataDirOf(directory), "-m", "immediate", "-w", "stop"]

const isStarted = (directory: string): boolean => Fs.existsSync(Path.join(dataDirOf(directory), "postmaster.pid"))

const removeDirectory = (directory: string): void => Fs.rmSync(directory, { recursive: true, force: true })

/** Stops the server and deletes its directory, synchronously: for the process's exit and abandoned servers. */
const stopNow = (install: PostgresInstall, directory: string): void => {
  try {
    if (isStarted(directory)) {
      const pgCtl = Path.join(install.binDir, "pg_ctl")
      const [command, args] = install.owner === undefined
        ? [pgCtl, stopArgs(directory)]
        : ["runuser", ["-u", install.owner.name, "--", pgCtl, ...stopArgs(directory)]]
      ChildProcess.execFileSync(command, args, { cwd: directory, stdio: "ignore" })
    }
  } finally {
    removeDirectory(directory)
  }
}

const database = "comment_dm_test"
const superuser = "postgres"
const directoryPrefix = "comment-dm-pg-"
/** Holds the id of the process that started the server, so that a later run can tell an abandoned server. */
const ownerFile = "owner.pid"

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return error instanceof Error && "code" in error && error.code === "EPERM"
  }
}

/** Stops the servers of test processes that were killed before they could stop them. */
const stopAbandoned = (install: PostgresInstall): void => {
  for (const name of Fs.readdirSync(Os.tmpdir())) {
    if (!name.startsWith(directoryPrefix)) continue
    const directory = Path.join(Os.tmpdir(), name)
    try {
      const owner = Number.parseInt(Fs.readFileSync(Path.join(directory, ownerFile), "utf8"), 10)
      if (!Number.isNaN(owner) && !isRunning(owner)) stopNow(install, directory)
    } catch {
      // Not ours, or another test process is cleaning it up at the same time.
    }
  }
}

/**
 * Starts a fresh server and creates an empty database on it. Takes a couple of seconds; `stop` must be called (a
 * server still running when the process exits is stopped then).
 */
export const startPostgres = async (): Promise<PostgresServer> => {
  const { install, reason } = findPostgres()
  if (install === undefined) throw new Error(`cannot start PostgreSQL: ${reason}`)

  stopAbandoned(install)
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), directoryPrefix))
  Fs.writeFileSync(Path.join(directory, ownerFile), String(process.pid))
  const dataDir = dataDirOf(directory)
  const logFile = Path.join(directory, "server.log")
  let stopped = false
  const stopOnExit = () => {
    if (!stopped) stopNow(install, directory)
  }
  process.once("exit", stopOnExit)
  const stop = async () => {
    if (stopped) return
    stopped = true
    process.removeListener("exit", stopOnExit)
    try {
      if (isStarted(directory)) await run(install, "pg_ctl", stopArgs(directory), directory)
    } finally {
      removeDirectory(directory)
    }
  }

  try {
    // Hex keeps the password usable in a URL as it is.
    const password = Crypto.randomBytes(16).toString("hex")
    const passwordFile = Path.join(directory, "password")
    Fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 })
    if (install.owner !== undefined) {
      Fs.chownSync(directory, install.owner.uid, install.owner.gid)
      Fs.chownSync(passwordFile, install.owner.uid, install.owner.gid)
    }
    // Trust only on the socket, which lives in the private directory; TCP needs the password.
    await run(install, "initdb", [
      "-D",
      dataDir,
      "-U",
      superuser,
      `--pwfile=${passwordFile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync"
    ], directory)

    // The port may be taken between finding it and binding it: try a few.
    let port = 0
    for (let attempt = 1;; attempt++) {
      port = await freePort()
      // Durability is pointless for a throwaway cluster; dropping it makes the server much faster.
      const serverOptions = [
        `-p ${port}`,
        `-k '${directory}'`,
        "-c listen_addresses=127.0.0.1",
        "-c fsync=off",
        "-c synchronous_commit=off",
        "-c full_page_writes=off"
      ].join(" ")
      try {
        await run(
          install,
          "pg_ctl",
          ["-D", dataDir, "-l", logFile, "-o", serverOptions, "-w", "-t", "30", "start"],
          directory
        )
        break
      } catch (error) {
        if (attempt >= 3) {
          throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logTail(logFile)}`)
        }
      }
    }
    await run(install, "createdb", ["-h", directory, "-p", String(port), "-U", superuser, database], directory)
    return { url: `postgres://${superuser}:${password}@127.0.0.1:${port}/${database}`, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
