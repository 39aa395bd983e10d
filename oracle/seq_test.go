package oracle

import (
	"reflect"
	"testing"
)

func TestSequenceProblemsNamesGapsAndRepeats(t *testing.T) {
	got := sequenceProblems(map[seqKey][]int64{
		{"shop-1", "c-1"}: {1, 2, 2, 2, 5, 3, 8},
		{"shop-1", "c-2"}: {1, 2, 3},
		{"api", "c-9"}:    {2},
	})
	want := []SeqProblem{
		{Source: "api", Key: "c-9", Kind: "gap", From: 1, To: 1},
		{Source: "shop-1", Key: "c-1", Kind: "repeat", From: 2, To: 2},
		{Source: "shop-1", Key: "c-1", Kind: "gap", From: 4, To: 4},
		{Source: "shop-1", Key: "c-1", Kind: "gap", From: 6, To: 7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}
