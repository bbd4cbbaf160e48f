package shard_test

import (
	"cmp"
	"reflect"
	"testing"

	"github.com/pgfleet/pgfleet/shard"
)

func TestMergeSorted(t *testing.T) {
	t.Parallel()
	type row struct{ at, shard int }
	lists := [][]row{{{1, 0}, {4, 0}, {9, 0}}, {}, {{1, 2}, {2, 2}, {9, 2}, {10, 2}}}
	by := func(a, b row) int { return cmp.Compare(a.at, b.at) }
	if got, want := shard.MergeSorted(lists, by, 4), []row{{1, 0}, {1, 2}, {2, 2}, {4, 0}}; !reflect.DeepEqual(got, want) {
		t.Errorf("limit 4: %v, want %v (ties in list order)", got, want)
	}
	if got := shard.MergeSorted(lists, by, 0); len(got) != 7 || got[6].at != 10 {
		t.Errorf("no limit: %v", got)
	}
	if got := shard.MergeSorted[row](nil, by, 3); len(got) != 0 {
		t.Errorf("nothing to merge: %v", got)
	}
}
