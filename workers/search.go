package workers

import (
	"context"
	"fmt"
	"slices"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/shoppulse/shoppulse/workflows"
)

// EnsureSearchAttributes registers ShopPulse's custom search attributes
// (workflows.SearchAttributes) on the namespace when missing. It is safe to
// call from every worker at start: attributes already there are left alone,
// and a concurrent registration by another worker counts as done. A name
// registered with another type is an error naming it.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	want := workflows.SearchAttributes()
	missing, err := missingSearchAttributes(ctx, c, namespace, want)
	if err != nil || len(missing) == 0 {
		return err
	}
	add := map[string]enums.IndexedValueType{}
	for _, name := range missing {
		add[name] = want[name]
	}
	_, addErr := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: add,
	})
	// Another worker may have added them meanwhile: what counts is the result.
	if missing, err = missingSearchAttributes(ctx, c, namespace, want); err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("register search attributes %v on namespace %s (on Temporal Cloud create them with tcld): %w", missing, namespace, addErr)
	}
	return nil
}

// missingSearchAttributes returns, sorted, the names of want not registered.
func missingSearchAttributes(ctx context.Context, c client.Client, namespace string, want map[string]enums.IndexedValueType) ([]string, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	var missing []string
	for name, typ := range want {
		got, ok := resp.GetCustomAttributes()[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if got != typ {
			return nil, fmt.Errorf("search attribute %s is registered as %s on namespace %s, ShopPulse needs %s", name, got, namespace, typ)
		}
	}
	slices.Sort(missing)
	return missing, nil
}
