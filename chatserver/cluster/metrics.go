package cluster

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a node's cluster figures, for its /metrics. A nil
// *Metrics records nothing.
type Metrics struct {
	writer       prometheus.Gauge
	term         prometheus.Gauge
	request      prometheus.Histogram
	busRTT       prometheus.Histogram
	dbPing       prometheus.Histogram
	sent         prometheus.Counter
	sentBytes    prometheus.Counter
	failed       prometheus.Counter
	received     prometheus.Counter
	gaps         prometheus.Counter
	writerLosses prometheus.Counter
}

func newMetrics() *Metrics {
	buckets := prometheus.ExponentialBuckets(0.00005, 2, 18) // 50 µs to 6.5 s
	return &Metrics{
		writer: prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_cluster_writer",
			Help: "1 while this node is the cluster's writer, which runs the hub."}),
		term: prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_cluster_term",
			Help: "The writer term this node knows: it grows each time the writer changes."}),
		request: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_cluster_request_seconds",
			Help: "Round trip of a login through the bus to the writer and back.", Buckets: buckets}),
		busRTT: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_cluster_nats_rtt_seconds",
			Help: "Round trip to the NATS server, measured at each heartbeat.", Buckets: buckets}),
		dbPing: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_cluster_postgres_ping_seconds",
			Help: "Round trip on the writer lock's PostgreSQL connection, at each of the writer's heartbeats.", Buckets: buckets}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_cluster_batches_sent_total",
			Help: "Batches of events the writer published to other nodes."}),
		sentBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_cluster_batch_bytes_sent_total",
			Help: "Bytes of those batches."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_cluster_batches_failed_total",
			Help: "Batches the writer could not publish."}),
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_cluster_batches_received_total",
			Help: "Batches of events this node received from the writer."}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_cluster_gaps_total",
			Help: "Gaps in the writer's batches: each closes the node's sessions, whose clients fill it from the database as they resume."}),
		writerLosses: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_cluster_writer_losses_total",
			Help: "Times this node lost its way to the writer (bus gone, writer silent, gap) and closed its sessions."}),
	}
}

// Collectors returns the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.writer, m.term, m.request, m.busRTT, m.dbPing, m.sent, m.sentBytes,
		m.failed, m.received, m.gaps, m.writerLosses}
}

func (m *Metrics) observeRequest(d time.Duration) {
	if m != nil {
		m.request.Observe(d.Seconds())
	}
}

func (m *Metrics) batchSent(n int) {
	if m != nil {
		m.sent.Inc()
		m.sentBytes.Add(float64(n))
	}
}

func (m *Metrics) batchFailed() {
	if m != nil {
		m.failed.Inc()
	}
}

func (m *Metrics) batchReceived(int) {
	if m != nil {
		m.received.Inc()
	}
}

func (m *Metrics) gap() {
	if m != nil {
		m.gaps.Inc()
	}
}

func (m *Metrics) lostWriter() {
	if m != nil {
		m.writerLosses.Inc()
	}
}

func (m *Metrics) setWriter(on bool, term uint64) {
	if m != nil {
		if on {
			m.writer.Set(1)
		} else {
			m.writer.Set(0)
		}
		m.term.Set(float64(term))
	}
}
