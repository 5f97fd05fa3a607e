package test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// BenchmarkTelemetry runs the same action load against three meshes started
// side by side in one run (each its own nats-server, actorhost and gateway
// processes), so their ratios are same-run ratios:
//
//	off     RIVETGO_TELEMETRY=off: no metrics, no spans
//	on      the default: Prometheus metrics, and every action traced
//	        (gateway, dispatcher, host, action and commit spans; the host's
//	        kept per actor for the inspector), nothing exported
//	same    a second mesh exactly like on: how far two identical meshes
//	        differ in the same run (the noise floor of the ratios)
//	export  on, and the spans exported with OTLP/HTTP to a receiver in
//	        this process
//
// Rows: write/conc=64/<mesh> (throughput, 64 clients on their own
// counters) and write/conc=1/<mesh> (latency), in RIVETGO_TELEMETRY_ROUNDS
// rounds (default 3), each round running every mesh in turn (odd rounds in
// reverse order); see
// docs/BENCHMARKS.md.
func BenchmarkTelemetry(b *testing.B) {
	meshes := []struct {
		name string
		env  []string
	}{
		{"off", []string{"RIVETGO_TELEMETRY=off"}},
		{"on", nil},
		{"same", nil}, // a second "on" mesh: the spread between two identical meshes
		{"export", nil},
	}
	type started struct {
		url   string
		procs []namedProc
	}
	var rcv *otlpReceiver
	ms := map[string]started{}
	for _, mc := range meshes {
		m := &mesh{tb: b, bin: binDir(b)}
		m.nats, m.natsURL = startNATS(b, m.bin)
		m.env = append([]string{"RIVETGO_NATS_URL=" + m.natsURL, "RIVETGO_LOG_LEVEL=warn"}, mc.env...)
		if mc.name == "export" {
			rcv = newOTLPReceiver(b)
			m.env = append(m.env, "OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.srv.URL)
		}
		m.addHost()
		m.addGateway()
		ms[mc.name] = started{m.url(), []namedProc{{"edge", m.gws[0]}, {"back", m.hosts[0]}, {"nats", m.nats}}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("RIVETGO_TELEMETRY_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	// Rounds interleave the meshes (go test's -count would run each row
	// count times in a row): row names repeat, suffixed #01, #02, ...
	for round := range rounds {
		order := slices.Clone(meshes)
		if round%2 == 1 {
			slices.Reverse(order) // no mesh always runs first
		}
		for _, conc := range []int{64, 1} {
			for _, mc := range order {
				s := ms[mc.name]
				c := client.New(s.url)
				b.Run(fmt.Sprintf("write/conc=%d/%s", conc, mc.name), func(b *testing.B) {
					measure(b, conc, s.procs, func(w int) func() error {
						h := c.GetOrCreate("counter", "tele", strconv.Itoa(w))
						var last int64
						return func() error {
							n, err := client.Call[int64](ctx, h, "increment", 1)
							if err == nil && n <= last {
								err = fmt.Errorf("increment returned %d after %d", n, last)
							}
							last = n
							return err
						}
					})
				})
			}
		}
	}
	if rcv != nil {
		rcv.mu.Lock()
		n := len(rcv.spans)
		rcv.mu.Unlock()
		b.Logf("the OTLP receiver got %d spans", n)
	}
}
