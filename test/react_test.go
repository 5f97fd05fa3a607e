package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestReactChat drives examples/react-chat, a page built with Vite that uses
// @rivetkit/react's useActor on the chat room example, in headless Chromium:
// two pages (two tabs, each its own browser context) join the same room
// through the gateway, one sends and the other shows the message without a
// reload, then the other way round, then a message sent over HTTP from
// outside reaches both. `make react-chat` builds the page (npm ci, vite
// build); `make chromium` installs the browser. With RIVETGO_SCREENSHOTS=1
// it saves docs/react-chat.png.
func TestReactChat(t *testing.T) {
	binDir(t) // skipped with -short, like every process test
	dist := reactChatDist(t)
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is needed (make chromium, or apt-get install chromium): %v", err)
	}
	m := newMesh(t, 1)

	// The page comes from its own origin, as in production: the client's
	// calls to the gateway are cross-origin (CORS).
	site := httptest.NewServer(http.FileServer(http.Dir(dist)))
	t.Cleanup(site.Close)
	room := "room-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	pageURL := func(user string) string {
		return site.URL + "/?" + url.Values{"endpoint": {m.url()}, "user": {user}, "room": {room}}.Encode()
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(900, 700),
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	// The first Do starts the browser and must not carry a timeout (it
	// would end the browser); later steps are bounded.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	// Two pages, each in a fresh browser context (no shared storage).
	newPage := func() context.Context {
		ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
		t.Cleanup(cancelT)
		return ctx
	}
	ann, bob := newPage(), newPage()

	// step names an action in the log, so a stuck step says which.
	step := func(page, name string, a chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			t.Logf("%s: %s", page, name)
			v, err := a(ctx, tg)
			if err != nil {
				err = fmt.Errorf("%s: %s: %w", page, name, err)
			}
			return v, err
		}
	}
	// waitText polls the page until the element sel contains want (with
	// sub, until one of sel's children matching sub does).
	waitText := func(sel, want string, sub ...string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			expr := fmt.Sprintf(`[document.querySelector(%q)?.innerText ?? "(no element)", document.body.innerText]`, sel)
			if len(sub) > 0 {
				expr = fmt.Sprintf(`[Array.from(document.querySelectorAll(%q)).map((e) => e.innerText).join("\n"), document.body.innerText]`, sel+" "+sub[0])
			}
			var last []string
			for {
				got, err := chromedp.Evaluate[[]string](expr)(ctx, tg)
				if err != nil && ctx.Err() == nil {
					return chromedp.Void{}, err
				}
				if err == nil {
					last = got
					if strings.Contains(got[0], want) {
						return chromedp.Void{}, nil
					}
				}
				select {
				case <-ctx.Done():
					t.Errorf("%s never showed %q (last: %q)", sel, want, last)
					return chromedp.Void{}, ctx.Err()
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}
	// marker is set on a page once it has joined: still there later, the
	// page was not reloaded.
	const setMarker = `window.__rivetgoMarker = "joined"; window.__rivetgoMarker`
	checkMarker := func(page string, ctx context.Context) {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(window.__rivetgoMarker)`))
		if err != nil {
			t.Fatal(err)
		}
		if got != "joined" {
			t.Fatalf("%s: the page was reloaded (marker %q)", page, got)
		}
	}
	join := func(page string, ctx context.Context) {
		t.Helper()
		err := chromedp.Do(ctx,
			step(page, "navigate", chromedp.Navigate(pageURL(page))),
			step(page, "click Join", chromedp.Click(chromedp.CSS(`#join button[type="submit"]`))),
			step(page, "wait for connected", waitText("#status", "connected")),
		)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](setMarker)); err != nil || got != "joined" {
			t.Fatalf("%s: set the marker: %q %v", page, got, err)
		}
	}
	send := func(page string, ctx context.Context, text string) {
		t.Helper()
		err := chromedp.Do(ctx,
			step(page, "type "+text, chromedp.SendKeys(chromedp.CSS("#text"), text)),
			step(page, "click Send", chromedp.Click(chromedp.CSS(`#send button[type="submit"]`))),
			// The page clears the box once sendMessage resolved.
			step(page, "wait for the box to clear", chromedp.Poll[chromedp.Void](`document.querySelector("#text").value === ""`,
				chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0))),
		)
		if err != nil {
			t.Fatal(err)
		}
	}
	// see waits for a message that came live, on the room's event (the
	// page marks each message with where it came from).
	see := func(page string, ctx context.Context, want string) {
		t.Helper()
		if err := chromedp.Do(ctx, step(page, "see "+want, waitText(`#messages`, want, `li[data-source="event"]`))); err != nil {
			t.Fatal(err)
		}
	}

	join("ann", ann)
	join("bob", bob)
	// Both connections are in the room: each page got the presence event.
	for page, ctx := range map[string]context.Context{"ann": ann, "bob": bob} {
		if err := chromedp.Do(ctx, step(page, "see both online", waitText("#online", "ann, bob"))); err != nil {
			t.Fatal(err)
		}
	}

	send("ann", ann, "hello from ann")
	see("bob", bob, "ann hello from ann")
	send("bob", bob, "hi ann, bob here")
	see("ann", ann, "bob hi ann, bob here")
	see("ann", ann, "ann hello from ann")
	see("bob", bob, "bob hi ann, bob here")

	// A message sent from outside (HTTP action, no connection) reaches
	// both pages through the room's event.
	key := "react-demo," + room
	if _, out := gwActor(t, m, "chatRoom", key, "sendMessage", "from the gateway"); !strings.Contains(out, `"anonymous"`) {
		t.Fatalf("sendMessage over HTTP: %s", out)
	}
	see("ann", ann, "anonymous from the gateway")
	see("bob", bob, "anonymous from the gateway")
	checkMarker("ann", ann)
	checkMarker("bob", bob)

	// The pages did not only show each other's messages: the actor holds
	// them, in order, with the senders from the connection params.
	_, hist := gwActor(t, m, "chatRoom", key, "getHistory")
	var msgs []struct{ Sender, Text string }
	if err := json.Unmarshal([]byte(hist), &msgs); err != nil {
		t.Fatalf("getHistory: %v: %s", err, hist)
	}
	var got []string
	for _, x := range msgs {
		got = append(got, x.Sender+": "+x.Text)
	}
	want := []string{"ann: hello from ann", "bob: hi ann, bob here", "anonymous: from the gateway"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("history: got %q, want %q", got, want)
	}
	// Each page lists exactly those messages (no duplicates from history
	// and events both).
	for page, ctx := range map[string]context.Context{"ann": ann, "bob": bob} {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#messages li").length`))
		if err != nil {
			t.Fatal(err)
		}
		if n != len(want) {
			t.Fatalf("%s lists %d messages, want %d", page, n, len(want))
		}
	}

	if os.Getenv("RIVETGO_SCREENSHOTS") == "1" {
		buf, err := chromedp.Run(bob, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		_, file, _, _ := runtime.Caller(0)
		if err := os.WriteFile(filepath.Join(filepath.Dir(filepath.Dir(file)), "docs", "react-chat.png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// reactChatDist returns the built page's folder, or skips (fails under CI
// or make test) when it was not built: `make react-chat`.
func reactChatDist(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dist := filepath.Join(filepath.Dir(filepath.Dir(file)), "examples", "react-chat", "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		missing := t.Skipf
		if os.Getenv("CI") != "" || os.Getenv("RIVETGO_BIN") != "" {
			missing = t.Fatalf
		}
		missing("the React chat page is not built in %s (%v): run `make react-chat`", dist, err)
	}
	return dist
}
