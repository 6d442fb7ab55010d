package tcp

// frameQueue is a connection's outbound queue: a ring of encoded frames.
// A writer takes a run of frames from the front (front), writes them
// without holding the connection's lock, and then drops them (done).
// Frames queued meanwhile go at the back. A full ring grows into a new
// array, copying the frames in order, so the run being written is never
// overwritten; once the ring has grown to the traffic, queueing allocates
// nothing. The connection decides when an empty ring goes (trim).
type frameQueue struct {
	ring [][]byte // its length is zero or a power of two
	// 32 bits each, to keep an idle connection's state small: Config
	// bounds a queue's bytes below 2 GiB.
	head  int32 // index of the first frame
	n     int32 // frames queued
	bytes int32 // bytes queued
	cut   bool  // the first frame is what a write left of it
}

func (q *frameQueue) push(b []byte) {
	if int(q.n) == len(q.ring) {
		q.grow()
	}
	q.ring[int(q.head+q.n)&(len(q.ring)-1)] = b
	q.n++
	q.bytes += int32(len(b))
}

// grow doubles a full ring, the first frame moving to index 0.
func (q *frameQueue) grow() {
	r := make([][]byte, max(8, 2*len(q.ring)))
	k := copy(r, q.ring[q.head:])
	copy(r[k:], q.ring[:q.head])
	q.ring, q.head = r, 0
}

// front returns up to max frames from the front of the queue, as many as
// lie together in the ring. They stay queued until done.
func (q *frameQueue) front(max int) [][]byte {
	h := int(q.head)
	k := min(int(q.n), max, len(q.ring)-h)
	return q.ring[h : h+k : h+k]
}

// done drops the first k frames, and off bytes of the frame after them,
// which a write took only part of.
func (q *frameQueue) done(k, off int) {
	mask := len(q.ring) - 1
	for i := range k {
		j := (int(q.head) + i) & mask
		q.bytes -= int32(len(q.ring[j]))
		q.ring[j] = nil
	}
	q.head = int32((int(q.head) + k) & mask)
	q.n -= int32(k)
	if k > 0 {
		q.cut = false
	}
	if off > 0 {
		q.ring[q.head] = q.ring[q.head][off:]
		q.bytes -= int32(off)
		q.cut = true
	}
	if q.n == 0 {
		q.head, q.cut = 0, false // the next run starts at the beginning and is as long as can be
	}
}

// trim lets an empty queue's ring go if it is larger than keptRing: a
// burst is over.
func (q *frameQueue) trim() {
	if q.n == 0 && len(q.ring) > keptRing {
		q.ring = nil
	}
}

// keptRing is the largest ring trim keeps.
const keptRing = 64

// keepCut empties the queue, but for the rest of a frame that a write cut
// short: the client must get all of it before anything else.
func (q *frameQueue) keepCut() {
	if !q.cut || q.n == 0 {
		*q = frameQueue{}
		return
	}
	rest := q.ring[q.head]
	*q = frameQueue{}
	q.push(rest)
	q.cut = true
}
