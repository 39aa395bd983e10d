package workflows

import (
	"strconv"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Custom search attributes, so the Temporal UI and `temporal workflow list
// --query` can find ShopPulse's runs by what they work on, e.g.
//
//	ShopPulsePeriod = '2026-11-26T13:00:00Z'
//	ShopPulseTopic = 'shop.orders.v1' AND ShopPulsePartition = '3'
//
// They must be registered on the namespace before a workflow sets them
// (workers.EnsureSearchAttributes at worker start; the dev server also gets
// them on its command line).
var (
	// SearchTopic is the Kafka topic a stream supervisor owns.
	SearchTopic = temporal.NewSearchAttributeKeyKeyword("ShopPulseTopic")
	// SearchPartition lists the Kafka partitions a run owns, as decimal strings.
	SearchPartition = temporal.NewSearchAttributeKeyKeywordList("ShopPulsePartition")
	// SearchPeriod is the period a batch run covers, as the RFC 3339 start of
	// an hour (2026-11-26T13:00:00Z) or a day (2026-11-26).
	SearchPeriod = temporal.NewSearchAttributeKeyKeyword("ShopPulsePeriod")
	// SearchProduct is the product a run is about (replenishment, pricing).
	SearchProduct = temporal.NewSearchAttributeKeyKeyword("ShopPulseProduct")
	// SearchCustomer is the customer a run is about (erasure, journeys).
	SearchCustomer = temporal.NewSearchAttributeKeyKeyword("ShopPulseCustomer")
)

// SearchAttributes are the custom search attributes with their types, for
// registration on a namespace.
func SearchAttributes() map[string]enums.IndexedValueType {
	out := map[string]enums.IndexedValueType{}
	for _, k := range []temporal.SearchAttributeKey{SearchTopic, SearchPartition, SearchPeriod, SearchProduct, SearchCustomer} {
		out[k.GetName()] = k.GetValueType()
	}
	return out
}

// searchAttributesVersion guards the upserts below: runs that started before
// workflows set search attributes replay without them.
const searchAttributesVersion = "search-attributes"

// upsertSearch sets search attributes on the running workflow. An invalid
// update is logged, not returned: the UI's filters must not stop the pipeline.
func upsertSearch(ctx workflow.Context, updates ...temporal.SearchAttributeUpdate) {
	if workflow.GetVersion(ctx, searchAttributesVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "err", err)
	}
}

// PeriodHour is the ShopPulsePeriod value of an hour.
func PeriodHour(t time.Time) string { return t.UTC().Truncate(time.Hour).Format(time.RFC3339) }

// PeriodDay is the ShopPulsePeriod value of a day.
func PeriodDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// partitionValues is the ShopPulsePartition value of partitions 0..n-1.
func partitionValues(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}
