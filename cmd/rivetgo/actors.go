package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
)

// `rivetgo actors ls|get|state|token` reads actors through a gateway's HTTP
// API: the management API (GET /actors) to find them and the per-actor
// inspector routes (/gateway/{id}/inspector/...) for their state and
// token. The HTTP API rather than NATS: it is the surface that has auth
// (the admin token, or an actor's inspector token), it turns CBOR into
// JSON exactly as the dashboard shows it, and it needs no NATS
// credentials or bucket layout on the operator's machine.

const actorsUsage = `usage: rivetgo actors [flags] COMMAND ...

commands:
  ls NAME            list the actors of a name (every page): id, key, created, awake/asleep
  get NAME [KEY...]  print one actor (the management API's object) as JSON
  state NAME [KEY...] print the actor's state as JSON (inspector route: admin or actor token)
  token NAME [KEY...] print the actor's inspector token (admin token only)

flags (before COMMAND):
`

// actorsCmd runs `rivetgo actors ...`.
func actorsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rivetgo actors", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", envOr(getenv, "RIVETGO_URL", "http://localhost:6420"), "gateway URL (env RIVETGO_URL)")
	token := fs.String("admin-token", getenv("RIVETGO_ADMIN_TOKEN"), "bearer token for inspector routes: the admin token or an actor's inspector token (env RIVETGO_ADMIN_TOKEN)")
	timeout := fs.Duration("timeout", 30*time.Second, "timeout of each request")
	page := fs.Int("page", 1000, "actors per request of ls (1-1000); ls follows the cursor to the end")
	fs.Usage = func() {
		fmt.Fprint(stderr, actorsUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		fs.Usage()
		return fmt.Errorf("actors needs a command and an actor name")
	}
	cmd, name, key := fs.Arg(0), fs.Arg(1), fs.Args()[2:]
	if err := protocol.ValidateName(name); err != nil {
		return err
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q is not an http(s) URL", *base)
	}
	if *page < 1 || *page > 1000 {
		return fmt.Errorf("--page must be 1 to 1000")
	}
	c := &apiClient{base: strings.TrimSuffix(*base, "/"), token: *token, page: *page, http: &http.Client{Timeout: *timeout}}
	switch cmd {
	case "ls":
		if len(key) > 0 {
			return fmt.Errorf("actors ls takes a name only (got a key: use actors get)")
		}
		return c.list(ctx, stdout, name)
	case "get", "state", "token":
	default:
		fs.Usage()
		return fmt.Errorf("unknown actors command %q", cmd)
	}
	if err := protocol.ValidateKey(key); err != nil {
		return err
	}
	a, err := c.lookup(ctx, name, key)
	if err != nil {
		return err
	}
	switch cmd {
	case "get":
		return writeIndented(stdout, a)
	case "state":
		var st struct {
			State json.RawMessage `json:"state"`
		}
		if err := c.get(ctx, "/gateway/"+a["actor_id"].(string)+"/inspector/state", true, &st); err != nil {
			return err
		}
		return writeIndented(stdout, st.State)
	default: // token
		var tk struct {
			Token string `json:"token"`
		}
		if err := c.get(ctx, "/gateway/"+a["actor_id"].(string)+"/inspector/token", true, &tk); err != nil {
			return err
		}
		_, err := fmt.Fprintln(stdout, tk.Token)
		return err
	}
}

type apiClient struct {
	base, token string
	page        int
	http        *http.Client
}

// apiError is an error answer of the API: {group, code, message}.
type apiError struct {
	Status  int
	Group   string `json:"group"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s/%s (HTTP %d): %s", e.Group, e.Code, e.Status, e.Message)
}

// get GETs path and decodes the JSON answer into out; auth sends the
// bearer token.
func (c *apiClient) get(ctx context.Context, path string, auth bool, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	if auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		e := &apiError{Status: res.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Code == "" {
			return fmt.Errorf("GET %s: HTTP %d: %s", path, res.StatusCode, bytes.TrimSpace(b))
		}
		return e
	}
	return json.Unmarshal(b, out)
}

type actorPage struct {
	Actors     []map[string]any `json:"actors"`
	Pagination struct {
		Cursor *string `json:"cursor"`
	} `json:"pagination"`
}

// list prints every actor of name, one a line: id, key (JSON array),
// creation time, and "asleep" or "awake".
func (c *apiClient) list(ctx context.Context, w io.Writer, name string) error {
	cursor := ""
	for {
		q := url.Values{"name": {name}, "limit": {strconv.Itoa(c.page)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var p actorPage
		if err := c.get(ctx, "/actors?"+q.Encode(), false, &p); err != nil {
			return err
		}
		for _, a := range p.Actors {
			if _, err := fmt.Fprintln(w, actorLine(a)); err != nil {
				return err
			}
		}
		if p.Pagination.Cursor == nil || *p.Pagination.Cursor == "" {
			return nil
		}
		cursor = *p.Pagination.Cursor
	}
}

func actorLine(a map[string]any) string {
	id, _ := a["actor_id"].(string)
	k, _ := a["key"].(string)
	key := "?"
	if parts, err := protocol.ParseKey(k); err == nil {
		b, _ := json.Marshal(parts)
		key = string(b)
	}
	created := ""
	if ts, ok := a["create_ts"].(float64); ok {
		created = time.UnixMilli(int64(ts)).UTC().Format(time.RFC3339)
	}
	status := "awake"
	if a["sleep_ts"] != nil {
		status = "asleep"
	}
	return id + "\t" + key + "\t" + created + "\t" + status
}

// lookup finds the actor of name and key (RivetKit's GET /actors?name=&key=,
// the key in its serialized form).
func (c *apiClient) lookup(ctx context.Context, name string, key []string) (map[string]any, error) {
	q := url.Values{"name": {name}, "key": {protocol.SerializeKey(key)}}
	var p actorPage
	if err := c.get(ctx, "/actors?"+q.Encode(), false, &p); err != nil {
		return nil, err
	}
	if len(p.Actors) == 0 {
		b, _ := json.Marshal(key)
		return nil, &apiError{Status: http.StatusNotFound, Group: protocol.GroupActor, Code: protocol.CodeNotFound,
			Message: fmt.Sprintf("no actor %s with key %s", name, b)}
	}
	if _, ok := p.Actors[0]["actor_id"].(string); !ok {
		return nil, fmt.Errorf("the gateway answered an actor without actor_id")
	}
	return p.Actors[0], nil
}

func writeIndented(w io.Writer, v any) error {
	var b []byte
	var err error
	if raw, ok := v.(json.RawMessage); ok {
		var buf bytes.Buffer
		if err = json.Indent(&buf, raw, "", "  "); err != nil {
			return err
		}
		b = buf.Bytes()
	} else if b, err = json.MarshalIndent(v, "", "  "); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
