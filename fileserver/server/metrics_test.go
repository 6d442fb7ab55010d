package server_test

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// scrape reads /metrics, which needs no token, into values by series.
func (ts *tserver) scrape() map[string]float64 {
	ts.t.Helper()
	resp, body := ts.do("", http.MethodGet, "/metrics", nil)
	if resp.StatusCode != http.StatusOK {
		ts.t.Fatalf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			ts.t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// /metrics counts requests by route (its template, not the path), method
// and status, and the bytes that went in and out; it reports the event
// streams open.
func TestMetrics(t *testing.T) {
	ts := start(t, nil)
	before := ts.scrape()
	data := payload(100_000)
	resp, body := ts.do("alice", http.MethodPut, "/files/report.bin", bytes.NewReader(data))
	want(t, resp, body, http.StatusCreated, "")
	for range 2 {
		resp, body = ts.do("bob", http.MethodGet, "/files/report.bin", nil)
		want(t, resp, body, http.StatusOK, "")
	}
	resp, body = ts.do("", http.MethodGet, "/files/report.bin", nil)
	want(t, resp, body, http.StatusUnauthorized, "unauthorized")
	ev := ts.events("carol", "")
	defer ev.close()

	after := ts.scrape()
	for _, c := range []struct {
		name string
		want float64
	}{
		{`parley_files_requests_total{method="PUT",route="/files/{path:.+}",status="201"}`, 1},
		{`parley_files_requests_total{method="GET",route="/files/{path:.+}",status="200"}`, 2},
		{`parley_files_requests_total{method="GET",route="/files/{path:.+}",status="401"}`, 1},
		{`parley_files_event_subscribers`, 1},
	} {
		if got := after[c.name] - before[c.name]; got != c.want {
			t.Errorf("%s moved by %v, want %v", c.name, got, c.want)
		}
	}
	if got := after[`parley_files_received_bytes_total`] - before[`parley_files_received_bytes_total`]; got < float64(len(data)) {
		t.Errorf("received bytes moved by %v, want at least the upload's %d", got, len(data))
	}
	if got := after[`parley_files_sent_bytes_total`] - before[`parley_files_sent_bytes_total`]; got < 2*float64(len(data)) {
		t.Errorf("sent bytes moved by %v, want at least two downloads of %d", got, len(data))
	}
	if _, ok := after[`parley_files_uploads_in_progress`]; !ok {
		t.Error("no parley_files_uploads_in_progress")
	}
}
