/**
 * A throwaway PostgreSQL server for the end-to-end tests. It lives with the core package's tests, which use it too:
 * TypeScript project references let this project read that one's files but not the other way round.
 */
export * from "../../packages/core/test/support/postgres.js"
