/** The schema v1 ledger fixture of packages/core, for the end-to-end tests. */
export * from "../../packages/core/test/support/v1Ledger.js"
