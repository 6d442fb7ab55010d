package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Three clients in a room send numbered messages continuously. The server
// is killed with SIGKILL partway through and restarted on the same data.
// In the end every client has received every message every client sent,
// exactly once, and in each sender's order.
func TestKillNineLosesNothing(t *testing.T) {
	srv := startChat(t, "")
	names := []string{"ann", "ben", "cat"}
	clients := map[string]*proc{}
	for _, n := range names {
		clients[n] = connected(t, srv.addr, n)
		clients[n].do("/join relay")
	}

	const perSender = 60
	var wg sync.WaitGroup
	killAt := make(chan struct{})
	for _, n := range names {
		wg.Add(1)
		go func(name string, c *proc) {
			defer wg.Done()
			for i := 1; i <= perSender; i++ {
				if _, err := fmt.Fprintf(c.in, "%s %d\n", name, i); err != nil {
					return
				}
				if i == perSender/3 {
					select {
					case killAt <- struct{}{}:
					default:
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}(n, clients[n])
	}

	<-killAt
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.wait()
	// Stay down long enough for every client to notice and start retrying.
	for _, n := range names {
		clients[n].waitEvent("reconnecting", func(e event) bool { return e.str("type") == "reconnecting" })
	}
	startChatAt(t, srv.addr, srv.data)
	wg.Wait()

	// Wait until every client has every message, then check.
	for _, reader := range names {
		c := clients[reader]
		for _, sender := range names {
			c.waitEvent(fmt.Sprintf("%s's last message", sender), isMessage(fmt.Sprintf("%s %d", sender, perSender)))
		}
		c.waitEvent("reconnected", func(e event) bool { return e.str("type") == "reconnected" })
	}
	for _, reader := range names {
		c := clients[reader]
		got := map[string][]int{}
		ids := map[uint64]bool{}
		for _, e := range c.events() {
			if e.str("type") != "message" || e["history"] == true {
				continue
			}
			if ids[e.num("id")] {
				t.Errorf("%s received message %d twice", reader, e.num("id"))
			}
			ids[e.num("id")] = true
			sender, num, ok := strings.Cut(e.str("text"), " ")
			if !ok || sender != e.str("from") {
				continue
			}
			n, _ := strconv.Atoi(num)
			got[sender] = append(got[sender], n)
		}
		for _, sender := range names {
			seq := got[sender]
			ok := len(seq) == perSender
			for i := 0; ok && i < perSender; i++ {
				ok = seq[i] == i+1
			}
			if !ok {
				t.Errorf("%s received from %s: %v; want 1..%d once each, in order", reader, sender, seq, perSender)
			}
		}
	}
	for _, n := range names {
		clients[n].in.Close()
		if code := clients[n].wait(); code != 0 {
			t.Errorf("%s exited %d", n, code)
		}
	}
}
