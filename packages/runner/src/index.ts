/**
 * @comment-dm/runner: the `comment-dm` command's parts, for programs that want its campaign-file loading,
 * ledger selection or display.
 */
export * as CampaignFile from "./CampaignFile.js"
export * as Cli from "./Cli.js"
export * as Display from "./Display.js"
export * as ExitCode from "./ExitCode.js"
export * as LedgerDatabase from "./LedgerDatabase.js"
export * as Status from "./Status.js"
