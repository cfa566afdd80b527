/**
 * @comment-dm/core: comment-to-DM campaigns on the Upload-Post API, as Effect services, layers and a `Campaign`
 * program.
 */
export * as Campaign from "./Campaign.js"
export * as CampaignSpec from "./CampaignSpec.js"
export * as HttpTransport from "./HttpTransport.js"
export * as Ledger from "./Ledger.js"
export * as Matcher from "./Matcher.js"
export * as Pacer from "./Pacer.js"
export * as PgLedger from "./PgLedger.js"
export * as Reconcile from "./Reconcile.js"
export * as Retry from "./Retry.js"
export * as Run from "./Run.js"
export * as Runner from "./Runner.js"
export * as SharedPacer from "./SharedPacer.js"
export * as SqliteLedger from "./SqliteLedger.js"
export * as SqlLedger from "./SqlLedger.js"
export * as Template from "./Template.js"
export * as UploadPost from "./UploadPost.js"
export * as UploadPostError from "./UploadPostError.js"
export * as UploadPostSchema from "./UploadPostSchema.js"
export * as Watch from "./Watch.js"
