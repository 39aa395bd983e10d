package devstack

import (
	"errors"
	"fmt"
	"syscall"
	"time"
)

// Crash stops one service of the stack started from o.DataDir abruptly, for
// fault injection: PostgreSQL by an immediate shutdown (SIGQUIT to the
// postmaster: no checkpoint, crash recovery on the next start), Kafka and
// the Temporal dev server by SIGKILL. Their data stays, so Up starts them
// again on the same state. Crashing a service that is not running, or one
// devstack did not start, is an error.
func Crash(o Options, svc Service) error {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return fmt.Errorf("devstack options: %w", err)
	}
	s, err := newStack(o)
	if err != nil {
		return err
	}
	var pid int
	sig := syscall.SIGKILL
	switch svc {
	case Postgres:
		p, ok := postmasterPID(s.pgDataDir())
		if !ok {
			return fmt.Errorf("crash postgres: no postmaster runs from %s", s.pgDataDir())
		}
		pid, sig = p, syscall.SIGQUIT
	case Kafka:
		pid = s.kafkaProc().alivePID()
	case Temporal:
		pid = s.temporalProc().alivePID()
	default:
		return fmt.Errorf("crash: unknown service %q", svc)
	}
	if pid == 0 {
		return fmt.Errorf("crash %s: devstack started no %s from %s", svc, svc, o.DataDir)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("crash %s (pid %d): %w", svc, pid, err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !processAlive(pid) {
			return nil
		}
	}
	return errors.New("crash " + string(svc) + ": still alive after 30s")
}
