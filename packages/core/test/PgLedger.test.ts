import { findPostgres } from "./support/postgres.js"
export const x = findPostgres()
