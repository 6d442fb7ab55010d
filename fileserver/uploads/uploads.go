// Package uploads writes uploads into the shared folder: plain streamed
// PUTs and resumable tus 1.0 uploads (core, creation, termination), the
// latter through tusd's protocol handler with a store of our own. Both
// write to the staging area outside the shared folder, hash as they go,
// sync, and rename the finished file into place, so nobody ever sees half
// a file. The package also enforces the size limit and the folder quota.
package uploads

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/parley-chat/parley/fileserver/folder"
	"github.com/parley-chat/parley/fileserver/httperr"
)

// Config configures uploads.
type Config struct {
	Folder *folder.Folder
	// MaxSize is the largest file in bytes; 0 means no limit.
	MaxSize int64
	// Quota is the most the shared folder may hold, in bytes; 0 means no
	// quota.
	Quota int64
	// MinFree is how much space an upload must leave free on the disk;
	// 0 means only the disk's own limit applies.
	MinFree int64
	// Expiry is how long an unfinished resumable upload is kept after
	// its last write (default 24h).
	Expiry time.Duration
	// MaxUploads is how many uploads one person may have in progress
	// (receiving data) at once; 0 means no limit.
	MaxUploads int
	// Share is the percentage of the quota, and of the disk's space
	// above MinFree, that one person's uploads in progress may be
	// promised ahead of their data (see reserve.go); 0 means 100.
	Share int
	// ReserveIdle is how long an upload may receive no data before its
	// reservation is released (default 2m).
	ReserveIdle time.Duration
	Logger      *slog.Logger
	// DiskFree tells the space free on the file system that holds a
	// folder; nil means asking the system (statfs).
	DiskFree func(dir string) (int64, bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Manager runs uploads.
type Manager struct {
	cfg   Config
	f     *folder.Folder
	log   *slog.Logger
	locks *uploadLocker // resumable uploads in use
	bufs  *sync.Pool    // the streams' buffers (see stream.go)

	// mu guards resv: each unfinished upload's account of what it has
	// written and been promised (see reserve.go), so that two uploads
	// cannot both fit the quota's last gap.
	mu   sync.Mutex
	resv map[string]*resv
}

// New returns a Manager. It looks at the resumable uploads left in the
// staging area: those past their expiry are removed, finished ones are
// placed, and the rest keep their reservations.
func New(cfg Config) (*Manager, error) {
	if cfg.Expiry <= 0 {
		cfg.Expiry = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DiskFree == nil {
		cfg.DiskFree = diskFree
	}
	if cfg.Share <= 0 || cfg.Share > 100 {
		cfg.Share = 100
	}
	if cfg.ReserveIdle <= 0 {
		cfg.ReserveIdle = 2 * time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, f: cfg.Folder, log: log, locks: newUploadLocker(), bufs: newBufPool(), resv: map[string]*resv{}}
	m.recoverStaged()
	return m, nil
}

func size(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }

// tooLarge is the 413 for a file of n bytes.
func (m *Manager) tooLarge(n int64) *httperr.Error {
	if n < 0 {
		return httperr.New(http.StatusRequestEntityTooLarge, httperr.CodeTooLarge,
			"the file is larger than the limit of %s per file", size(m.cfg.MaxSize))
	}
	return httperr.New(http.StatusRequestEntityTooLarge, httperr.CodeTooLarge,
		"the file is %s; the limit is %s per file", size(n), size(m.cfg.MaxSize))
}
