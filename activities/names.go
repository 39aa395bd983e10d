package activities

// Registered activity names. They are part of the workflow histories: never
// rename one that may be running.
const (
	NameEnsureStream      = "EnsureStream"
	NameConsumePartitions = "ConsumePartitions"
	NameCheckWatermark    = "CheckWatermark"
	NameRollupRevenueHour = "RollupRevenueHour"
	NameEnsurePartitions  = "EnsurePartitions"
	NamePendingAlerts     = "PendingAlerts"
	NameDeliverAlert      = "DeliverAlert"

	NameCheckWatermarks = "CheckWatermarks"
	NameRollupPeriod    = "RollupPeriod"
	NameRaiseAlert      = "RaiseBatchAlert"

	NameDropExpiredPartitions = "DropExpiredPartitions"

	NameEraseCustomer = "EraseCustomer"
	NameFinishErasure = "FinishErasure"

	NameCheckTableQuality = "CheckTableQuality"
	NameCheckSchemaDrift  = "CheckSchemaDrift"
)
