package protocol

import (
	"slices"
	"strings"
	"testing"
)

// FuzzQueueSubject: every (name, queue, key) has its own subject, which
// parses back to it; a subject no key encodes never parses.
func FuzzQueueSubject(f *testing.F) {
	f.Add("counterWorker", "mutate", "org-acme\x00general")
	f.Add("c", "q", "")
	f.Add("a.b", "*", ">\x00\x00_5F")
	f.Fuzz(func(t *testing.T, name, queue, joined string) {
		names, _ := NewNames("rivet")
		var key []string
		if joined != "" {
			key = strings.Split(joined, "\x00")
		}
		if name == "" || queue == "" {
			return
		}
		subj := names.QueueSubject(name, queue, key)
		n, q, k, ok := names.ParseQueueSubject(subj)
		if !ok || n != name || q != queue || !slices.Equal(k, append([]string{}, key...)) {
			t.Fatalf("%q %q %q -> %s -> %q %q %q %v", name, queue, key, subj, n, q, k, ok)
		}
		// A subject with the key of another length is another actor's.
		if strings.Contains(subj[len("rivet.v1.queue."):], "*") || strings.Contains(subj, ">") {
			t.Fatalf("wildcard in %s", subj)
		}
		if _, _, _, ok := names.ParseQueueSubject(joined); ok && !strings.HasPrefix(joined, "rivet.v1.queue.") {
			t.Fatalf("%q parsed", joined)
		}
	})
}
