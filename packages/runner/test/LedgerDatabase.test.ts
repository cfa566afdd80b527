/** Where the default ledger lives on each platform, from the environment and the home directory alone. */
import { assert, describe, it } from "@effect/vitest"
import { userLedgerPath } from "../src/LedgerDatabase.js"

describe("userLedgerPath", () => {
  it("takes an absolute $XDG_DATA_HOME on every platform, and ignores a relative or blank one", () => {
    for (const platform of ["linux", "darwin", "win32"] as const) {
      const xdg = platform === "win32" ? "D:\\data" : "/data/xdg"
      const file = userLedgerPath({ env: { XDG_DATA_HOME: xdg }, platform, homedir: "/home/ann" })
      assert.strictEqual(
        file,
        platform === "win32" ? "D:\\data\\comment-dm\\ledger.sqlite" : "/data/xdg/comment-dm/ledger.sqlite"
      )
    }
    for (const XDG_DATA_HOME of ["relative/dir", "", "   "]) {
      assert.strictEqual(
        userLedgerPath({ env: { XDG_DATA_HOME }, platform: "linux", homedir: "/home/ann" }),
        "/home/ann/.local/share/comment-dm/ledger.sqlite",
        JSON.stringify(XDG_DATA_HOME)
      )
    }
  })

  it("else the platform's place for application data under the home directory", () => {
    assert.strictEqual(
      userLedgerPath({ env: {}, platform: "linux", homedir: "/home/ann" }),
      "/home/ann/.local/share/comment-dm/ledger.sqlite"
    )
    assert.strictEqual(
      userLedgerPath({ env: {}, platform: "darwin", homedir: "/Users/ann" }),
      "/Users/ann/Library/Application Support/comment-dm/ledger.sqlite"
    )
    assert.strictEqual(
      userLedgerPath({
        env: { LOCALAPPDATA: "C:\\Users\\ann\\AppData\\Local" },
        platform: "win32",
        homedir: "C:\\Users\\ann"
      }),
      "C:\\Users\\ann\\AppData\\Local\\comment-dm\\ledger.sqlite"
    )
    assert.strictEqual(
      userLedgerPath({ env: {}, platform: "win32", homedir: "C:\\Users\\ann" }),
      "C:\\Users\\ann\\AppData\\Local\\comment-dm\\ledger.sqlite"
    )
  })

  it("none without a home directory (nor an XDG one)", () => {
    for (const homedir of ["", "relative"]) {
      assert.isUndefined(userLedgerPath({ env: {}, platform: "linux", homedir }), JSON.stringify(homedir))
    }
  })
})
