package test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// TestMetrics_EveryService scrapes /metrics of the gateway (its own port),
// an actor host and a scheduler (--metrics.addr), parses the Prometheus
// text format and checks the counters moved with the work done.
func TestMetrics_EveryService(t *testing.T) {
	m := &mesh{tb: t, bin: binDir(t)}
	m.nats, m.natsURL = startNATS(t, m.bin)
	m.env = append([]string{"RIVETGO_NATS_URL=" + m.natsURL}, meshEnv...)
	hostMetrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	schedMetrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m.addHost("RIVETGO_METRICS_ADDR=" + hostMetrics)
	m.addScheduler("RIVETGO_METRICS_ADDR=" + schedMetrics)
	m.addGateway()
	c := client.New(m.url())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := c.GetOrCreate("counter", "metrics")
	for range 5 {
		if _, err := client.Call[int64](ctx, h, "increment", 1); err != nil {
			t.Fatal(err)
		}
	}
	r := c.GetOrCreate("reminder", "metrics")
	if _, err := client.Call[string](ctx, r, "setReminder", "m", 100); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		if n, _ := client.Call[int](ctx, r, "getSent"); n != 1 {
			return fmt.Errorf("reminder sent %d", n)
		}
		return nil
	})

	gw := scrape(t, m.url()+"/metrics")
	if v := sumCounter(gw, "rivetgo_gateway_requests_total", map[string]string{"route": "action", "status": "200"}); v < 5 {
		t.Errorf("gateway counted %v successful actions, want ≥ 5", v)
	}
	host := scrape(t, "http://"+hostMetrics+"/metrics")
	if v := sumCounter(host, "rivetgo_host_actions_total", map[string]string{"kind": "counter", "outcome": "ok"}); v < 5 {
		t.Errorf("host counted %v counter actions, want ≥ 5", v)
	}
	if v := sumCounter(host, "rivetgo_host_commits_total", nil); v < 5 {
		t.Errorf("host counted %v commits", v)
	}
	if host["rivetgo_host_action_duration_seconds"] == nil || host["rivetgo_host_active_actors"] == nil || host["go_goroutines"] == nil {
		t.Error("host metrics miss the action histogram, the active gauge or the Go collector")
	}
	sched := scrape(t, "http://"+schedMetrics+"/metrics")
	if v := sumCounter(sched, "rivetgo_scheduler_fired_total", nil); v != 1 {
		t.Errorf("scheduler counted %v fired schedules, want 1", v)
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s is not the Prometheus text format: %v", url, err)
	}
	return fams
}

// sumCounter adds the counter samples of name whose labels include want.
func sumCounter(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.Metric {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && strings.EqualFold(l.GetValue(), v) {
					found = true
				}
			}
			ok = ok && found
		}
		if ok && m.Counter != nil {
			sum += m.Counter.GetValue()
		}
	}
	return sum
}
