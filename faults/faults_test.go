package faults

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/devstack"
	"github.com/shoppulse/shoppulse/internal/testenv"
)

func hold() time.Duration { return time.Duration(params.hold) * time.Second }

// warmRig starts a scenario: a rig (on a private stack if private) with
// traffic of the given seed flowing and one worker (with workerEnv) that has
// applied the warm-up before the first fault.
func warmRig(t *testing.T, private bool, seed uint64, workerEnv ...string) (r *rig, w *exec.Cmd, began time.Time) {
	t.Helper()
	timeout, warmup := 15*time.Minute, 2*time.Minute
	if private {
		timeout, warmup = 20*time.Minute, 3*time.Minute
	}
	r = newRig(t, testenv.Context(t, timeout), private)
	began = time.Now()
	r.startTraffic(params.rate, seed, 20*time.Minute)
	w = r.startWorker(workerEnv...)
	r.waitApplied(0, int64(params.warmup), warmup)
	return r, w, began
}

// TestFaults_WorkerSIGKILL kills the worker at random moments, many times in
// one run, starting a new one after each kill.
func TestFaults_WorkerSIGKILL(t *testing.T) {
	r, w, began := warmRig(t, false, 1)
	rng := rand.New(rand.NewPCG(7, 7))
	var worst time.Duration
	for i := range params.kills {
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		at := time.Now()
		r.kill(w)
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		w = r.startWorker()
		rec := r.caughtUp(6 * time.Minute)
		r.fault(at, time.Now())
		worst = max(worst, rec)
		t.Logf("kill %d: caught up %s after the restart", i+1, rec.Round(time.Millisecond))
	}
	r.finish("worker-sigkill", params.kills, worst, began)
}

// TestFaults_ZombieOwner freezes a worker (SIGSTOP) past its heartbeat
// timeout, so Temporal gives its partitions to the other worker, then thaws
// it: its batches in flight must be fenced off, not applied twice.
func TestFaults_ZombieOwner(t *testing.T) {
	ctx := testenv.Context(t, 15*time.Minute)
	r := newRig(t, ctx, false)
	began := time.Now()
	r.startTraffic(params.rate, 2, 20*time.Minute)
	a := r.startWorker()
	r.startWorker()
	r.waitApplied(0, int64(params.warmup), 2*time.Minute)
	at := time.Now()
	if err := a.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Past the heartbeat timeout the partitions move; the pipeline must go
	// on without the frozen worker.
	before := r.applied()
	r.waitApplied(before, int64(params.rate), time.Duration(params.heartbeat)*time.Second*10)
	time.Sleep(time.Duration(params.heartbeat) * time.Second)
	if err := a.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	rec := r.caughtUp(6 * time.Minute)
	r.fault(at, time.Now())
	r.finish("zombie-owner", 1, rec, began)
}

// TestFaults_SlowPostgresAndFullPools holds exclusive locks on the hot
// tables for seconds while the worker's pool is at its minimum, so every
// consumer waits on the database at once.
func TestFaults_SlowPostgresAndFullPools(t *testing.T) {
	r, _, began := warmRig(t, false, 3, "SHOPPULSE_DATABASE_MAX_CONNS=2")
	var worst time.Duration
	for i, table := range []string{"revenue_minute", "traffic_minute", "stock_levels, payments_minute"} {
		at := time.Now()
		err := pgx.BeginTxFunc(r.ctx, r.db.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(r.ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
				return err
			}
			time.Sleep(hold())
			return nil
		})
		if err != nil {
			t.Fatalf("hold a lock on %s: %v", table, err)
		}
		rec := r.caughtUp(6 * time.Minute)
		r.fault(at, time.Now())
		worst = max(worst, rec)
		t.Logf("lock %d on %s for %s: caught up %s after release", i+1, table, hold(), rec.Round(time.Millisecond))
	}
	r.finish("slow-postgres-full-pools", 3, worst, began)
}

// TestFaults_ConsumerCountChange changes the number of consumer activities
// while traffic flows, as an operator would: each new worker process started
// with another stream.consumers signals the supervisors (set-consumers),
// which drain the running consumers and spread the partitions over the new
// count, across every worker polling the queue (2 -> 3 -> 1 -> 4).
func TestFaults_ConsumerCountChange(t *testing.T) {
	r, _, began := warmRig(t, false, 5)
	var worst time.Duration
	counts := []int{3, 1, 4}
	for i, n := range counts {
		at := time.Now()
		r.startWorker(fmt.Sprintf("SHOPPULSE_STREAM_CONSUMERS=%d", n))
		// The change must not stop the flow: events keep being applied
		// while the partitions move.
		r.waitApplied(r.applied(), int64(params.rate), 2*time.Minute)
		rec := r.caughtUp(6 * time.Minute)
		r.fault(at, time.Now())
		worst = max(worst, rec)
		for deadline := time.Now().Add(time.Minute); ; {
			got, err := r.consumers(r.topics.Orders)
			if err == nil && got == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the orders supervisor has %d consumer activities (%v), want %d", got, err, n)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("change %d to %d consumers: caught up %s after the new worker started", i+1, n, rec.Round(time.Millisecond))
	}
	r.finish("consumer-count-change", len(counts), worst, began)
}

// TestFaults_PoisonBurst mixes every kind of bad message into valid traffic.
func TestFaults_PoisonBurst(t *testing.T) {
	r, _, began := warmRig(t, false, 4)
	at := time.Now()
	r.traffic.setPoison(true)
	time.Sleep(hold())
	r.traffic.setPoison(false)
	rec := r.caughtUp(6 * time.Minute)
	r.fault(at, time.Now())
	res := r.finish("poison-burst", 1, rec, began)
	if res.DeadLettered < 5 {
		t.Errorf("only %d dead letters: the burst did not reach the pipeline", res.DeadLettered)
	}
}

// TestFaults_ServiceRestarts crashes the broker, the database (immediate
// shutdown) and the Temporal dev server (its database file kept) of a
// private stack, one at a time, while traffic flows, and starts each again.
func TestFaults_ServiceRestarts(t *testing.T) {
	r, _, began := warmRig(t, true, 5)
	var worst time.Duration
	for _, svc := range []devstack.Service{devstack.Kafka, devstack.Postgres, devstack.Temporal} {
		at := time.Now()
		if err := devstack.Crash(*r.private, svc); err != nil {
			t.Fatal(err)
		}
		time.Sleep(hold())
		if _, _, err := devstack.Up(r.ctx, *r.private, svc); err != nil {
			t.Fatalf("start %s again: %v", svc, err)
		}
		rec := r.caughtUp(5 * time.Minute)
		r.fault(at, time.Now())
		worst = max(worst, rec)
		t.Logf("%s crashed for %s: caught up %s after it was back", svc, hold(), rec.Round(time.Millisecond))
		before := r.applied()
		r.waitApplied(before, 1, 2*time.Minute) // and still consuming
	}
	r.finish("service-restarts", 3, worst, began)
}
