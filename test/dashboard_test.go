package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestInspector_Dashboard drives the inspector's dashboard in headless
// Chromium (Debian's chromium; `make chromium` installs it): list the
// counters, open one, call increment from the page and see the new count
// appear without a reload (also after an increment made elsewhere), then
// open the leaderboard's SQLite table. With RIVETGO_SCREENSHOTS=1 it saves
// screenshots under docs/.
func TestInspector_Dashboard(t *testing.T) {
	binDir(t) // skipped with -short, like every process test
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is needed (make chromium, or apt-get install chromium): %v", err)
	}
	m := newMesh(t, 1)
	url := m.addInspector("")
	if _, out := gwActor(t, m, "counter", "dash", "increment", 1); out != "1" {
		t.Fatalf("increment: %s", out)
	}
	gwActor(t, m, "leaderboard", "dash", "submitScore", "ann", 7)
	gwActor(t, m, "leaderboard", "dash", "submitScore", "bob", 9)
	gwActor(t, m, "inventory", "dash", "put", "apple", "red")
	gwActor(t, m, "inventory", "dash", "put", "banana", "yellow")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 800))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	// The first Do starts the browser and must not carry a timeout (it
	// would end the browser); later steps are bounded.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	shots := os.Getenv("RIVETGO_SCREENSHOTS") == "1"
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			if !shots {
				return chromedp.Void{}, nil
			}
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			_, file, _, _ := runtime.Caller(0)
			return chromedp.Void{}, os.WriteFile(filepath.Join(filepath.Dir(filepath.Dir(file)), "docs", name), buf, 0o644)
		}
	}
	// step names an action in the log, so a stuck step says which.
	step := func(name string, a chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			t.Logf("dashboard: %s", name)
			v, err := a(ctx, tg)
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			return v, err
		}
	}
	waitText := func(sel, want string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			for {
				got, err := chromedp.Text(chromedp.CSS(sel))(ctx, tg)
				if err != nil {
					return chromedp.Void{}, err
				}
				if strings.Contains(got, want) {
					return chromedp.Void{}, nil
				}
				select {
				case <-ctx.Done():
					t.Errorf("%s never showed %q (last: %q)", sel, want, got)
					return chromedp.Void{}, ctx.Err()
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}
	waitGone := func(sel, gone string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			for {
				got, err := chromedp.Text(chromedp.CSS(sel))(ctx, tg)
				if err != nil {
					return chromedp.Void{}, err
				}
				if !strings.Contains(got, gone) {
					return chromedp.Void{}, nil
				}
				select {
				case <-ctx.Done():
					t.Errorf("%s still shows %q", sel, gone)
					return chromedp.Void{}, ctx.Err()
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}
	err = chromedp.Do(ctx,
		step("chromedp.Navigate(url+'/')", chromedp.Navigate(url+"/")),
		step("chromedp.SetValue(chromedp.CSS('#name'), 'counter')", chromedp.SetValue(chromedp.CSS("#name"), "counter")),
		step("chromedp.Click(chromedp.CSS('#search button'))", chromedp.Click(chromedp.CSS("#search button"))),
		step("chromedp.WaitVisible(chromedp.CSS('#actors li'))", chromedp.WaitVisible(chromedp.CSS("#actors li"))),
		step("chromedp.Click(chromedp.CSS('#actors li'))", chromedp.Click(chromedp.CSS("#actors li"))),
		step("waitText('#state', 'count': 1)", waitText("#state", `"count": 1`)),
		step("chromedp.Click(chromedp.CSS(#tabs button[data-tab='action']))", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="action"]`))),
		step("wait for the increment option", chromedp.WaitReady(chromedp.CSS(`#rpc option[value="increment"]`))),
		step("chromedp.SetValue(chromedp.CSS('#rpc'), 'increment')", chromedp.SetValue(chromedp.CSS("#rpc"), "increment")),
		step("chromedp.SetValue(chromedp.CSS('#args'), '[5]')", chromedp.SetValue(chromedp.CSS("#args"), "[5]")),
		step("chromedp.Click(chromedp.CSS('#call'))", chromedp.Click(chromedp.CSS("#call"))),
		step("waitText('#output', '6')", waitText("#output", "6")),
		step("shot('inspector-action.png')", shot("inspector-action.png")),
		step("chromedp.Click(chromedp.CSS(#tabs button[data-tab='state']))", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="state"]`))),
		step("waitText('#state', 'count': 6)", waitText("#state", `"count": 6`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	// A change made elsewhere appears on the open page: it polls.
	if _, out := gwActor(t, m, "counter", "dash", "increment", 10); out != "16" {
		t.Fatalf("increment: %s", out)
	}
	err = chromedp.Do(ctx,
		step("waitText('#state', 'count': 16)", waitText("#state", `"count": 16`)),
		step("shot('inspector-state.png')", shot("inspector-state.png")),
		step("chromedp.SetValue(chromedp.CSS('#name'), 'leaderboard')", chromedp.SetValue(chromedp.CSS("#name"), "leaderboard")),
		step("chromedp.Click(chromedp.CSS('#search button'))", chromedp.Click(chromedp.CSS("#search button"))),
		step("waitText('#actors', 'leaderboard')", waitText("#actors", "leaderboard")),
		step("chromedp.Click(chromedp.CSS('#actors li'))", chromedp.Click(chromedp.CSS("#actors li"))),
		step("chromedp.Click(chromedp.CSS(#tabs button[data-tab='db']))", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="db"]`))),
		step("waitText('#tables', 'scores')", waitText("#tables", "scores")),
		step("open the scores table", chromedp.Click(chromedp.CSS(`#tables button[data-table="scores"]`))),
		step("waitText('#rows', 'bob')", waitText("#rows", "bob")),
		step("shot('inspector-database.png')", shot("inspector-database.png")),
		// The KV browser and the gateways.
		step("waitText('#gateways', gateway address)", waitText("#gateways", strings.TrimPrefix(m.url(), "http://"))),
		step("chromedp.SetValue(chromedp.CSS('#name'), 'inventory')", chromedp.SetValue(chromedp.CSS("#name"), "inventory")),
		step("chromedp.Click(chromedp.CSS('#search button'))", chromedp.Click(chromedp.CSS("#search button"))),
		step("waitText('#actors', 'inventory')", waitText("#actors", "inventory")),
		step("chromedp.Click(chromedp.CSS('#actors li'))", chromedp.Click(chromedp.CSS("#actors li"))),
		step("chromedp.Click(chromedp.CSS(#tabs button[data-tab='kv']))", chromedp.Click(chromedp.CSS(`#tabs button[data-tab="kv"]`))),
		step("waitText('#kv', 'banana')", waitText("#kv", "banana")),
		step("chromedp.SetValue(chromedp.CSS('#kvprefix'), 'a')", chromedp.SetValue(chromedp.CSS("#kvprefix"), "a")),
		step("chromedp.Click(chromedp.CSS('#kvsearch button'))", chromedp.Click(chromedp.CSS("#kvsearch button"))),
		step("wait for the prefix's page", waitGone("#kv", "banana")),
		step("waitText('#kv', 'apple')", waitText("#kv", "apple")),
		step("waitText('#kv', the value decoded)", waitText("#kv", `"red"`)),
		step("shot('inspector-kv.png')", shot("inspector-kv.png")),
	)
	if err != nil {
		t.Fatal(err)
	}
}
