/**
 * The workers of a pass: people taken from a stream, at most so many at a time, and the order private replies need.
 */
import { Chunk, Clock, Effect, Option, Queue, Stream } from "effect"
import type { Target } from "./Step.js"

/** People waiting for a sender: reading goes on while earlier people are sent to. */
const sendQueueCapacity = 1024

/**
 * Runs `f` for every element of the stream, at most `concurrency` at a time, in the order the elements arrive:
 * `concurrency` workers take from one bounded queue that the stream fills. It does what
 * `Stream.mapEffect(f, { concurrency, unordered: true })` after a `Stream.buffer` does, at a fraction of the cost
 * per element (that stage costs hundreds of microseconds per element, more than a DM request). A failure of the stream
 * or of any `f` interrupts the rest, as in the stream version.
 */
export const forEachConcurrently = <A, E, E2, R, R2>(
  stream: Stream.Stream<A, E, R>,
  f: (element: A) => Effect.Effect<void, E2, R2>,
  concurrency: number
): Effect.Effect<void, E | E2, R | R2> =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<Option.Option<A>>(sendQueueCapacity)
    const workers = Math.max(1, concurrency)
    // Each worker stops at the end mark it takes; the marks come after every element.
    const fill = Stream.runForEachChunk(stream, (chunk) => Queue.offerAll(queue, Chunk.map(chunk, Option.some))).pipe(
      Effect.zipRight(Queue.offerAll(queue, Array.from({ length: workers }, () => Option.none<A>())))
    )
    const work = Effect.gen(function*() {
      while (true) {
        const next = yield* Queue.take(queue)
        if (Option.isNone(next)) return
        yield* f(next.value)
      }
    })
    yield* Effect.all([fill, ...Array.from({ length: workers }, () => work)], {
      concurrency: "unbounded",
      discard: true
    })
  })

/**
 * The whole pass, nearest deadline first (as things stand once the pass is collected): DMs by the end of their
 * window, private replies by the end of their 7 days. A person handed on twice (a newer comment met later in the
 * pass) goes once, with the newer comment.
 */
const commentTimeOf = (target: Target) => target.commentTime?.getTime() ?? Number.NEGATIVE_INFINITY

export const byDeadline = <A extends Target, E>(
  people: Stream.Stream<A, E>,
  deadline: (target: Target, now: number) => number
): Stream.Stream<A, E> =>
  Stream.unwrap(
    Effect.zipWith(Stream.runCollect(people), Clock.currentTimeMillis, (all, now) => {
      const newest = new Map<string, A>()
      for (const person of all) {
        const known = newest.get(person.userId)
        if (known === undefined || commentTimeOf(known) < commentTimeOf(person)) newest.set(person.userId, person)
      }
      const sorted = Array.from(newest.values(), (person) => ({ person, at: deadline(person, now) }))
      sorted.sort((a, b) => a.at - b.at)
      return Stream.fromIterable(sorted.map(({ person }) => person))
    })
  )
