import type { HttpServer } from "@effect/platform"

/**
 * The URL of an address a server listens on. @effect/platform's `formatAddress` leaves an IPv6 host without the
 * brackets a URL needs (`http://::1:8642`), which no browser or curl opens.
 */
export const urlOf = (address: HttpServer.Address): string =>
  address._tag === "UnixAddress"
    ? `unix://${address.path}`
    : `http://${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${address.port}`
