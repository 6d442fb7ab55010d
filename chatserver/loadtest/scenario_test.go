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
