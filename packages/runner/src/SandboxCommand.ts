/**
 * `comment-dm sandbox`: the local stand-in for the Upload-Post API (packages/sandbox) as a subcommand, so that the one
 * installed binary serves both a rehearsal's API and its campaign.
 */
export { command } from "@comment-dm/sandbox/bin"
