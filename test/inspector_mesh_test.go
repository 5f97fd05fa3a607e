package test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestInspector_Gateways: GET /gateways lists each live gateway once,
// with the version and HTTP address its micro service reports.
func TestInspector_Gateways(t *testing.T) {
	m := newMesh(t, 1)
	m.addGateway()
	c := &inspClient{tb: t, url: m.addInspector("")}
	var gws struct {
		Gateways []struct {
			ID       string `json:"id"`
			Version  string `json:"version"`
			HTTPAddr string `json:"httpAddr"`
			Instance string `json:"instance"`
		} `json:"gateways"`
	}
	c.get("/gateways", &gws)
	if len(gws.Gateways) != 2 {
		t.Fatalf("gateways: %+v", gws)
	}
	var addrs []string
	for _, g := range gws.Gateways {
		if g.ID == "" || g.Version == "" || g.Instance == "" {
			t.Fatalf("gateway: %+v", g)
		}
		addrs = append(addrs, "http://"+g.HTTPAddr)
	}
	for _, u := range m.gwURLs {
		if !slices.Contains(addrs, u) {
			t.Fatalf("gateway %s not listed: %v", u, addrs)
		}
	}
	// One gateway stops: it leaves the list once its entry expires.
	m.gws[1].kill()
	waitFor(t, 20*time.Second, func() error {
		c.get("/gateways", &gws)
		if len(gws.Gateways) != 1 || !strings.Contains(m.gwURLs[0], gws.Gateways[0].HTTPAddr) {
			return fmt.Errorf("gateways after a stop: %+v", gws)
		}
		return nil
	})
}
