// Package metrics reports what the chat server does in Prometheus's text
// format: connections by transport, logins by outcome, messages stored
// and delivered, connections closed by reason, store commit latency, the
// hub's queue and its reads in flight, and the Go runtime's own figures.
// Each server has a registry of its own; nothing here is global.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-chat/parley/chatserver/hub"
)

// Transport is what a transport reports: its open connections, and how
// many were closed for each reason since it started.
type Transport struct {
	Open   int
	Closed map[string]int
}

// Metrics is one chat server's registry. It is the session layer's
// Observer, and takes the hub's commit times.
type Metrics struct {
	reg    *prometheus.Registry
	logins *prometheus.CounterVec
	commit prometheus.Histogram
}

// Register adds collectors of another part, such as a cluster node's.
func (m *Metrics) Register(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }

// New returns a registry with the Go runtime's and the process's
// collectors and the chat server's own, which hub and transports feed:
// they are read at each scrape. transports maps a transport's name
// ("tcp", "websocket") to its counts.
func New(h func() hub.Stats, transports map[string]func() Transport) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_logins_total",
			Help: "Logins by result: ok, or the error code they were refused with.",
		}, []string{"result"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "parley_store_commit_seconds",
			Help:    "Time to make one batch of changes durable in the store.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 0.1 ms to 3.3 s
		}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.logins, m.commit,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_messages_stored_total",
			Help: "Chat messages made durable in the store.",
		}, func() float64 { return float64(h().Stored) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_deliveries_total",
			Help: "Message and recall events queued to sessions, live and caught up.",
		}, func() float64 { return float64(h().Delivered) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_hub_queue",
			Help: "Work waiting for the hub goroutine.",
		}, func() float64 { return float64(h().Queue) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_hub_reads_in_flight",
			Help: "Catch-ups and request reads in progress off the hub goroutine.",
		}, func() float64 { return float64(h().Reads) }),
		&transportCollector{transports: transports},
	)
	for _, r := range []string{"ok", "bad_credentials", "rate_limited", "server_busy"} {
		m.logins.WithLabelValues(r) // shown at 0 before the first
	}
	return m
}

// Login counts a login's outcome; code is "" for success.
func (m *Metrics) Login(code string) {
	if code == "" {
		code = "ok"
	}
	m.logins.WithLabelValues(code).Inc()
}

// ObserveCommit records how long one batch took to make durable.
func (m *Metrics) ObserveCommit(d time.Duration) { m.commit.Observe(d.Seconds()) }

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// transportCollector reads the transports' counts at each scrape.
type transportCollector struct {
	transports map[string]func() Transport
}

var (
	connsDesc = prometheus.NewDesc("parley_connections",
		"Open connections by transport.", []string{"transport"}, nil)
	closesDesc = prometheus.NewDesc("parley_connections_closed_total",
		"Connections closed, by transport and reason: slow_consumer, flood, ping_timeout, client_closed, …",
		[]string{"transport", "reason"}, nil)
)

func (c *transportCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connsDesc
	ch <- closesDesc
}

func (c *transportCollector) Collect(ch chan<- prometheus.Metric) {
	for name, stats := range c.transports {
		st := stats()
		ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(st.Open), name)
		for _, reason := range []string{"slow_consumer", "flood"} {
			if _, ok := st.Closed[reason]; !ok {
				st.Closed[reason] = 0 // shown at 0 before the first
			}
		}
		for reason, n := range st.Closed {
			ch <- prometheus.MustNewConstMetric(closesDesc, prometheus.CounterValue, float64(n), name, reason)
		}
	}
}
