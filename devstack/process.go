package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemon is a detached process devstack starts and stops through a pid file.
type daemon struct {
	name    string
	pidFile string
	logFile string
	// marker is a substring of the process's command line, checked before
	// trusting or signalling a pid from the pid file (pids get reused).
	marker string
}

// start runs argv detached: in its own session (no terminal signals), stdin
// from /dev/null, stdout and stderr appended to the log file. A shell
// backgrounds it and exits at once, so the daemon is re-parented to init and
// never becomes our zombie, and it outlives this process.
func (d daemon) start(ctx context.Context, dir string, env []string, argv ...string) (int, error) {
	const script = `log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!`
	args := append([]string{"-c", script, "devstack-" + d.name, d.logFile}, argv...)
	cmd := exec.CommandContext(ctx, "/bin/sh", args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("spawn %s: %w: %s", argv[0], err, strings.TrimSpace(out.String()))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		return 0, fmt.Errorf("spawn %s: unexpected shell output %q", argv[0], out.String())
	}
	if err := os.WriteFile(d.pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return pid, fmt.Errorf("write pid file: %w", err)
	}
	return pid, nil
}

// alivePID returns the pid from the pid file if that process is alive and is
// ours, else 0.
func (d daemon) alivePID() int {
	b, err := os.ReadFile(d.pidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if !processAlive(pid) || !cmdlineContains(pid, d.marker) {
		return 0
	}
	return pid
}

// stop sends SIGTERM, waits up to grace for the process to exit, then sends
// SIGKILL. It removes the pid file. Stopping a daemon that is not running is
// not an error.
func (d daemon) stop(grace time.Duration) error {
	defer os.Remove(d.pidFile)
	pid := d.alivePID()
	if pid == 0 {
		return nil
	}
	if err := terminate(pid, grace); err != nil {
		return fmt.Errorf("%s (pid %d): %w", d.name, pid, err)
	}
	return nil
}

// terminate stops pid gracefully, then by force after grace.
func terminate(pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sigterm: %w", err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !processAlive(pid) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sigkill: %w", err)
	}
	for range 50 {
		if !processAlive(pid) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("still alive after SIGKILL")
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// cmdlineContains reports whether pid's command line contains marker. Without
// /proc it trusts the pid.
func cmdlineContains(pid int, marker string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	return bytes.Contains(bytes.ReplaceAll(b, []byte{0}, []byte{' '}), []byte(marker))
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// diedError describes a daemon that exited during start-up, with the first
// errors and the last lines of its log.
func diedError(name, logFile string) error {
	var errs []string
	if b, err := os.ReadFile(logFile); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "ERROR") || strings.Contains(line, "FATAL") || strings.Contains(line, "Error:") {
				errs = append(errs, line)
				if len(errs) == 5 {
					break
				}
			}
		}
	}
	return permanent(fmt.Errorf("%s exited during start-up; first errors:\n%s\nlast lines of %s:\n%s",
		name, strings.Join(errs, "\n"), logFile, tail(logFile, 10)))
}
