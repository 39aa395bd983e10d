//go:build !faults

package faults

// The short version `make test` runs: every scenario, briefly.
var params = struct {
	rate      int // events per second of simulated traffic
	kills     int // SIGKILLs of the worker
	hold      int // seconds a fault lasts (a lock held, a service down, poison flowing)
	warmup    int // messages applied before the first fault
	heartbeat int // seconds of the worker's heartbeat timeout
}{rate: 300, kills: 3, hold: 3, warmup: 300, heartbeat: 10}
