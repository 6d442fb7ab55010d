// Package metrics reports what the file server does in Prometheus's
// text format: requests by route, method and status, bytes received and
// sent, uploads in progress, event-stream subscribers, and the Go
// runtime's own figures. Each server has a registry of its own.
package metrics

import (
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are the server's counts that are read at each scrape.
type Sources struct {
	Uploads     func() int // resumable uploads in progress
	Subscribers func() int // open event streams
}

// Metrics is one file server's registry.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	in, out  atomic.Uint64
}

// New returns a registry fed by src and by the middleware.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_files_requests_total",
			Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_files_received_bytes_total",
			Help: "Request bodies read: uploads, mostly.",
		}, func() float64 { return float64(m.in.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "parley_files_sent_bytes_total",
			Help: "Response bodies written: downloads, listings and events.",
		}, func() float64 { return float64(m.out.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_files_uploads_in_progress",
			Help: "Resumable uploads begun and not yet finished or dropped.",
		}, func() float64 { return float64(src.Uploads()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "parley_files_event_subscribers",
			Help: "Open event streams (/api/events).",
		}, func() float64 { return float64(src.Subscribers()) }),
	)
	return m
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Count wraps next, counting its requests under the route that
// route(r) names (a template, such as /files/{path}, so that paths do
// not each make a series) and the bytes that go in and out. The writer
// it hands next keeps the ResponseWriter's ReadFrom, so that downloads
// still go out with sendfile, and unwraps for http.ResponseController.
func (m *Metrics) Count(route func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w, m: m, status: http.StatusOK}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &countingBody{ReadCloser: r.Body, m: m}
		}
		next.ServeHTTP(cw, r)
		m.requests.WithLabelValues(route(r), r.Method, strconv.Itoa(cw.status)).Inc()
	})
}

type countingWriter struct {
	http.ResponseWriter
	m      *Metrics
	status int
	wrote  bool
}

func (w *countingWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(p)
	w.m.out.Add(uint64(n))
	return n, err
}

func (w *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	w.wrote = true
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
	}
	w.m.out.Add(uint64(n))
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type countingBody struct {
	io.ReadCloser
	m *Metrics
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.m.in.Add(uint64(n))
	return n, err
}
