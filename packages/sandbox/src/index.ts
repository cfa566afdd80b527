/**
 * A local stand-in for the Upload-Post API with fault injection and a control API.
 */
export * as Control from "./Control.js"
export * as DataSet from "./DataSet.js"
export * as Delivery from "./Delivery.js"
export * as Faults from "./Faults.js"
export * as Profiles from "./Profiles.js"
export * as Sandbox from "./Sandbox.js"
