/**
 * What `comment-dm serve` knows of its campaigns, kept in memory: each campaign's state (running, parked with the
 * reason and the next try, ...), the problems of the folder's files, and the sends since the process started. It
 * answers `/healthz` (JSON; 503 while any campaign is parked or the ledger does not answer) and `/metrics`
 * (Prometheus text).
 */
import type { Campaign } from "@comment-dm/core"

/**
 * - `starting`: its watcher is opening (the profile, the posts, people in doubt);
 * - `running`: its watcher follows the posts;
 * - `parked`: the platform refused its key, account or campaign (or its key's variable is not set): it waits and
 *   tries again on the slow schedule, or at once when its file changes, and stays parked until a watcher starts;
 * - `retrying`: its watcher could not start for a passing reason (the API failing); it tries again sooner;
 * - `paused`: its file says `active: false`: kept loaded, nothing read or sent, until the file changes;
 * - `ended`: its `until` has passed: nothing more is read or sent, until the file changes.
 */
export type State = "starting" | "running" | "parked" | "retrying" | "paused" | "ended"

/** What happened to the people a watcher handled since the process started, by outcome. */
export type Outcome = "sent" | "refused" | "skipped" | "pending" | "in_doubt"

export interface CampaignHealth {
  readonly name: string
  file: string
  profile: string
  state: State
  /** Since when it is in this state. */
  since: Date
  /** Why it is parked or retrying. */
  reason: string | undefined
  retryAt: Date | undefined
  /** Its file's problem, while it runs on the last good version (or while another file has its name). */
  fileProblem: string | undefined
  /** Figures of its latest progress event: the ledger's people of this watcher. */
  pending: number
  inDoubt: number
  readonly outcomes: Record<Outcome, number>
}

const outcomeOf: Partial<Record<Campaign.Event["_tag"], Outcome>> = {
  Sent: "sent",
  Refused: "refused",
  Skipped: "skipped",
  Postponed: "pending",
  InDoubt: "in_doubt"
}

export class Board {
  readonly campaigns = new Map<string, CampaignHealth>()
  /** Files that cannot run (broken, or a name another file has too), by path, with what is wrong. */
  files = new Map<string, string>()

  /** The campaign's entry, made when it is first met. */
  entry(name: string, file: string, profile: string): CampaignHealth {
    const known = this.campaigns.get(name)
    if (known !== undefined) {
      known.file = file
      known.profile = profile
      return known
    }
    const made: CampaignHealth = {
      name,
      file,
      profile,
      state: "starting",
      since: new Date(),
      reason: undefined,
      retryAt: undefined,
      fileProblem: undefined,
      pending: 0,
      inDoubt: 0,
      outcomes: { sent: 0, refused: 0, skipped: 0, pending: 0, in_doubt: 0 }
    }
    this.campaigns.set(name, made)
    return made
  }

  set(name: string, state: State, reason?: string, retryAt?: Date): void {
    const entry = this.campaigns.get(name)
    if (entry === undefined) return
    if (entry.state !== state) entry.since = new Date()
    entry.state = state
    entry.reason = reason
    entry.retryAt = retryAt
  }

  /** Counts an event of the campaign's watcher; its start makes the campaign `running`. */
  record(name: string, event: Campaign.Event): void {
    const entry = this.campaigns.get(name)
    if (entry === undefined) return
    if (event._tag === "Started") this.set(name, "running")
    const outcome = outcomeOf[event._tag]
    if (outcome !== undefined) entry.outcomes[outcome]++
    if ("progress" in event) {
      entry.pending = event.progress.pending
      entry.inDoubt = event.progress.inDoubt
    }
  }

  /** `/healthz`: healthy unless a campaign is parked or the ledger does not answer. */
  health(ledgerAnswers: boolean) {
    const campaigns = [...this.campaigns.values()].sort((a, b) => a.name.localeCompare(b.name))
    const parked = campaigns.filter((campaign) => campaign.state === "parked")
    return {
      healthy: ledgerAnswers && parked.length === 0,
      body: {
        status: !ledgerAnswers ? "ledger_unreachable" : parked.length > 0 ? "parked" : "ok",
        ledger: ledgerAnswers ? "ok" : "unreachable",
        parked_profiles: [...new Set(parked.map((campaign) => campaign.profile))].sort(),
        campaigns: campaigns.map((campaign) => ({
          name: campaign.name,
          file: campaign.file,
          profile: campaign.profile,
          state: campaign.state,
          since: campaign.since.toISOString(),
          reason: campaign.reason ?? null,
          retry_at: campaign.retryAt?.toISOString() ?? null,
          file_problem: campaign.fileProblem ?? null,
          sent: campaign.outcomes.sent,
          pending: campaign.pending,
          in_doubt: campaign.inDoubt
        })),
        files: [...this.files].sort(([a], [b]) => a.localeCompare(b)).map(([path, problem]) => ({ path, problem }))
      }
    }
  }

  /** `/metrics`, in Prometheus's text format. */
  metrics(ledgerAnswers: boolean): string {
    const campaigns = [...this.campaigns.values()].sort((a, b) => a.name.localeCompare(b.name))
    const lines: Array<string> = []
    const family = (name: string, type: "counter" | "gauge", help: string, samples: ReadonlyArray<string>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples)
    }
    const label = (campaign: CampaignHealth) => `campaign="${escapeLabel(campaign.name)}"`
    family(
      "comment_dm_people_total",
      "counter",
      "People a campaign's watcher handled since the process started, by outcome.",
      campaigns.flatMap((campaign) =>
        Object.entries(campaign.outcomes).map(([outcome, count]) =>
          `comment_dm_people_total{${label(campaign)},outcome="${outcome}"} ${count}`
        )
      )
    )
    family(
      "comment_dm_pending",
      "gauge",
      "People waiting to be sent to, as of the campaign's latest progress.",
      campaigns.map((campaign) => `comment_dm_pending{${label(campaign)}} ${campaign.pending}`)
    )
    family(
      "comment_dm_in_doubt",
      "gauge",
      "People whose message may have gone out, waiting for reconciliation.",
      campaigns.map((campaign) => `comment_dm_in_doubt{${label(campaign)}} ${campaign.inDoubt}`)
    )
    family(
      "comment_dm_campaign_state",
      "gauge",
      "1 for the state each campaign is in.",
      campaigns.map((campaign) =>
        `comment_dm_campaign_state{${label(campaign)},profile="${
          escapeLabel(campaign.profile)
        }",state="${campaign.state}"} 1`
      )
    )
    family("comment_dm_broken_files", "gauge", "Campaign files that cannot run.", [
      `comment_dm_broken_files ${this.files.size}`
    ])
    family("comment_dm_ledger_up", "gauge", "1 when the ledger answers.", [
      `comment_dm_ledger_up ${ledgerAnswers ? 1 : 0}`
    ])
    return `${lines.join("\n")}\n`
  }
}

/** A label value as Prometheus's text format writes it. */
const escapeLabel = (text: string): string => text.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")
