/**
 * @comment-dm/core: comment-to-DM campaigns on the Upload-Post API, as Effect services, layers and a `Campaign`
 * program.
 *
 * The ledgers on a database of their own are subpath exports, so that their drivers stay optional:
 * `@comment-dm/core/sqlite` (SqliteLedger, needs `@effect/sql-sqlite-node`) and `@comment-dm/core/pg` (PgLedger, needs
 * `@effect/sql-pg`).
 */
export * as Buttons from "./Buttons.js"
export * as Campaign from "./Campaign.js"
export * as CampaignSpec from "./CampaignSpec.js"
export * as Claimant from "./Claimant.js"
export * as DailyBudget from "./DailyBudget.js"
export * as DryRun from "./DryRun.js"
export * as Forget from "./Forget.js"
export * as Heartbeat from "./Heartbeat.js"
export * as KeepAliveHttpClient from "./KeepAliveHttpClient.js"
export * as Ledger from "./Ledger.js"
export * as Matcher from "./Matcher.js"
export * as OwnAccount from "./OwnAccount.js"
export * as Pacer from "./Pacer.js"
export * as PostLeases from "./PostLeases.js"
export * as Reach from "./Reach.js"
export * as ReadAllowance from "./ReadAllowance.js"
export * as Reconcile from "./Reconcile.js"
export * as ReportData from "./ReportData.js"
export * as RequestBudget from "./RequestBudget.js"
export * as RequestMetrics from "./RequestMetrics.js"
export * as Retry from "./Retry.js"
export * as Run from "./Run.js"
export * as Sender from "./Sender.js"
export * as SharedPacer from "./SharedPacer.js"
export * as SqlLedger from "./SqlLedger.js"
export * as StopSignal from "./StopSignal.js"
export * as Suppression from "./Suppression.js"
export * as Template from "./Template.js"
export * as UploadPost from "./UploadPost.js"
export * as UploadPostError from "./UploadPostError.js"
export * as UploadPostSchema from "./UploadPostSchema.js"
export * as Watch from "./Watch.js"
