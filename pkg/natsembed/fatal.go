package natsembed

import (
	"errors"
	"fmt"
)

// fatalLog is the embedded server's logger while it starts: it keeps the
// first fatal error (a listen error above all, which nats-server reports
// only through its logger) and drops every other line.
type fatalLog struct {
	ch chan error // buffered, 1: the first fatal error
}

func newFatalLog() *fatalLog { return &fatalLog{ch: make(chan error, 1)} }

// Fatalf records the error. nats-server calls it when it cannot listen,
// with the net error as an argument ("Error listening on port: %s, %q"):
// that error is kept as it is ("listen tcp 127.0.0.1:4222: bind: address
// already in use"), so errors.Is(err, syscall.EADDRINUSE) holds.
func (l *fatalLog) Fatalf(format string, v ...any) {
	err := errors.New(fmt.Sprintf(format, v...))
	for _, a := range v {
		if e, ok := a.(error); ok {
			err = e
		}
	}
	select {
	case l.ch <- err:
	default:
	}
}

func (l *fatalLog) Noticef(string, ...any) {}
func (l *fatalLog) Warnf(string, ...any)   {}
func (l *fatalLog) Errorf(string, ...any)  {}
func (l *fatalLog) Debugf(string, ...any)  {}
func (l *fatalLog) Tracef(string, ...any)  {}
