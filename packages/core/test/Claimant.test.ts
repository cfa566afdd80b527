import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Claimant from "../src/Claimant.js"

const here: Claimant.Claimant = {
  host: "worker",
  pid: 4242,
  start: "m1abcdef",
  space: Claimant.spaceOf({ boot: "50d3d05b-d58d-4c46-9eec-3b9051949135", pidNamespace: "pid:[4026531836]" })
}

/** A pid check that records what it was asked. */
const pidCheck = (alive: boolean) => {
  const asked: Array<number> = []
  return { asked, isRunning: (pid: number) => (asked.push(pid), alive) }
}

/** A process that has run and exited: its pid names nobody now (pids are not reused this fast). */
const exitedPid = Effect.async<number>((resume) => {
  const child = ChildProcess.spawn(process.execPath, ["-e", ""], { stdio: "ignore" })
  child.on("exit", () => resume(Effect.succeed(child.pid!)))
})

describe("Claimant", () => {
  it("two processes with the same hostname and pid but another boot or another pid namespace are other claimants", () => {
    const otherBoot = Claimant.spaceOf({
      boot: "0f9a1c2e-0000-4000-8000-000000000001",
      pidNamespace: "pid:[4026531836]"
    })
    const otherContainer = Claimant.spaceOf({
      boot: "50d3d05b-d58d-4c46-9eec-3b9051949135",
      pidNamespace: "pid:[4026532451]"
    })
    const ids = [here, { ...here, space: otherBoot }, { ...here, space: otherContainer }].map(Claimant.format)
    assert.strictEqual(new Set(ids).size, 3)
    for (const id of ids) assert.isTrue(id.startsWith("worker/4242/m1abcdef/"), id)
  })

  it("the pid check does not apply to a claimant of another boot or pid namespace, nor to one of unknown space", () => {
    const check = pidCheck(false)
    const otherBoot = Claimant.format({
      ...here,
      space: Claimant.spaceOf({ boot: "another boot", pidNamespace: "pid:[4026531836]" })
    })
    assert.strictEqual(Claimant.liveness(otherBoot, here, check.isRunning), "unknown")
    // Written before the pid space was part of an id: its process may have lived anywhere with this hostname.
    assert.strictEqual(Claimant.liveness("worker/77/m0zzzzzz", here, check.isRunning), "unknown")
    assert.strictEqual(Claimant.liveness(Claimant.format({ ...here, host: "other" }), here, check.isRunning), "unknown")
    assert.strictEqual(Claimant.liveness("runner-a", here, check.isRunning), "unknown")
    assert.deepStrictEqual(check.asked, [], "no pid was looked up")
  })

  it("in this pid space, the pid answers: a dead process is dead and a live one is alive", () => {
    const dead = pidCheck(false)
    const other = Claimant.format({ ...here, pid: 99, start: "m1zzzzzz" })
    assert.strictEqual(Claimant.liveness(other, here, dead.isRunning), "dead")
    assert.deepStrictEqual(dead.asked, [99])
    assert.strictEqual(Claimant.liveness(other, here, pidCheck(true).isRunning), "alive")
    assert.strictEqual(Claimant.liveness(Claimant.format(here), here, dead.isRunning), "alive", "this process")
  })

  it("reads ids of this version and of earlier ones, and nothing else", () => {
    assert.deepStrictEqual(Claimant.parse(Claimant.format(here)), here)
    assert.deepStrictEqual(Claimant.parse("old-host/1234/lx2abc9"), {
      host: "old-host",
      pid: 1234,
      start: "lx2abc9",
      space: undefined
    })
    // A start and a space that are digits only are still told apart from an earlier id.
    assert.deepStrictEqual(Claimant.parse("h/1/12345678/012345678901"), {
      host: "h",
      pid: 1,
      start: "12345678",
      space: "012345678901"
    })
    for (const id of ["", "runner-a", "h/x/abc", "h/1/ABC", "h/1/abc/not-hex-12ch", "h/1/abc/0123"]) {
      assert.isUndefined(Claimant.parse(id), id)
    }
  })

  it("this process's id names its host and pid, and its pid space from the boot id and the pid namespace", () => {
    const parsed = Claimant.parse(Claimant.currentId)
    assert.deepStrictEqual(parsed, Claimant.current)
    assert.strictEqual(parsed?.host, Os.hostname())
    assert.strictEqual(parsed?.pid, process.pid)
    const sources = Claimant.currentSources()
    assert.strictEqual(parsed?.space, Claimant.spaceOf(sources))
    if (Fs.existsSync("/proc/sys/kernel/random/boot_id")) {
      assert.strictEqual(sources.boot, Fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim())
      assert.match(sources.pidNamespace, /^pid:\[\d+\]$/)
    } else {
      assert.match(sources.boot, /^boot-\d+$/)
    }
  })

  it.effect("a claimant of this pid space whose process has exited is dead; this process is alive", () =>
    Effect.gen(function*() {
      const pid = yield* exitedPid
      const gone = Claimant.format({ ...Claimant.current, pid, start: "m1000000" })
      assert.strictEqual(Claimant.liveness(gone), "dead")
      assert.strictEqual(Claimant.liveness(Claimant.currentId), "alive")
      const sibling = Claimant.format({ ...Claimant.current, pid: process.ppid, start: "m1000000" })
      assert.strictEqual(Claimant.liveness(sibling), "alive", "a live process of another claimant")
    }))
})
