package tcp

import "testing"

// A slot's event id names one occupant: once the slot is emptied and
// taken by another connection, an event for the first finds nobody.
func TestPollerSlotsIgnoreStaleEvents(t *testing.T) {
	p := &poller{}
	a, b := &conn{id: 1}, &conn{id: 2}
	p.mu.Lock()
	defer p.mu.Unlock()
	idA := p.takeSlot(a)
	if got := p.byID(idA); got != a {
		t.Fatalf("event for a: got %v", got)
	}
	if got := p.byID(idA); got != nil {
		t.Fatalf("second event for a: got conn %d, want none", got.id)
	}
	idB := p.takeSlot(b)
	if b.slot != a.slot {
		t.Fatalf("b took slot %d, not the freed %d", b.slot, a.slot)
	}
	if idB == idA {
		t.Fatalf("the reused slot kept its event id %#x", idA)
	}
	if got := p.byID(idA); got != nil {
		t.Fatalf("stale event for a woke conn %d", got.id)
	}
	if p.parked != 1 {
		t.Fatalf("%d parked, want 1", p.parked)
	}
	p.mu.Unlock()
	p.forget(a) // a no longer holds the slot: b stays
	p.mu.Lock()
	if p.parked != 1 || p.slots[b.slot].c != b {
		t.Fatalf("forgetting a, which left, emptied b's slot")
	}
	if got := p.byID(idB); got != b {
		t.Fatalf("event for b: got %v", got)
	}
	if p.parked != 0 || len(p.free) != 1 {
		t.Fatalf("%d parked and %d free slots, want 0 and 1", p.parked, len(p.free))
	}
	if got := p.byID(slotID(5, 0)); got != nil {
		t.Fatalf("an event for a slot never made woke conn %d", got.id)
	}
}
