package workflows

import "github.com/shoppulse/shoppulse/activities"

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("90s", "10m"), so inputs typed at the `temporal` CLI are readable.
// It also reads a number of nanoseconds. Workflows and activities share
// activities.Duration (workflows import activities, not the other way).
type Duration = activities.Duration
