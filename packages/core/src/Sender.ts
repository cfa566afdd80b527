/**
 * How a claimed step's request is made: a port the delivery stage takes from its context. Without one, a run sends
 * through the Upload-Post client; `DryRun.layer` provides one that makes no request, which makes the run a rehearsal.
 */
import { Context, Effect } from "effect"
import type * as Step from "./campaign/Step.js"
import type * as Ledger from "./Ledger.js"
import type * as UploadPost from "./UploadPost.js"
import type * as Errors from "./UploadPostError.js"

export interface Service {
  /** One attempt of a step's request to a claimed person. */
  readonly send: (
    step: Step.Step,
    target: Step.Target,
    message: string,
    path: Ledger.MessagePath | undefined
  ) => Effect.Effect<UploadPost.Delivered, Errors.SendError>
  /**
   * Whether the requests only rehearse: nothing goes out, so the run tells each send as one it would make, counts
   * what it saw rather than what the ledger holds, and ends `dry_run`.
   */
  readonly rehearsal: boolean
}

export class Sender extends Context.Tag("@comment-dm/core/Sender")<Sender, Service>() {}

/** Sends through the Upload-Post client: the step's own request. */
export const make = (api: UploadPost.UploadPost): Service => ({
  send: (step, target, message, path) => step.send(api, target, message, path),
  rehearsal: false
})

/** Makes no request: every send goes through at once, as one the run would make. */
export const wouldSend: Service = {
  send: (_step, target) => Effect.succeed({ messageId: "", recipientId: target.userId }),
  rehearsal: true
}
