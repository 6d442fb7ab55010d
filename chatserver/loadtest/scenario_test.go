package main

import (
	"testing"
	"time"
)

func TestStagger(t *testing.T) {
	period := 25 * time.Millisecond
	var got []time.Duration
	for i := range 4 {
		got = append(got, stagger(period, i, 4, false))
	}
	want := []time.Duration{0, 6250 * time.Microsecond, 12500 * time.Microsecond, 18750 * time.Microsecond}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sender %d of 4 starts after %v, want %v", i, got[i], want[i])
		}
	}
	for i := range 4 {
		if d := stagger(period, i, 4, true); d != 0 {
			t.Errorf("aligned sender %d starts after %v, want 0", i, d)
		}
	}
}

// Latencies recorded by several readers at once are merged into one
// distribution; what is read before measuring starts is not counted.
func TestRecorderMergesReaders(t *testing.T) {
	rec := newRecorder()
	// More readers than histograms: some share one.
	var readers []*latencies
	for range latencyShards + 4 {
		readers = append(readers, rec.reader())
	}
	rec.deliver(readers[0], time.Now().Add(-time.Hour).UnixNano()) // not measuring yet
	rec.measuring.Store(true)
	done := make(chan struct{})
	for i, l := range readers {
		go func() {
			defer func() { done <- struct{}{} }()
			// Reader i gets the latencies i+1, i+1+len(readers), ... ms: 1
			// to 1000 in all.
			for ms := i + 1; ms <= 1000; ms += len(readers) {
				rec.deliver(l, time.Now().Add(-time.Duration(ms)*time.Millisecond).UnixNano())
			}
		}()
	}
	for range readers {
		<-done
	}
	h := rec.latencies()
	if n := rec.delivered.Load(); n != 1000 || h.TotalCount() != 1000 {
		t.Errorf("delivered %d with %d latencies, want 1000 of each", n, h.TotalCount())
	}
	var r result
	r.setLatency(h)
	// Two significant digits, and the time each deliver call takes.
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", r.P50MS, 500}, {"p90", r.P90MS, 900}, {"p99", r.P99MS, 990}, {"max", r.MaxMS, 1000}} {
		if c.got < c.want*0.99 || c.got > c.want*1.02+5 {
			t.Errorf("%s = %.2f ms, want about %.0f", c.name, c.got, c.want)
		}
	}
}
