package protocol

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
)

// DefaultPrefix is the subject prefix and bucket-name prefix used when none is
// configured.
const DefaultPrefix = "rivet"

// QueueGroupHosts is the queue group every actor host joins on [Names.Place].
const QueueGroupHosts = "hosts"

// Names builds every subject, bucket and stream name of one rivetgo mesh.
// Several meshes can share a NATS server by using different prefixes.
// The zero value is not usable; call [NewNames].
type Names struct {
	prefix string // "<prefix>.v1"
	bucket string // "<prefix>"
}

// NewNames returns the names for prefix. An empty prefix means
// [DefaultPrefix]. The prefix must be one plain token of letters, digits and '-'.
func NewNames(prefix string) (Names, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	for i := 0; i < len(prefix); i++ {
		if !plainByte(prefix[i]) {
			return Names{}, fmt.Errorf("protocol: prefix %q may hold only letters, digits and '-'", prefix)
		}
	}
	return Names{prefix: prefix + ".v1", bucket: prefix}, nil
}

// MustNames is NewNames for constant prefixes; it panics on a bad prefix.
func MustNames(prefix string) Names {
	n, err := NewNames(prefix)
	if err != nil {
		panic(err)
	}
	return n
}

// Prefix returns the mesh's prefix.
func (n Names) Prefix() string { return n.bucket }

// Actor subjects name the actor and the host session that owns it:
// <prefix>.v1.actor.<actorId>.<session>.<kind>. Only the owning session
// subscribes, so a request reaches exactly the activation it was addressed
// to, never an older owner that is paused or cut off.

// ActorCall is the subject of action calls to actor id held by session.
func (n Names) ActorCall(id, session string) string {
	return n.prefix + ".actor." + id + "." + session + "." + KindCall
}

// ActorCtl is the subject of control requests (destroy, connections) to
// actor id held by session.
func (n Names) ActorCtl(id, session string) string {
	return n.prefix + ".actor." + id + "." + session + "." + KindCtl
}

// SessionAll is the wildcard a host session subscribes to: requests for
// every actor the session holds (and refusals for those it does not).
func (n Names) SessionAll(session string) string {
	return n.prefix + ".actor.*." + session + ".>"
}

// Place is the subject any host answers (queue group [QueueGroupHosts]) to
// activate an actor.
func (n Names) Place() string { return n.prefix + ".place" }

// HostPlace is the subject on which one host activates actors.
func (n Names) HostPlace(hostID string) string { return n.prefix + ".host." + hostID + ".place" }

// ServiceName is the NATS micro service name of a rivetgo service kind
// ("actorhost", "gateway", ...), visible through $SRV.PING/INFO/STATS.
func (n Names) ServiceName(kind string) string { return "rivetgo-" + kind }

// ServiceInfoSubject is the NATS micro discovery subject every instance
// of a service kind answers with its info (name, id, version, metadata,
// endpoints): "$SRV.INFO.rivetgo-<kind>".
func (n Names) ServiceInfoSubject(kind string) string { return "$SRV.INFO." + n.ServiceName(kind) }

// BucketActors holds actor metadata and the (name, key) index.
func (n Names) BucketActors() string { return n.bucket + "_actors" }

// BucketState holds each actor's state record.
func (n Names) BucketState() string { return n.bucket + "_state" }

// BucketLeases holds which host session owns each active actor.
func (n Names) BucketLeases() string { return n.bucket + "_leases" }

// BucketHosts holds one expiring entry per live host session.
func (n Names) BucketHosts() string { return n.bucket + "_hosts" }

// MetaKey is the KV key of actor id's metadata in [Names.BucketActors].
func MetaKey(id string) string { return "id." + id }

// IndexKey is the KV key in [Names.BucketActors] that maps (name, key) to an
// actor id. Name and key parts are escaped with [EncodeKeyPart]; the number of
// tokens tells keys of different lengths apart, so no two (name, key) pairs share
// an index key.
func IndexKey(name string, key []string) string {
	var b strings.Builder
	b.WriteString("key.")
	b.WriteString(EncodeKeyPart(name))
	for _, p := range key {
		b.WriteByte('.')
		b.WriteString(EncodeKeyPart(p))
	}
	if len(key) == 0 {
		// The empty key gets the marker token "=", which EncodeKeyPart
		// never produces, so "key.<name>" is never shared with a key of parts.
		b.WriteString(".=")
	}
	return b.String()
}

// StateKey is the KV key of actor id's state record in [Names.BucketState].
func StateKey(id string) string { return id }

// LeaseKey is the KV key of actor id's lease in [Names.BucketLeases].
func LeaseKey(id string) string { return id }

// HostKey is the KV key of a host in [Names.BucketHosts].
func HostKey(hostID string) string { return hostID }

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewID returns a new random id: 128 bits as 26 characters of [0-9a-v].
// Actor ids, host ids and connection ids use it. Ids are never reused.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return idEncoding.EncodeToString(b[:])
}

// ValidID reports whether s has the shape of an id made by [NewID], so it can
// be used as a subject token and KV key without escaping.
func ValidID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'v') {
			return false
		}
	}
	return true
}

// The request kinds, the last token of an actor's request subjects.
const (
	KindCall = "call" // an action: CallRequest -> CallReply
	KindHTTP = "http" // a raw HTTP request: HTTPRequestMsg -> HTTPResponseMsg
	KindCtl  = "ctl"  // a control operation: CtlRequest -> CallReply
)

// ParseActorSubject splits a subject built by [Names.ActorCall],
// [Names.ActorCtl] or [Names.ActorHTTP] into the actor id, the session and
// the last token ("call", "ctl", "http").
func (n Names) ParseActorSubject(subj string) (id, session, kind string, ok bool) {
	rest, found := strings.CutPrefix(subj, n.prefix+".actor.")
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 || !ValidID(parts[0]) || !ValidID(parts[1]) || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// HostsStream is the JetStream stream behind [Names.BucketHosts].
func (n Names) HostsStream() string { return "KV_" + n.BucketHosts() }

// HostEntrySubject is the stream subject of host hostID's entry in
// [Names.BucketHosts], for reads through the stream leader.
func (n Names) HostEntrySubject(hostID string) string {
	return "$KV." + n.BucketHosts() + "." + HostKey(hostID)
}

// ActorEvents is the subject an actor's broadcasts are published on, once
// per event; every gateway with a connection to the actor subscribes.
func (n Names) ActorEvents(id string) string { return n.prefix + ".events." + id }

// GatewayAll is the wildcard a gateway subscribes to for messages to its
// connections.
func (n Names) GatewayAll(gatewayID string) string { return n.prefix + ".gw." + gatewayID + ".>" }

// GatewaySend carries an event for one connection held by a gateway.
func (n Names) GatewaySend(gatewayID string) string { return n.prefix + ".gw." + gatewayID + ".send" }

// GatewayClose asks a gateway to close one of its connections.
func (n Names) GatewayClose(gatewayID string) string { return n.prefix + ".gw." + gatewayID + ".close" }

// BucketGateways holds one expiring entry per live gateway; hosts close the
// connections of a gateway whose entry expired.
func (n Names) BucketGateways() string { return n.bucket + "_gateways" }

// GatewayKey is the KV key of a gateway in [Names.BucketGateways].
func GatewayKey(gatewayID string) string { return gatewayID }

// ActorHTTP is the subject of raw HTTP requests to actor id held by session.
func (n Names) ActorHTTP(id, session string) string {
	return n.prefix + ".actor." + id + "." + session + "." + KindHTTP
}

// GatewayRaw carries frames (and closes) of raw WebSockets held by a gateway.
func (n Names) GatewayRaw(gatewayID string) string { return n.prefix + ".gw." + gatewayID + ".raw" }

// JSStreamMsgGet is JetStream's API subject to read a stream message
// through the stream leader (not a direct get, which any replica may answer).
func JSStreamMsgGet(stream string) string { return "$JS.API.STREAM.MSG.GET." + stream }

// StateSubject is the stream subject of actor id's state record in
// [Names.BucketState], for writes published straight to JetStream.
func (n Names) StateSubject(id string) string { return "$KV." + n.BucketState() + "." + StateKey(id) }

// StateStream is the stream of [Names.BucketState]. It allows atomic batch
// publishes: one commit writes an actor's state record and its KV entries
// together.
func (n Names) StateStream() string { return "KV_" + n.BucketState() }

// KVEntryKey is the key, in [Names.BucketState], of entry key of actor id's
// KV store: the key's bytes in lower-case hex, so any binary key is a valid
// KV token and keys sort as their bytes do.
func KVEntryKey(id string, key []byte) string {
	return id + ".kv." + hex.EncodeToString(key)
}

// DecodeKVEntryKey returns the user key of a [KVEntryKey] of actor id.
func DecodeKVEntryKey(id, k string) ([]byte, bool) {
	p := id + ".kv."
	if !strings.HasPrefix(k, p) {
		return nil, false
	}
	out, err := hex.DecodeString(k[len(p):])
	return out, err == nil
}

// KVEntrySubject is the stream subject of a [KVEntryKey].
func (n Names) KVEntrySubject(id string, key []byte) string {
	return "$KV." + n.BucketState() + "." + KVEntryKey(id, key)
}

// StateSubjectPrefix is what every stream subject of [Names.BucketState]
// starts with; the rest is the KV key.
func (n Names) StateSubjectPrefix() string { return "$KV." + n.BucketState() + "." }

// KVSubjects is the filter of every KV entry of actor id.
func (n Names) KVSubjects(id string) string { return "$KV." + n.BucketState() + "." + id + ".kv.>" }
