// Package client is the Go client of rivetgo. It speaks the same HTTP API as
// RivetKit's JavaScript client, so it works against any rivetgo gateway:
//
//	c := client.New("http://localhost:6420")
//	counter := c.GetOrCreate("counter", "my-counter")
//	n, err := client.Call[int](ctx, counter, "increment", 1)
//
// Errors from actors and the gateway are *client.Error values carrying a
// stable group and code; match them with errors.Is against the sentinels
// (client.ErrActorNotFound, ...) or read them with errors.As.
package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rivetgo/rivetgo/pkg/protocol"
	"github.com/rivetgo/rivetgo/pkg/rkproto"
)

// Error is an error with a group, a code, a message and metadata, as the
// gateway or the actor sent it.
type Error = protocol.Error

// Sentinels for errors.Is; they compare group and code only.
var (
	ErrActorNotFound  = protocol.ErrActorNotFound
	ErrActionNotFound = protocol.ErrActionNotFound
	ErrDuplicateKey   = protocol.ErrDuplicateKey
	ErrInvalidArg     = protocol.ErrInvalidArg
	ErrUnknownName    = protocol.ErrUnknownName
	ErrInternal       = protocol.ErrInternal
)

// Encoding selects the client encoding.
type Encoding = rkproto.Encoding

// The encodings. CBOR is the default.
const (
	JSON = rkproto.JSON
	CBOR = rkproto.CBOR
	BARE = rkproto.BARE
)

// Client calls actors through a gateway. It is safe for concurrent use.
type Client struct {
	endpoint string
	hc       *http.Client
	enc      Encoding
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client. Default: a client with keep-alive
// connections for up to 256 concurrent calls.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithEncoding sets the encoding of action calls. Default: CBOR.
func WithEncoding(e Encoding) Option { return func(c *Client) { c.enc = e } }

// New returns a client of the gateway at endpoint, e.g. "http://localhost:6420".
func New(endpoint string, opts ...Option) *Client {
	c := &Client{
		endpoint: strings.TrimRight(endpoint, "/"),
		enc:      CBOR,
		hc: &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Handle refers to one actor. Handles are cheap; make one per use.
type Handle struct {
	c      *Client
	name   string
	key    []string
	id     string
	create bool
	input  []byte
	params []byte // JSON connection params
	err    error
}

// WithInput returns a copy of h with the creation input, given to the
// actor's CreateState and OnCreate if a GetOrCreate handle (or
// [Handle.Create]) makes it.
func (h *Handle) WithInput(v any) *Handle {
	c := *h
	b, err := protocol.Marshal(v)
	if err != nil {
		c.err = fmt.Errorf("client: encode input: %w", err)
		return &c
	}
	c.input = b
	return &c
}

// WithConnParams returns a copy of h with the connection params
// (JSON-encodable) that the actor's OnBeforeConnect and CreateConnState
// receive, for HTTP actions (on their transient connection) and for Connect.
func (h *Handle) WithConnParams(v any) *Handle {
	c := *h
	b, err := json.Marshal(v)
	if err != nil {
		c.err = fmt.Errorf("client: encode params: %w", err)
		return &c
	}
	c.params = b
	return &c
}

// GetOrCreate returns a handle to the actor (name, key), created on first use.
func (c *Client) GetOrCreate(name string, key ...string) *Handle {
	return &Handle{c: c, name: name, key: normKey(key), create: true}
}

// Get returns a handle to the existing actor (name, key); calls fail with
// ErrActorNotFound when there is none.
func (c *Client) Get(name string, key ...string) *Handle {
	return &Handle{c: c, name: name, key: normKey(key)}
}

// GetForID returns a handle to the actor with the given id.
func (c *Client) GetForID(id string) *Handle {
	return &Handle{c: c, id: id}
}

// Create makes the actor (name, key) that h names, with h's input, at once,
// and returns a handle to it by id; it fails with ErrDuplicateKey when the
// key is taken.
func (h *Handle) Create(ctx context.Context) (*Handle, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.id != "" {
		return nil, &Error{Group: "client", Code: "invalid_use", Message: "Create needs a handle by name and key, not by id"}
	}
	var input any
	if h.input != nil {
		input = rawInput(h.input)
	}
	id, err := h.c.putActor(ctx, http.MethodPost, h.name, h.key, input)
	if err != nil {
		return nil, err
	}
	return &Handle{c: h.c, id: id, name: h.name, key: h.key, params: h.params}, nil
}

func normKey(k []string) []string {
	if k == nil {
		return []string{}
	}
	return k
}

// ID returns the actor id of a handle made by GetForID or Create, or "".
func (h *Handle) ID() string { return h.id }

// Resolve returns the handle's actor id, creating the actor for a
// GetOrCreate handle.
func (h *Handle) Resolve(ctx context.Context) (string, error) {
	if h.err != nil {
		return "", h.err
	}
	if h.id != "" {
		return h.id, nil
	}
	if h.create {
		var input any
		if h.input != nil {
			input = rawInput(h.input)
		}
		id, err := h.c.putActor(ctx, http.MethodPut, h.name, h.key, input)
		return id, err
	}
	q := url.Values{"name": {h.name}, "key": {protocol.SerializeKey(h.key)}, "namespace": {"default"}}
	var resp struct {
		Actors []struct {
			ActorID string `json:"actor_id"`
		} `json:"actors"`
	}
	if err := h.c.doJSON(ctx, http.MethodGet, "/actors?"+q.Encode(), nil, &resp); err != nil {
		return "", err
	}
	if len(resp.Actors) == 0 {
		return "", ErrActorNotFound
	}
	return resp.Actors[0].ActorID, nil
}

// Destroy destroys the actor: its OnDestroy runs, its state is deleted and
// its key becomes free.
func (h *Handle) Destroy(ctx context.Context) error {
	id, err := h.Resolve(ctx)
	if err != nil {
		return err
	}
	return h.c.doJSON(ctx, http.MethodDelete, "/actors/"+url.PathEscape(id)+"?namespace=default", nil, nil)
}

// rawInput is CBOR input that is already encoded.
type rawInput []byte

func (c *Client) putActor(ctx context.Context, method, name string, key []string, input any) (id string, err error) {
	body := map[string]any{"name": name, "key": protocol.SerializeKey(key), "runner_name_selector": "default", "crash_policy": "sleep"}
	if input != nil {
		raw, ok := input.(rawInput)
		if !ok {
			if raw, err = protocol.Marshal(input); err != nil {
				return "", fmt.Errorf("client: encode input: %w", err)
			}
		}
		body["input"] = base64.StdEncoding.EncodeToString(raw)
	}
	var resp struct {
		Actor struct {
			ActorID string `json:"actor_id"`
		} `json:"actor"`
	}
	if err := c.doJSON(ctx, method, "/actors?namespace=default", body, &resp); err != nil {
		return "", err
	}
	return resp.Actor.ActorID, nil
}

func (c *Client) doJSON(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return decodeError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func decodeError(status int, body []byte) error {
	e, err := rkproto.DecodeErrorJSON(body)
	if err != nil {
		return &Error{Group: "client", Code: "http_error", Message: fmt.Sprintf("HTTP %d: %s", status, bytes.TrimSpace(body)), Status: status}
	}
	e.Status = status
	return e
}

// Call calls action with args and decodes its output into out (nil
// discards it). It is the shape of actor.Handle.Call, so typed references
// (package ref) call through either.
func (h *Handle) Call(ctx context.Context, action string, out any, args ...any) error {
	if h.err != nil {
		return h.err
	}
	if args == nil {
		args = []any{}
	}
	rawArgs, err := protocol.Marshal(args)
	if err != nil {
		return fmt.Errorf("client: encode arguments: %w", err)
	}
	body, err := rkproto.EncodeActionRequest(h.c.enc, rawArgs)
	if err != nil {
		return err
	}
	u, err := h.actionURL(ctx, action)
	if err != nil {
		return err
	}
	backoff := 25 * time.Millisecond
	for attempt := 0; ; attempt++ {
		out2, retry, err := h.c.postAction(ctx, u, body, h.params)
		if err == nil {
			if out == nil {
				return nil
			}
			return protocol.Unmarshal(out2, out)
		}
		if !retry || attempt >= 5 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// Call is [Handle.Call] with a typed result.
func Call[R any](ctx context.Context, h *Handle, action string, args ...any) (R, error) {
	var out R
	err := h.Call(ctx, action, &out, args...)
	return out, err
}

func (h *Handle) actionURL(ctx context.Context, action string) (string, error) {
	return h.gatewayURL(ctx, "/action/"+url.PathEscape(action))
}

// gatewayURL is the URL of path (/action/..., /queue/...) on the actor.
func (h *Handle) gatewayURL(ctx context.Context, path string) (string, error) {
	if h.id == "" {
		if err := protocol.ValidateKey(h.key); err != nil {
			return "", err
		}
	}
	if h.id != "" {
		return h.c.endpoint + "/gateway/" + url.PathEscape(h.id) + path, nil
	}
	for _, p := range h.key {
		if strings.Contains(p, ",") {
			// The query form cannot carry ',' inside a key part: resolve
			// the actor id first and use the direct form.
			id, err := h.Resolve(ctx)
			if err != nil {
				return "", err
			}
			return h.c.endpoint + "/gateway/" + url.PathEscape(id) + path, nil
		}
	}
	q := "rvt-namespace=default"
	if h.create {
		q += "&rvt-method=getOrCreate&rvt-runner=default"
	} else {
		q += "&rvt-method=get"
	}
	if len(h.key) > 0 {
		q += "&rvt-key=" + url.QueryEscape(strings.Join(h.key, ","))
	}
	if h.create && h.input != nil {
		q += "&rvt-input=" + base64.RawURLEncoding.EncodeToString(h.input)
	}
	if h.create {
		q += "&rvt-crash-policy=sleep"
	}
	return h.c.endpoint + "/gateway/" + url.PathEscape(h.name) + path + "?" + q, nil
}

// postAction sends one action request. retry reports an error after which
// the call provably did not run (no host available).
func (c *Client) postAction(ctx context.Context, u string, body, params []byte) (out []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", c.enc.ContentType())
	req.Header.Set("x-rivet-encoding", c.enc.String())
	if params != nil {
		req.Header.Set("x-rivet-conn-params", string(params))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode/100 != 2 {
		err := decodeError(resp.StatusCode, data)
		var e *Error
		retry = errors.As(err, &e) && e.Group == protocol.GroupGuard && e.Code == protocol.CodeServiceUnavailable
		return nil, retry, err
	}
	out, err = rkproto.DecodeActionResponse(c.enc, data)
	return out, false, err
}
