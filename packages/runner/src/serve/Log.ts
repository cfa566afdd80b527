/**
 * The log of `comment-dm serve`: one line per thing that happened, on stdout, as text (default) or as one JSON object
 * a line (`--log-format json`) with the time, the level, and the campaign, profile, step and person it is about where
 * one applies. Every line is made visible (Visible.ts): usernames and the platform's texts come from strangers.
 */
import type { Campaign } from "@comment-dm/core"
import { Effect } from "effect"
import * as Display from "../Display.js"
import { visible } from "../Visible.js"

export type Format = "text" | "json"
export type Level = "info" | "warn" | "error"

/** What a line is about; each field only where it applies. */
export interface Fields {
  readonly campaign?: string | undefined
  readonly profile?: string | undefined
  readonly file?: string | undefined
  readonly step?: string | undefined
  readonly person?: string | undefined
  readonly username?: string | undefined
  /** The event or happening, for programs that read the log: `Sent`, `Parked`, `FileBroken`, ... */
  readonly event?: string | undefined
}

export interface Log {
  readonly write: (level: Level, message: string, fields?: Fields) => Effect.Effect<void>
}

/** Fields in the order a JSON line gives them, the empty ones left out. */
const present = (fields: Fields): Record<string, string> =>
  Object.fromEntries(
    (["campaign", "profile", "file", "step", "person", "username", "event"] as const).flatMap((key) => {
      const value = fields[key]
      return value === undefined ? [] : [[key, value]]
    })
  )

/** A text line: time, level, who it is about in brackets, then the message. */
const textLine = (time: string, level: Level, message: string, fields: Fields): string => {
  const about = [
    fields.campaign,
    fields.profile === undefined ? undefined : `@${fields.profile}`,
    fields.campaign === undefined ? fields.file : undefined
  ].filter((part) => part !== undefined)
  return `${time} ${level.padEnd(5)} ${about.length > 0 ? `[${about.join(" ")}] ` : ""}${message}`
}

export const make = (format: Format, out: NodeJS.WritableStream = process.stdout): Log => ({
  write: (level, message, fields = {}) =>
    Effect.sync(() => {
      const time = new Date().toISOString()
      // A message of several lines (a campaign file's problems) stays one line of the log.
      const line = format === "json"
        ? JSON.stringify({ time, level, ...present(fields), message })
        : textLine(time, level, message.replace(/\s*\n\s*/g, " | "), fields)
      out.write(`${visible(line)}\n`)
    })
})

const levelOf = (event: Campaign.Event): Level => {
  switch (event._tag) {
    case "Refused":
    case "InDoubt":
    case "PollFailed":
    case "Problem":
    case "DailyLimit":
      return "warn"
    default:
      return "info"
  }
}

/** A step, for engines whose events name one (`step` on the event), else none. */
const stepOf = (event: Campaign.Event): string | undefined =>
  "step" in event && typeof event.step === "string" ? event.step : undefined

/**
 * An event of a campaign's watcher as a log line. Page reads are left out: a poll's heartbeat (`Polled`) says what
 * it read, and a line per page of every campaign would drown the rest.
 */
export const event =
  (log: Log, about: { readonly campaign: string; readonly profile: string }) =>
  (event: Campaign.Event): Effect.Effect<void> => {
    if (event._tag === "PageRead") return Effect.void
    const text = Display.describe(event)
    if (text === undefined) return Effect.void
    const person = "userId" in event ? { person: event.userId, username: event.username } : {}
    return log.write(levelOf(event), text, { ...about, step: stepOf(event), ...person, event: event._tag })
  }
