package inspector

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPI: the inspector serves its OpenAPI document at
// /openapi.json (without a token); every pattern its router registers is
// in it (the per-actor mount as the routes under it, the dashboard's "/"
// aside) and every operation in it is a pattern of the router or a
// per-actor route that is served (probed on a live actor: none answers
// inspector/route_not_found, while an undocumented one does).
func TestOpenAPI(t *testing.T) {
	m := startMesh(t)
	res, err := http.Get(m.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /openapi.json: %d %s", res.StatusCode, doc)
	}
	var d struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || !strings.HasPrefix(d.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	var ops []string
	for p, ms := range d.Paths {
		for meth := range ms {
			ops = append(ops, strings.ToUpper(meth)+" "+p)
		}
	}
	ins, err := New(Config{Conn: m.nc})
	if err != nil {
		t.Fatal(err)
	}
	_, patterns := ins.routes()
	for _, p := range patterns {
		switch p {
		case "/":
			continue // the dashboard's files
		case actorPattern:
			if !slices.ContainsFunc(ops, func(op string) bool { return strings.Contains(op, " "+actorPrefix) }) {
				t.Errorf("the document has no per-actor routes")
			}
			continue
		}
		if !slices.Contains(ops, p) {
			t.Errorf("the router registers %q; the document lacks it", p)
		}
	}
	id := m.create("counter", "oa")
	param := regexp.MustCompile(`\{[a-z]+\}`)
	probed := 0
	for _, op := range ops {
		method, path, _ := strings.Cut(op, " ")
		rest, ok := strings.CutPrefix(path, actorPrefix)
		if !ok {
			if !slices.Contains(patterns, op) {
				t.Errorf("the document has %q; the router does not register it", op)
			}
			continue
		}
		p := "/actors/" + id + "/inspector/" + param.ReplaceAllString(rest, "getCount")
		body := []byte("{}")
		switch rest {
		case "kv/entry":
			p += "?key=k"
		case "database/rows":
			p += "?table=t"
		case "database/execute":
			body = []byte(`{"sql":"SELECT 1"}`)
		}
		req, _ := http.NewRequest(method, m.url+p, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(b), `"route_not_found"`) {
			t.Errorf("%s is documented but answers %d %s", op, res.StatusCode, b)
		}
		probed++
	}
	if probed < 15 {
		t.Fatalf("probed %d per-actor routes", probed)
	}
	b := m.do("GET", "/actors/"+id+"/inspector/nope", testToken, nil, http.StatusNotFound, nil)
	if !strings.Contains(string(b), `"route_not_found"`) {
		t.Fatalf("an undocumented route: %s", b)
	}
}
