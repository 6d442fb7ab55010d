// Package natstest runs an embedded NATS server for tests of cluster
// mode: the real server, in the test's process, on a free loopback
// port, which it keeps across Stop and Restart so that the nodes
// connected to it find it again.
package natstest

import (
	"net"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Server is an embedded NATS server, running or stopped.
type Server struct {
	t    testing.TB
	port int // -1 until the first start has chosen one
	ns   *natsserver.Server
}

// Start starts a server on a free port, and shuts it down when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, port: -1}
	s.start()
	s.port = s.ns.Addr().(*net.TCPAddr).Port
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: s.port, NoLog: true, NoSigs: true})
	if err != nil {
		s.t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		s.t.Fatal("NATS server not ready after 10 s")
	}
	s.ns = ns
}

// URL is the address clients connect to.
func (s *Server) URL() string { return s.ns.ClientURL() }

// Stop shuts the server down, dropping its clients' connections.
func (s *Server) Stop() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// Restart starts the server again on the same port, after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}
