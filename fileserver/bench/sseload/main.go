// Command sseload measures what the file server's event stream costs
// with many subscribers that replay its backlog. It fills the server's
// history with events (one upload each), then opens many event streams
// that each resume from the first event with Last-Event-ID, so every one
// replays the whole backlog; it waits until every stream has received
// the last event (or, with -read=false, only its headers), and prints
// the server's VmRSS and VmHWM from /proc before and after.
//
//	sseload -url http://127.0.0.1:7780 -pid PID [-n 1000] [-events 1024]
//
// The server must check tokens with $PARLEY_SECRET, which sseload signs
// its tokens with. sse-memory.sh beside it starts a server and runs this.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley/shared/filetoken"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sseload:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", "http://127.0.0.1:7780", "the file server's base `URL`")
	pid := flag.Int("pid", 0, "the file server's process id, whose memory is read from /proc")
	n := flag.Int("n", 1000, "subscribers")
	events := flag.Int("events", 1024, "events to make before they subscribe")
	users := flag.Int("users", 0, "spread the subscribers over this many user names (0: one each)")
	read := flag.Bool("read", true, "read the replay; false leaves it unread in the server's socket buffers")
	flag.Parse()
	secret := os.Getenv(filetoken.EnvSecret)
	if secret == "" || *pid == 0 {
		return errors.New("set $" + filetoken.EnvSecret + " and -pid")
	}
	tok := func(user string) string {
		t, _, err := filetoken.Issue([]byte(secret), user, time.Now(), time.Hour)
		if err != nil {
			panic(err)
		}
		return t
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: *n + 10}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A stream opened before the uploads tells their events' ids.
	first, last, err := makeEvents(ctx, client, *url, tok("loader"), *events)
	if err != nil {
		return err
	}
	before, err := memory(*pid)
	if err != nil {
		return err
	}
	fmt.Printf("server before: %s (history %s .. %s)\n", before, first, last)

	var wg sync.WaitGroup
	errs := make(chan error, *n)
	start := time.Now()
	for i := range *n {
		user := fmt.Sprintf("sub%d", i)
		if *users > 0 {
			user = fmt.Sprintf("sub%d", i%*users)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- subscribe(ctx, client, *url, tok(user), first, last, *read)
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	var firstErr error
	for err := range errs {
		if err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	time.Sleep(time.Second) // let the server settle after the last write
	after, err := memory(*pid)
	if err != nil {
		return err
	}
	fmt.Printf("server with %d subscribers (%d refused or failed) after %.1fs: %s\n", *n-failed, failed, time.Since(start).Seconds(), after)
	if firstErr != nil {
		fmt.Printf("first failure: %v\n", firstErr)
	}
	return nil
}

func makeEvents(ctx context.Context, client *http.Client, url, tok string, n int) (first, last string, err error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", "", fmt.Errorf("events: %s", resp.Status)
	}
	ids := make(chan string, n)
	go func() {
		br := bufio.NewReader(resp.Body)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				close(ids)
				return
			}
			if id, ok := strings.CutPrefix(l, "id: "); ok {
				ids <- strings.TrimSpace(id)
			}
		}
	}()
	for i := range n {
		name := fmt.Sprintf("%s/files/backlog-%05d-%s.txt", url, i, strings.Repeat("x", 40))
		req, _ := http.NewRequestWithContext(ctx, "PUT", name, strings.NewReader("event"))
		req.Header.Set("Authorization", "Bearer "+tok)
		r, err := client.Do(req)
		if err != nil {
			return "", "", err
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != 201 {
			return "", "", fmt.Errorf("PUT %d: %s", i, r.Status)
		}
	}
	for i := range n {
		id, ok := <-ids
		if !ok {
			return "", "", errors.New("the event stream ended")
		}
		if i == 0 {
			first = id
		}
		last = id
	}
	return first, last, nil
}

// subscribe resumes after first and reads until last has come (with
// read) or only the headers, then keeps the stream open until ctx ends.
func subscribe(ctx context.Context, client *http.Client, url, tok, first, last string, read bool) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Last-Event-ID", first)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return fmt.Errorf("events: %s", resp.Status)
	}
	go func() {
		<-ctx.Done()
		resp.Body.Close()
	}()
	if !read {
		return nil
	}
	br := bufio.NewReader(resp.Body)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("stream ended before the last event: %w", err)
		}
		if strings.TrimSpace(l) == "id: "+last {
			return nil
		}
	}
}

// memory reads VmRSS and VmHWM of process pid.
func memory(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "VmHWM:") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, ", "), nil
}
