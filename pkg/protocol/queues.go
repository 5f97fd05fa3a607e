package protocol

import (
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// Queues. Every actor queue of a mesh lives in one JetStream stream,
// [Names.QueueStream], on subjects a person can type with `nats pub`:
//
//	<prefix>.queue.<name>.<queue>.<key part>...
//
// Name, queue and key parts are escaped with [EncodeKeyPart] (the key
// "org-acme","general" stays as it is); the empty key is the one token "=".
// The number of tokens tells keys of different lengths apart, so no key can
// reach another actor's queue, and the queue name comes before the key so
// that a subject is never ambiguous. A message is stored before the
// publisher's JetStream acknowledgement; the owning host reads it in order,
// and it is deleted once the step that handled it is committed.

// Queue limits: the stream enforces them for every publisher.
const (
	// DefaultQueueMaxMessages is how many messages one queue of one actor
	// holds (RivetKit's default); a publish past it fails (queue/full).
	DefaultQueueMaxMessages = 1000
	// DefaultQueueMaxMessageBytes is the largest message body (RivetKit's
	// default): queue/message_too_large.
	DefaultQueueMaxMessageBytes = 64 << 10
	// MaxQueueNameBytes is the longest queue name.
	MaxQueueNameBytes = 64
)

// QueueLimits are one queue's own limits, at most the stream's
// (DefaultQueueMaxMessages, DefaultQueueMaxMessageBytes, which every
// publisher meets). Zero means the stream's.
type QueueLimits struct {
	MaxMessages     int `cbor:"1,keyasint,omitempty" json:"maxMessages,omitempty"`
	MaxMessageBytes int `cbor:"2,keyasint,omitempty" json:"maxMessageBytes,omitempty"`
}

// Messages is the queue's message limit, the stream's when unset.
func (l QueueLimits) Messages() int {
	if l.MaxMessages <= 0 || l.MaxMessages > DefaultQueueMaxMessages {
		return DefaultQueueMaxMessages
	}
	return l.MaxMessages
}

// MessageBytes is the queue's message size limit, the stream's when unset.
func (l QueueLimits) MessageBytes() int {
	if l.MaxMessageBytes <= 0 || l.MaxMessageBytes > DefaultQueueMaxMessageBytes {
		return DefaultQueueMaxMessageBytes
	}
	return l.MaxMessageBytes
}

// Queue message headers.
const (
	// HeaderQueueEncoding says how the body is encoded: "json" (the
	// default when absent) or "cbor".
	HeaderQueueEncoding = "Rivet-Encoding"
	// HeaderQueueReply names the subject a sender waits on for the
	// message's completion (a [QueueCompletion]).
	HeaderQueueReply = "Rivet-Reply"
)

// Queue errors.
const (
	GroupQueue             = "queue"
	CodeQueueFull          = "full"              // queue/full
	CodeQueueTooLarge      = "message_too_large" // queue/message_too_large
	CodeQueueNotFound      = "not_found"         // queue/not_found
	CodeQueueInvalidBody   = "invalid_body"      // queue/invalid_body
	CodeQueueInvalidName   = "invalid_name"      // queue/invalid_name
	CodeQueueCompleteTwice = "already_completed" // queue/already_completed
	CodeQueueInvalidUse    = "invalid_use"       // queue/invalid_use
)

// QueueStream is the stream holding every actor queue.
func (n Names) QueueStream() string { return n.bucket + "_queues" }

// QueueAll is the filter of every queue subject.
func (n Names) QueueAll() string { return n.prefix + ".queue.>" }

// QueueSubject is the subject of queue of the actor (name, key).
func (n Names) QueueSubject(name, queue string, key []string) string {
	return n.prefix + ".queue." + EncodeKeyPart(name) + "." + EncodeKeyPart(queue) + "." + queueKeyTokens(key)
}

// QueueActorFilter matches every queue of the actor (name, key) and no
// other actor's.
func (n Names) QueueActorFilter(name string, key []string) string {
	return n.prefix + ".queue." + EncodeKeyPart(name) + ".*." + queueKeyTokens(key)
}

func queueKeyTokens(key []string) string {
	if len(key) == 0 {
		return "="
	}
	return EncodeKey(key)
}

// ParseQueueSubject splits a queue subject into the actor's name, the queue
// and the key. ok is false for a subject no key codec made.
func (n Names) ParseQueueSubject(subj string) (name, queue string, key []string, ok bool) {
	rest, found := strings.CutPrefix(subj, n.prefix+".queue.")
	if !found {
		return "", "", nil, false
	}
	toks := strings.Split(rest, ".")
	if len(toks) < 3 {
		return "", "", nil, false
	}
	var err error
	if name, err = DecodeKeyPart(toks[0]); err != nil || name == "" {
		return "", "", nil, false
	}
	if queue, err = DecodeKeyPart(toks[1]); err != nil || queue == "" {
		return "", "", nil, false
	}
	key = []string{}
	if !(len(toks) == 3 && toks[2] == "=") {
		for _, t := range toks[2:] {
			p, err := DecodeKeyPart(t)
			if err != nil {
				return "", "", nil, false
			}
			key = append(key, p)
		}
	}
	// Only the codec's own form is accepted, so one actor has one subject.
	if n.QueueSubject(name, queue, key) != subj {
		return "", "", nil, false
	}
	return name, queue, key, true
}

// ValidateQueueName checks a queue name.
func ValidateQueueName(q string) error {
	if q == "" || len(q) > MaxQueueNameBytes {
		return Errorf(GroupQueue, CodeQueueInvalidName, "a queue name has 1 to %d bytes", MaxQueueNameBytes)
	}
	if e := checkText(q); e != "" {
		return Errorf(GroupQueue, CodeQueueInvalidName, "the queue name %s", e)
	}
	return nil
}

// QueueCompletion is published on a message's [HeaderQueueReply] subject
// once the step that completed it is committed.
type QueueCompletion struct {
	// Response is the CBOR value the consumer completed the message with.
	Response cbor.RawMessage `cbor:"1,keyasint,omitempty"`
	// Err, when set, says the message was never handled: it was moved
	// to the dead letters with this code and reason.
	Err *Error `cbor:"2,keyasint,omitempty"`
}

// SafeReply keeps a queue message's reply subject (its [HeaderQueueReply])
// only if it is an inbox: a publisher must not make a service publish on
// internal subjects. It returns "" otherwise.
func SafeReply(r string) string {
	if !strings.HasPrefix(r, "_INBOX.") || strings.ContainsAny(r, "*> \t\r\n") {
		return ""
	}
	return r
}
