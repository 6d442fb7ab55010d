package uploads

import (
	"fmt"
	"net/http"
	"time"

	"github.com/parley-chat/parley/fileserver/httperr"
)

// Space for uploads in progress is promised ahead of their data, so
// that two uploads cannot both count on the same free bytes, but the
// promise is bounded, so that nobody can hold space they do not use:
//
//   - each upload is charged what it has written to the staging area
//     and what it has been promised beyond that (its reservation);
//   - a reservation is at most what one person may hold: Share percent
//     of the quota and of the disk's space above MinFree, over all
//     their uploads together. Written bytes are the upload's own and do
//     not count in the share, so a file larger than that reserves again
//     as its data arrives, while there is room;
//   - an upload is in progress while data arrives. One that has received
//     none for ReserveIdle is idle: its reservation is released (its
//     written data stays charged, as it stays on the disk) and it no
//     longer counts against MaxUploads, the uploads one person may have
//     in progress at once. When data comes again it reserves again, if
//     it may and there is room;
//   - a restart promises nothing to the uploads it finds: each is idle
//     until data comes.
//
// Expiry is lazy: a reservation past its time is released when anyone
// next needs a promise, which is the only moment it could stand in the
// way. No timer runs for it.

// resv is one upload's account.
type resv struct {
	user    string    // name key of the uploader
	size    int64     // the file's size, or -1 if not known yet
	written int64     // bytes in the staging area
	ahead   int64     // bytes promised beyond them
	credit  int64     // what placing it frees in the quota (a file it replaces) less what it costs besides its data (folders)
	last    time.Time // when data last arrived, or the upload began; zero for one found at start
}

func (r *resv) charge() int64 { return max(r.written+r.ahead-r.credit, 0) }

// idle reports whether r has received no data for the idle time.
func (m *Manager) idle(r *resv, now time.Time) bool {
	return now.Sub(r.last) > m.cfg.ReserveIdle
}

// expireLocked releases the reservations of idle uploads.
func (m *Manager) expireLocked(now time.Time) {
	for key, r := range m.resv {
		if r.ahead > 0 && m.idle(r, now) {
			m.log.Info("upload idle; its reservation is released", "upload", key, "released", r.ahead, "written", r.written)
			r.ahead = 0
		}
	}
}

// inProgressLocked is how many of user's uploads other than key are in
// progress.
func (m *Manager) inProgressLocked(user, key string, now time.Time) int {
	n := 0
	for k, r := range m.resv {
		if k != key && r.user == user && !m.idle(r, now) {
			n++
		}
	}
	return n
}

// begin opens an account for upload key of user (a name key): size
// bytes (-1 if not known), of which written are already staged. With
// fresh set it is a new upload, in progress from now on: it must fit
// whole in the quota and on the disk if its size is known, its uploader
// must have fewer than MaxUploads in progress, and what may be promised
// to it is promised. Otherwise it is one found at start, idle until
// data comes.
func (m *Manager) begin(key, user string, size, written, credit int64, fresh bool) error {
	if m.cfg.MaxSize > 0 && size > m.cfg.MaxSize {
		return m.tooLarge(size)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := &resv{user: user, size: size, written: written, credit: credit}
	if !fresh {
		m.resv[key] = r
		return nil
	}
	now := m.cfg.Now()
	m.expireLocked(now)
	if err := m.checkCountLocked(user, key, now); err != nil {
		return err
	}
	if size >= 0 {
		if err := m.checkFitLocked(size-written, credit); err != nil {
			return err
		}
	}
	r.last = now
	m.resv[key] = r
	if err := m.growLocked(r, 0); err != nil {
		delete(m.resv, key)
		return err
	}
	return nil
}

func (m *Manager) checkCountLocked(user, key string, now time.Time) error {
	if m.cfg.MaxUploads <= 0 {
		return nil
	}
	if n := m.inProgressLocked(user, key, now); n >= m.cfg.MaxUploads {
		return httperr.New(http.StatusTooManyRequests, httperr.CodeTooManyUploads,
			"you have %d uploads in progress, the most one person may have at once; finish one first (an upload that receives no data for %s stops counting)",
			n, m.cfg.ReserveIdle)
	}
	return nil
}

// totalsLocked sums what the uploads are charged and promised.
func (m *Manager) totalsLocked() (charged, ahead int64) {
	for _, r := range m.resv {
		charged += r.charge()
		ahead += r.ahead
	}
	return charged, ahead
}

// checkFitLocked refuses a file whose need bytes cannot fit now, in the
// quota or on the disk, beside what is used and promised: it could
// never be finished.
func (m *Manager) checkFitLocked(need, credit int64) error {
	charged, ahead := m.totalsLocked()
	if m.cfg.Quota > 0 {
		used, err := m.f.Usage()
		if err != nil {
			return fmt.Errorf("measure shared folder: %w", err)
		}
		if used+charged+need-credit > m.cfg.Quota {
			left := max(m.cfg.Quota-used-charged, 0)
			return httperr.New(http.StatusInsufficientStorage, httperr.CodeQuota,
				"the shared folder is full: %s of its %s quota is used or promised to uploads in progress; this file needs %s and %s is left",
				size(used+charged), size(m.cfg.Quota), size(need-credit), size(left))
		}
	}
	if m.cfg.MinFree > 0 {
		if avail, ok := m.cfg.DiskFree(m.f.StateDir()); ok && avail-ahead-need < m.cfg.MinFree {
			return httperr.New(http.StatusInsufficientStorage, httperr.CodeDiskFull,
				"the server's disk is nearly full: %s free beside what uploads in progress were promised, this file needs %s, and %s must stay free",
				size(avail-ahead), size(need), size(m.cfg.MinFree))
		}
	}
	return nil
}

// growLocked promises r as much of the rest of its file as it may
// have. If that leaves r promised less than need bytes, the error says
// what stopped it.
func (m *Manager) growLocked(r *resv, need int64) error {
	want := int64(-1) // no bound
	if r.size >= 0 {
		want = max(r.size-r.written-r.ahead, 0)
	} else if m.cfg.MaxSize > 0 {
		want = max(m.cfg.MaxSize-r.written-r.ahead, 0)
	}
	grant := want
	var stop error
	bound := func(n int64, why func() error) {
		n = max(n, 0)
		if grant < 0 || n < grant {
			grant = n
			if n < need && stop == nil {
				stop = why()
			}
		}
	}
	charged, ahead := m.totalsLocked()
	var mine int64
	for _, o := range m.resv {
		if o.user == r.user {
			mine += o.ahead
		}
	}
	if q := m.cfg.Quota; q > 0 {
		used, err := m.f.Usage()
		if err != nil {
			return fmt.Errorf("measure shared folder: %w", err)
		}
		// r may grow until everything charged reaches the quota; what
		// placing it frees counts once r is charged that much.
		bound(q-used-charged+max(r.credit-r.written-r.ahead, 0), func() error {
			return httperr.New(http.StatusInsufficientStorage, httperr.CodeQuota,
				"the shared folder is full: %s of its %s quota is used or promised to uploads in progress; the upload was stopped after %s",
				size(used+charged), size(q), size(r.written))
		})
		bound(q*int64(m.cfg.Share)/100-mine, func() error { return m.shareFull(mine, "of the quota") })
	}
	if m.cfg.MinFree > 0 {
		if avail, ok := m.cfg.DiskFree(m.f.StateDir()); ok {
			bound(avail-ahead-m.cfg.MinFree, func() error {
				return httperr.New(http.StatusInsufficientStorage, httperr.CodeDiskFull,
					"the server's disk is nearly full: %s free beside what uploads in progress were promised, and %s must stay free; the upload was stopped after %s",
					size(avail-ahead), size(m.cfg.MinFree), size(r.written))
			})
			bound((avail-m.cfg.MinFree)*int64(m.cfg.Share)/100-mine, func() error { return m.shareFull(mine, "of the disk's free space") })
		}
	}
	if grant < 0 {
		grant = need // nothing bounds it
	}
	r.ahead += grant
	if r.ahead < need {
		if stop == nil {
			stop = m.tooLarge(-1) // only the size limit is left to stop it
		}
		return stop
	}
	return nil
}

func (m *Manager) shareFull(mine int64, of string) error {
	return httperr.New(http.StatusInsufficientStorage, httperr.CodeQuota,
		"your uploads in progress hold %s promised ahead of their data, the most one person may (%d%% %s); send their data, or wait for one to finish",
		size(mine), m.cfg.Share, of)
}

// take charges n bytes that upload key is about to write to what it was
// promised, promising more if that is not enough. It refuses when the
// upload may not have more, and the error says why; then none of the n
// bytes is charged.
func (m *Manager) take(key string, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.resv[key]
	if r == nil {
		return fmt.Errorf("upload %s has no account", key)
	}
	now := m.cfg.Now()
	if r.ahead < n {
		m.expireLocked(now)
		if m.idle(r, now) {
			if err := m.checkCountLocked(r.user, key, now); err != nil {
				return err
			}
		}
	}
	var taken int64
	for taken < n {
		if r.ahead == 0 {
			if err := m.growLocked(r, 1); err != nil {
				// None of the n bytes is written: what was taken is
				// promised again.
				r.ahead += taken
				r.written -= taken
				return err
			}
		}
		c := min(r.ahead, n-taken)
		r.ahead -= c
		r.written += c
		taken += c
	}
	r.last = now
	return nil
}

// end closes upload key's account: it was placed, cancelled or dropped.
func (m *Manager) end(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.resv, key)
}

// InProgress is how many uploads are in progress: begun, and not yet
// placed, cancelled or dropped.
func (m *Manager) InProgress() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.resv)
}

// Reserved is the number of bytes promised to uploads in progress ahead
// of their data.
func (m *Manager) Reserved() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ahead := m.totalsLocked()
	return ahead
}
