package protocol

import (
	"strings"
	"time"
)

// Dead letters. A queue message that can never be handled (its body does
// not decode, its encoding is unknown, it is larger than its queue's own
// limit, or no host of the actor's kind declares its queue) is moved, not
// deleted: the host publishes it to [Names.DeadLetterStream] on the
// subject [Names.DeadLetterSubject] of its queue subject, with the reason
// in headers, and only then deletes it from the queue. Dead letters are
// read with `nats stream view <bucket>_deadletters` (or a subject filter
// per actor, mirroring the queue subjects) and counted per queue by the
// inspector's queue view. They expire after [DeadLetterMaxAge]; the stream
// keeps at most [DeadLetterMaxMsgs] (the oldest go first).

// Dead-letter limits.
const (
	DeadLetterMaxAge  = 7 * 24 * time.Hour
	DeadLetterMaxMsgs = 100_000
)

// Dead-letter headers (beside the original Rivet-Encoding and Rivet-Reply).
const (
	// HeaderDeadReason says, for people, why the message was not handled.
	HeaderDeadReason = "Rivet-Dead-Reason"
	// HeaderDeadCode is the error code of the reason, e.g.
	// "queue/invalid_body".
	HeaderDeadCode = "Rivet-Dead-Code"
	// HeaderDeadSeq is the message's sequence in the queue stream.
	HeaderDeadSeq = "Rivet-Dead-Seq"
)

// DeadLetterStream is the stream of dead-lettered queue messages.
func (n Names) DeadLetterStream() string { return n.bucket + "_deadletters" }

// DeadLetterAll is the filter of every dead-letter subject.
func (n Names) DeadLetterAll() string { return n.prefix + ".deadletter.>" }

// DeadLetterSubject is where a message of queueSubject (a subject of
// [Names.QueueSubject]) goes when it cannot be handled: the same tokens
// under ".deadletter." instead of ".queue.".
func (n Names) DeadLetterSubject(queueSubject string) string {
	rest, _ := strings.CutPrefix(queueSubject, n.prefix+".queue.")
	return n.prefix + ".deadletter." + rest
}
