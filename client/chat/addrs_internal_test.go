package chat

import (
	"fmt"
	"slices"
	"testing"
)

// Addresses are completed with the default port, and empty entries and
// repeats are left out; what servers announce adds to the list up to a
// bound.
func TestAddrLists(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"localhost", []string{"localhost:7700"}},
		{"a, b:7701 ,,a:7700,[::1],::1", []string{"a:7700", "b:7701", "[::1]:7700"}},
		{" , ", nil},
		{"", nil},
	} {
		if got := ParseAddrs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("ParseAddrs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	list := ParseAddrs("a,b")
	var many []string
	for i := range 1000 {
		many = append(many, fmt.Sprintf("node-%d.example", i))
	}
	list = mergeAddrs(list, many...)
	if len(list) != maxAddrs || list[0] != "a:7700" || list[1] != "b:7700" || list[2] != "node-0.example:7700" {
		t.Fatalf("after 1000 announced nodes: %d addresses, starting %q", len(list), list[:3])
	}
}
