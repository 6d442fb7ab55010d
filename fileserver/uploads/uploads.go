// Package uploads writes uploads into the shared folder: plain streamed
// PUTs and resumable tus 1.0 uploads (core, creation, termination), the
// latter through tusd's protocol handler with a store of our own. Both
// write to the staging area outside the shared folder, hash as they go,
// sync, and rename the finished file into place, so nobody ever sees half
// a file. The package also enforces the size limit and the folder quota.
package uploads

import (
	"fmt"
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
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Manager runs uploads.
type Manager struct {
	cfg   Config
	f     *folder.Folder
	log   *slog.Logger
	locks *uploadLocker // resumable uploads in use

	// mu guards reserved: the bytes promised to uploads in progress, by
	// upload, so that two uploads cannot both fit the quota's last gap.
	mu       sync.Mutex
	reserved map[string]int64
	total    int64
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
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, f: cfg.Folder, log: log, locks: newUploadLocker(), reserved: map[string]int64{}}
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

// reserve promises n bytes to upload key, after checking the size limit,
// the quota and the disk's free space. replacing is the size of a file
// the upload will replace, which it frees.
func (m *Manager) reserve(key string, n, replacing int64) error {
	if m.cfg.MaxSize > 0 && n > m.cfg.MaxSize {
		return m.tooLarge(n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cfg.Quota > 0 {
		used, err := m.f.Usage()
		if err != nil {
			return fmt.Errorf("measure shared folder: %w", err)
		}
		if used+m.total+n-replacing > m.cfg.Quota {
			free := max(m.cfg.Quota-used-m.total+replacing, 0)
			return httperr.New(http.StatusInsufficientStorage, httperr.CodeQuota,
				"the shared folder is full: %s of its %s quota is used or promised to uploads in progress; this file needs %s and %s is left",
				size(used+m.total), size(m.cfg.Quota), size(n), size(free))
		}
	}
	if m.cfg.MinFree > 0 {
		if avail, ok := diskFree(m.f.StateDir()); ok && avail-m.total-n < m.cfg.MinFree {
			return httperr.New(http.StatusInsufficientStorage, httperr.CodeDiskFull,
				"the server's disk is nearly full: %s free, this file needs %s, and %s must stay free",
				size(avail-m.total), size(n), size(m.cfg.MinFree))
		}
	}
	m.reserved[key] = n
	m.total += n
	return nil
}

// release gives back what upload key reserved.
func (m *Manager) release(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total -= m.reserved[key]
	delete(m.reserved, key)
}

// Reserved is the number of bytes promised to uploads in progress.
func (m *Manager) Reserved() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}
