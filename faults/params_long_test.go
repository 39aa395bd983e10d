//go:build faults

package faults

// `make faults`: the same scenarios, longer and harder.
var params = struct {
	rate      int
	kills     int
	hold      int
	warmup    int
	heartbeat int
}{rate: 2000, kills: 15, hold: 15, warmup: 3000, heartbeat: 10}
