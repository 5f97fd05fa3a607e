package examples_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rivetgo/rivetgo/examples"
	"github.com/rivetgo/rivetgo/pkg/buckets"
	"github.com/rivetgo/rivetgo/pkg/client"
	"github.com/rivetgo/rivetgo/pkg/natsembed"
	"github.com/rivetgo/rivetgo/services/actorhost"
	"github.com/rivetgo/rivetgo/services/gateway"
)

// startMesh runs an embedded NATS server, an actor host with the example
// actors and a gateway in this process, and returns the gateway's URL and
// a function that stops them all.
func startMesh() (url string, stop func()) {
	dir, err := os.MkdirTemp("", "rivetgo-example-")
	if err != nil {
		panic(err)
	}
	srv, err := natsembed.Start(natsembed.Config{Port: -1, StoreDir: dir})
	if err != nil {
		panic(err)
	}
	connect := func() *nats.Conn {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			panic(err)
		}
		return nc
	}
	hostConn, gwConn := connect(), connect()
	bc := buckets.Config{Memory: true, HostTTL: 2 * time.Second}
	h, err := actorhost.New(actorhost.Config{Conn: hostConn, Registry: examples.Registry(), Buckets: bc})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hostDone := make(chan error, 1)
	go func() { hostDone <- h.Run(ctx) }()
	<-h.Ready()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	g, err := gateway.New(gateway.Config{Conn: gwConn, Listener: ln, Buckets: bc, RequestTimeout: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	gwDone := make(chan error, 1)
	go func() { gwDone <- g.Run(ctx) }()
	<-g.Ready()
	return "http://" + ln.Addr().String(), func() {
		cancel()
		<-gwDone
		<-hostDone
		hostConn.Close()
		gwConn.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
		_ = os.RemoveAll(dir)
	}
}

// The Go client: a handle by name and key (key parts are variadic), calls
// by typed reference, by name into a pointer, and by name with a typed
// result; a handle with a creation input made with Create.
func Example_goClient() {
	url, stop := startMesh()
	defer stop()
	ctx := context.Background()

	c := client.New(url)
	counter := c.GetOrCreate("counter", "example", "a")
	n, err := examples.CounterIncrement.Call(ctx, counter, 5) // n is an int64
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("typed:", n)

	var m int64
	if err := counter.Call(ctx, "increment", &m, 2); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("by name:", m)

	got, err := client.Call[int64](ctx, counter, "getCount")
	fmt.Println("generic:", got, err)

	started, err := c.Get("counter", "started").WithInput(examples.CounterInput{Start: 40}).Create(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err = examples.CounterGetCount.Call(ctx, started)
	fmt.Println("created with input:", n, err)

	_, err = c.Get("counter", "started").Create(ctx)
	fmt.Println("again:", err != nil && errors.Is(err, client.ErrDuplicateKey))
	// Output:
	// typed: 5
	// by name: 7
	// generic: 7 <nil>
	// created with input: 40 <nil>
	// again: true
}

// The in-actor client has the same shape: chatRoomList's createRoom does
//
//	h := c.Client().GetOrCreate("chatRoom", org, room).WithInput(ChatRoomInput{Topic: topic})
//	info, err := actor.Call[map[string]string](c, h, "getRoomInfo")
//
// and a Go client reaches the room it made with the same calls.
func Example_actorClient() {
	url, stop := startMesh()
	defer stop()
	ctx := context.Background()

	c := client.New(url)
	list := c.GetOrCreate("chatRoomList", "acme")
	info, err := client.Call[map[string]string](ctx, list, "createRoom", "general", "all things acme")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info["org"], info["room"], info["topic"])

	room := c.Get("chatRoom", "acme", "general")
	info, err = client.Call[map[string]string](ctx, room, "getRoomInfo")
	fmt.Println(info["topic"], err)
	// Output:
	// acme general all things acme
	// all things acme <nil>
}
