package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// driver connects one load connection in some protocol.
type driver interface {
	// setup prepares the server (accounts, say) before connections open.
	setup(ctx context.Context, log io.Writer) error
	// connect opens connection i, logs it in and joins the scenario's room
	// if it has one. rec is told about every message the connection reads.
	connect(ctx context.Context, i int, rec *recorder) (conn, error)
}

// conn is one load connection.
type conn interface {
	// send posts text to the room, or to the connection's peer in the
	// pairs scenario. It may block when the connection's window is full.
	send(text []byte) error
	close()
}

// recorder counts deliveries and their latencies.
type recorder struct {
	measuring atomic.Bool
	delivered atomic.Int64
	sent      atomic.Int64
	errors    atomic.Int64
	readers   atomic.Uint32
	shards    [latencyShards]latencies
	mu        sync.Mutex
	errText   map[string]int
}

// latencies holds what some connections' readers measured, in a histogram
// of microseconds to two significant digits (HdrHistogram), so that
// recording allocates nothing. One list of every latency, grown under a
// lock, held every reader up whenever it was copied to grow, and that wait
// showed in the latencies measured: at 40 messages/s per sender against
// Parley, p99 55-280 ms and a maximum of 290-440 ms, against 34-40 ms and
// 70-76 ms with the list made large enough at the start. A histogram for
// each connection (about 21 KB each, 21 MB for a thousand) took about 8%
// of the load tool's CPU time in perf's profile at 400,000 deliveries/s;
// with a few shared ones the tool's user time is 8-12% lower.
type latencies struct {
	mu sync.Mutex
	h  *hdr.Histogram
	_  [112]byte // a cache line of its own for each shard's lock
}

// latencyShards is how many histograms the connections share: enough that
// two readers seldom want the same one at once, few enough to stay in
// cache.
const latencyShards = 16

// Latencies are recorded from 1 µs to 100 s; longer ones count as 100 s.
const (
	minLatencyUS = 1
	maxLatencyUS = 100_000_000
)

// newRecorder makes every histogram now, so that none is made while
// latencies are measured.
func newRecorder() *recorder {
	r := &recorder{errText: map[string]int{}}
	for i := range r.shards {
		r.shards[i].h = hdr.New(minLatencyUS, maxLatencyUS, 2)
	}
	return r
}

// reader returns the record that one more connection's reader is to use.
func (r *recorder) reader() *latencies {
	return &r.shards[int(r.readers.Add(1))%len(r.shards)]
}

// deliver records in l one message read, sent at the unix-nanosecond
// sentAt.
func (r *recorder) deliver(l *latencies, sentAt int64) {
	if !r.measuring.Load() {
		return
	}
	r.delivered.Add(1)
	if sentAt > 0 {
		us := (time.Now().UnixNano() - sentAt) / 1000
		l.mu.Lock()
		l.h.RecordValue(min(max(us, minLatencyUS), maxLatencyUS))
		l.mu.Unlock()
	}
}

// latencies merges what every reader recorded.
func (r *recorder) latencies() *hdr.Histogram {
	all := hdr.New(minLatencyUS, maxLatencyUS, 2)
	for i := range r.shards {
		l := &r.shards[i]
		l.mu.Lock()
		all.Merge(l.h)
		l.mu.Unlock()
	}
	return all
}

// dropped records a connection that the server closed; reason is what the
// server said about it, if anything.
func (r *recorder) dropped(reason string, err error) {
	switch {
	case reason != "":
		r.fail(fmt.Errorf("closed by the server: %s", reason))
	case err != nil:
		r.fail(fmt.Errorf("closed by the server: %w", err))
	default:
		r.fail(errors.New("closed by the server"))
	}
}

func (r *recorder) fail(err error) {
	r.errors.Add(1)
	r.mu.Lock()
	if len(r.errText) < 20 {
		r.errText[err.Error()]++
	}
	r.mu.Unlock()
}

// payload builds a message of size bytes starting with the time.
func payload(size int) []byte {
	b := make([]byte, size)
	ts := fmt.Sprintf("%019d ", time.Now().UnixNano())
	copy(b, ts)
	for i := len(ts); i < size; i++ {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// parseTS reads the timestamp at the start of a payload.
func parseTS(b []byte) int64 {
	if len(b) < 19 {
		return 0
	}
	var v int64
	for _, c := range b[:19] {
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + int64(c-'0')
	}
	return v
}

// openAll opens n connections at a bounded rate, with some in parallel.
func openAll(ctx context.Context, cfg config, d driver, rec *recorder, log io.Writer) ([]conn, error) {
	conns := make([]conn, cfg.conns)
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(cfg.dialParallel, 1))
	tick := time.NewTicker(time.Second / time.Duration(max(cfg.dialRate, 1)))
	defer tick.Stop()
	for i := range cfg.conns {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := d.connect(ctx, i, rec)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
				return
			}
			conns[i] = c
		}(i)
		if (i+1)%1000 == 0 {
			fmt.Fprintf(log, "  %d connections open\n", i+1)
		}
	}
	wg.Wait()
	if firstErr != nil {
		for _, c := range conns {
			if c != nil {
				c.close()
			}
		}
		return nil, firstErr
	}
	return conns, nil
}

func runTraffic(ctx context.Context, cfg config, d driver, res *result, log io.Writer) error {
	if err := d.setup(ctx, log); err != nil {
		return err
	}
	rec := newRecorder()
	fmt.Fprintf(log, "opening %d connections to %s (%s)\n", cfg.conns, cfg.server, cfg.driver)
	conns, err := openAll(ctx, cfg, d, rec, log)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()

	senders := conns[:cfg.senders]
	if cfg.scenario == "pairs" {
		// The first of each pair sends to the second.
		senders = nil
		for i := 0; i+1 < len(conns); i += 2 {
			senders = append(senders, conns[i])
		}
		res.Senders = len(senders)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	// At a fixed rate, sender i starts i/len(senders) of a period after the
	// first, so that the server gets one message at a time at an even
	// pace, unless -aligned asks for every sender's message at once.
	var period time.Duration
	if cfg.rate > 0 {
		period = time.Duration(float64(time.Second) / cfg.rate)
	}
	for i, c := range senders {
		wg.Add(1)
		go func(c conn, offset time.Duration) {
			defer wg.Done()
			var tick *time.Ticker
			if period > 0 {
				if offset > 0 {
					t := time.NewTimer(offset)
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
						return
					}
				}
				tick = time.NewTicker(period)
				defer tick.Stop()
			}
			for ctx.Err() == nil {
				if tick != nil {
					select {
					case <-tick.C:
					case <-ctx.Done():
						return
					}
				}
				if err := c.send(payload(cfg.size)); err != nil {
					if ctx.Err() == nil {
						rec.fail(err)
					}
					return
				}
				rec.sent.Add(1)
			}
		}(c, stagger(period, i, len(senders), cfg.aligned))
	}

	fmt.Fprintf(log, "warming up for %s\n", cfg.warmup)
	select {
	case <-time.After(cfg.warmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	cpu0, _ := procCPU(cfg.pid)
	also0, _ := procCPU(cfg.alsoPID)
	sent0 := rec.sent.Load()
	rec.measuring.Store(true)
	start := time.Now()
	fmt.Fprintf(log, "measuring for %s\n", cfg.duration)
	select {
	case <-time.After(cfg.duration):
	case <-ctx.Done():
	}
	rec.measuring.Store(false)
	elapsed := time.Since(start)
	cpu1, _ := procCPU(cfg.pid)
	also1, _ := procCPU(cfg.alsoPID)
	cancel()
	wg.Wait()

	res.Seconds = elapsed.Seconds()
	res.Sent = rec.sent.Load() - sent0
	res.Delivered = rec.delivered.Load()
	res.DeliveredPerSec = float64(res.Delivered) / elapsed.Seconds()
	res.Errors = rec.errors.Load()
	res.ErrorText = rec.errText
	res.setLatency(rec.latencies())
	if cfg.pid > 0 {
		res.ServerCPUSeconds = (cpu1 - cpu0).Seconds()
		if res.Delivered > 0 {
			res.CPUPerDeliveryUS = res.ServerCPUSeconds * 1e6 / float64(res.Delivered)
		}
		if cfg.scenario == "history" && res.Sent > 0 {
			res.CPUPerDeliveryUS = res.ServerCPUSeconds * 1e6 / float64(res.Sent)
		}
		res.ServerRSSKB, _ = procRSS(cfg.pid)
	}
	if cfg.alsoPID > 0 {
		res.OtherCPUSeconds = (also1 - also0).Seconds()
		n := res.Delivered
		if cfg.scenario == "history" {
			n = res.Sent
		}
		if n > 0 {
			res.OtherCPUPerDeliveryUS = res.OtherCPUSeconds * 1e6 / float64(n)
		}
	}
	if cfg.scenario == "history" {
		res.StoredPerSec = float64(res.Sent) / elapsed.Seconds()
	}
	return nil
}

// stagger is how long sender i of n waits before its first period.
func stagger(period time.Duration, i, n int, aligned bool) time.Duration {
	if aligned || n == 0 {
		return 0
	}
	return period * time.Duration(i) / time.Duration(n)
}

func runIdle(ctx context.Context, cfg config, d driver, res *result, log io.Writer) error {
	if err := d.setup(ctx, log); err != nil {
		return err
	}
	base, _ := procRSS(cfg.pid)
	rec := newRecorder()
	fmt.Fprintf(log, "opening %d idle connections to %s (%s)\n", cfg.conns, cfg.server, cfg.driver)
	start := time.Now()
	conns, err := openAll(ctx, cfg, d, rec, log)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	res.SetupSeconds = time.Since(start).Seconds()
	// Let the server settle: buffers from the logins are released.
	select {
	case <-time.After(cfg.warmup):
	case <-ctx.Done():
		return ctx.Err()
	}
	if cfg.pid > 0 {
		runtimeRSS, _ := procRSS(cfg.pid)
		res.ServerRSSKB = runtimeRSS
		res.BaseRSSKB = base
		res.RSSPerConnKB = float64(runtimeRSS-base) / float64(cfg.conns)
	}
	if cfg.hold > 0 {
		fmt.Fprintf(log, "holding %d connections for %s\n", cfg.conns, cfg.hold)
		select {
		case <-time.After(cfg.hold):
		case <-ctx.Done():
		}
	}
	res.Errors = rec.errors.Load()
	res.ErrorText = rec.errText
	return nil
}

// result is what a run reports.
type result struct {
	Driver           string         `json:"driver"`
	Scenario         string         `json:"scenario"`
	Server           string         `json:"server"`
	Conns            int            `json:"conns"`
	Senders          int            `json:"senders"`
	Size             int            `json:"size"`
	Rate             float64        `json:"rate_per_sender"`
	Aligned          bool           `json:"aligned,omitempty"`
	GoMaxProcs       int            `json:"gomaxprocs"`
	Seconds          float64        `json:"seconds"`
	Sent             int64          `json:"sent"`
	Delivered        int64          `json:"delivered"`
	DeliveredPerSec  float64        `json:"delivered_per_sec"`
	StoredPerSec     float64        `json:"stored_per_sec,omitempty"`
	P50MS            float64        `json:"p50_ms"`
	P90MS            float64        `json:"p90_ms"`
	P99MS            float64        `json:"p99_ms"`
	MaxMS            float64        `json:"max_ms"`
	Errors           int64          `json:"errors"`
	ErrorText        map[string]int `json:"error_text,omitempty"`
	ServerCPUSeconds float64        `json:"server_cpu_seconds"`
	CPUPerDeliveryUS float64        `json:"cpu_per_delivery_us"`
	ServerRSSKB      int64          `json:"server_rss_kb"`
	// The -also-pid process's CPU while measuring.
	OtherCPUSeconds       float64 `json:"other_cpu_seconds,omitempty"`
	OtherCPUPerDeliveryUS float64 `json:"other_cpu_per_delivery_us,omitempty"`
	BaseRSSKB             int64   `json:"base_rss_kb,omitempty"`
	RSSPerConnKB          float64 `json:"rss_per_conn_kb,omitempty"`
	SetupSeconds          float64 `json:"setup_seconds,omitempty"`
	StormSeconds          float64 `json:"storm_seconds,omitempty"`
	StormLoginsSec        float64 `json:"storm_logins_per_sec,omitempty"`
}

func (r *result) setLatency(h *hdr.Histogram) {
	if h.TotalCount() == 0 {
		return
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	r.P50MS, r.P90MS, r.P99MS = ms(h.ValueAtQuantile(50)), ms(h.ValueAtQuantile(90)), ms(h.ValueAtQuantile(99))
	r.MaxMS = ms(h.Max())
}

func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "%s %s: %d connections", r.Driver, r.Scenario, r.Conns)
	switch r.Scenario {
	case "idle":
		fmt.Fprintf(w, " held; server RSS %d KB (%d KB before), %.2f KB per connection; setup %.1fs; errors %d\n",
			r.ServerRSSKB, r.BaseRSSKB, r.RSSPerConnKB, r.SetupSeconds, r.Errors)
		for e, n := range r.ErrorText {
			fmt.Fprintf(w, "  error ×%d: %s\n", n, e)
		}
		return
	case "setup":
		fmt.Fprintln(w, " set up")
		return
	case "storm":
		fmt.Fprintf(w, " came back in %.2fs (%.0f logins/s); server RSS %d KB; errors %d\n",
			r.StormSeconds, r.StormLoginsSec, r.ServerRSSKB, r.Errors)
		return
	}
	rate := "flat out"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%.0f msg/s each, spread over the period", r.Rate)
		if r.Aligned {
			rate = fmt.Sprintf("%.0f msg/s each, all at the same instants", r.Rate)
		}
	}
	fmt.Fprintf(w, ", %d senders %s, %d-byte messages, %.1fs measured\n", r.Senders, rate, r.Size, r.Seconds)
	fmt.Fprintf(w, "  sent %d, delivered %d (%.0f/s)", r.Sent, r.Delivered, r.DeliveredPerSec)
	if r.StoredPerSec > 0 {
		fmt.Fprintf(w, ", stored %.0f/s", r.StoredPerSec)
	}
	fmt.Fprintf(w, ", errors %d\n", r.Errors)
	fmt.Fprintf(w, "  latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.P50MS, r.P90MS, r.P99MS, r.MaxMS)
	if r.ServerCPUSeconds > 0 {
		fmt.Fprintf(w, "  server CPU %.2fs: %.3f µs per delivered message; RSS %d KB\n", r.ServerCPUSeconds, r.CPUPerDeliveryUS, r.ServerRSSKB)
	}
	for e, n := range r.ErrorText {
		fmt.Fprintf(w, "  error ×%d: %s\n", n, e)
	}
}
