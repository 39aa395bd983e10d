package workers

import (
	"slices"
	"strings"
	"testing"

	"github.com/shoppulse/shoppulse/devstack"
	"github.com/shoppulse/shoppulse/workflows"
)

// The dev server registers the search attributes on its command line; the
// list there must be the one the workflows set.
func TestDevServerSearchAttributesMatchWorkflows(t *testing.T) {
	var want []string
	for name, typ := range workflows.SearchAttributes() {
		want = append(want, name+"="+typ.String()) // Keyword, KeywordList: the CLI spelling
	}
	slices.Sort(want)
	if got := devstack.SearchAttributes; !slices.Equal(got, want) {
		t.Errorf("devstack.SearchAttributes = %s\nworkflows want        %s", strings.Join(got, " "), strings.Join(want, " "))
	}
}
