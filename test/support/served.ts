/**
 * A command that serves HTTP until stopped (`dashboard`, `watch --http`): started as a child process, and the address
 * it says it listens on read from its output.
 */
import type { ChildProcess } from "node:child_process"
import { type CliOptions, startCli } from "./cli.js"

export interface Served {
  readonly child: ChildProcess
  /** The base URL the command announced, e.g. `http://127.0.0.1:41234/`. */
  readonly url: string
  /** Everything it wrote so far, stdout and stderr. */
  readonly output: () => string
  /** SIGTERM, then its exit code. */
  readonly stop: () => Promise<number | null>
}

/** Starts the command and waits for a line of its output that `announced` finds a URL in. */
export const startServed = (
  args: ReadonlyArray<string>,
  announced: RegExp,
  options: CliOptions = {}
): Promise<Served> =>
  new Promise((resolve, reject) => {
    const child = startCli(args, options)
    let output = ""
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`no address announced within 30 s:\n${output}`))
    }, 30_000)
    const take = (chunk: string) => {
      output += chunk
      const url = announced.exec(output)?.[1]
      if (url === undefined) return
      clearTimeout(timer)
      resolve({
        child,
        url,
        output: () => output,
        stop: () => {
          child.kill("SIGTERM")
          return exited
        }
      })
    }
    child.stdout?.setEncoding("utf8").on("data", take)
    child.stderr?.setEncoding("utf8").on("data", take)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`exited ${code} before announcing an address:\n${output}`))
    })
  })
