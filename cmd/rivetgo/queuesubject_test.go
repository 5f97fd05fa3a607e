package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

func TestQueueSubject(t *testing.T) {
	names, _ := protocol.NewNames("rivet")
	for _, key := range [][]string{{}, {"org-acme", "general"}, {"a.b", "*", ">", "", "ünï"}} {
		var out, errb bytes.Buffer
		args := append([]string{"queue-subject", "counterWorker", "mutate"}, key...)
		if err := run(t.Context(), args, func(string) string { return "" }, &out, &errb); err != nil {
			t.Fatalf("%q: %v (%s)", key, err, errb.String())
		}
		got := strings.TrimSpace(out.String())
		if want := names.QueueSubject("counterWorker", "mutate", key); got != want {
			t.Errorf("%q: %s, want %s", key, got, want)
		}
		if n, q, k, ok := names.ParseQueueSubject(got); !ok || n != "counterWorker" || q != "mutate" || strings.Join(k, "\x00") != strings.Join(key, "\x00") {
			t.Errorf("%q: %s parses back as %q %q %q %v", key, got, n, q, k, ok)
		}
	}
	var out, errb bytes.Buffer
	if err := run(t.Context(), []string{"queue-subject", "counterWorker"}, func(string) string { return "" }, &out, &errb); err == nil {
		t.Error("no queue name: no error")
	}
	if err := run(t.Context(), []string{"queue-subject", "c", "q", "bad\x00part"}, func(string) string { return "" }, &out, &errb); err == nil {
		t.Error("a key part with NUL: no error")
	}
}
