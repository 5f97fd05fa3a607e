package test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/rivetgo/rivetgo/pkg/client"
)

// TestGateway_ListActorsByName: GET /actors?name= without a key lists the
// actors of the kind, paged by cursor, as RivetKit's API does.
func TestGateway_ListActorsByName(t *testing.T) {
	m := newMesh(t, 1)
	c := client.New(m.url())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 3 {
		if _, err := client.Call[int64](ctx, c.GetOrCreate("reminder", "list", strconv.Itoa(i)), "getSent"); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		Actors []struct {
			ActorID string `json:"actor_id"`
			Name    string `json:"name"`
			Key     string `json:"key"`
		} `json:"actors"`
		Pagination struct {
			Cursor *string `json:"cursor"`
		} `json:"pagination"`
	}
	get := func(q string) page {
		resp, err := http.Get(m.url() + "/actors?namespace=default&" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /actors?%s: %s", q, resp.Status)
		}
		var p page
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := get("name=reminder&limit=2")
	if len(first.Actors) != 2 || first.Pagination.Cursor == nil {
		t.Fatalf("first page %+v", first)
	}
	second := get("name=reminder&limit=2&cursor=" + url.QueryEscape(*first.Pagination.Cursor))
	if len(second.Actors) != 1 || second.Pagination.Cursor != nil {
		t.Fatalf("second page %+v", second)
	}
	seen := map[string]bool{}
	for _, a := range append(first.Actors, second.Actors...) {
		if a.Name != "reminder" || seen[a.ActorID] {
			t.Fatalf("listing %+v", append(first.Actors, second.Actors...))
		}
		seen[a.ActorID] = true
	}
	if all := get("name=reminder"); len(all.Actors) != 3 {
		t.Fatalf("one page of every reminder: %+v", all)
	}
	if none := get("name=nothing"); len(none.Actors) != 0 {
		t.Fatalf("a kind with no actors listed %+v", none)
	}
}
