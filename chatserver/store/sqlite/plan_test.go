package sqlite

import (
	"context"
	"strings"
	"testing"
)

// A resuming login's catch-up reads each conversation's index in id order
// and merges them: no step sorts, so it stops at its limit however long
// the rooms' history is.
func TestSinceQueryDoesNotSort(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		convs   []string
		private bool
	}{{nil, true}, {[]string{"#lobby"}, true}, {[]string{"#lobby", "#go", "#ops"}, true}, {[]string{"#go", "#ops"}, false}} {
		convs := tc.convs
		q, args := sinceQuery("alice", convs, tc.private, 0, 1<<40, 5000)
		rows, err := s.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "\n")
		if strings.Contains(all, "TEMP B-TREE") || strings.Contains(all, "SCAN messages") {
			t.Errorf("%d conversations: the catch-up sorts or scans the log:\n%s", len(convs), all)
		}
	}
}
