package workers_test

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/workers"
	"github.com/shoppulse/shoppulse/workflows"
)

// TestStartSupervisor_RefusesOneRunningOnAnotherTaskQueue: a supervisor of
// the same topic left running by another deployment on its own task queue
// would take this worker's place without ever reaching it; starting must say
// so instead of reporting success. Starting again on the same queue finds
// the running one.
func TestStartSupervisor_RefusesOneRunningOnAnotherTaskQueue(t *testing.T) {
	addr := testenv.TemporalAddress(t)
	ctx := testenv.Context(t, time.Minute)
	c, err := client.Dial(client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topic, queue := testenv.Name("sup.topic"), testenv.Name("sup.queue")
	in := workflows.SupervisorInput{Topic: topic, Consumers: 1}
	t.Cleanup(func() { _ = c.TerminateWorkflow(ctx, workflows.SupervisorWorkflowID(topic), "", "test over") })

	first, err := workers.StartSupervisor(ctx, c, queue, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := workers.StartSupervisor(ctx, c, queue, in)
	if err != nil || again.GetRunID() != first.GetRunID() {
		t.Fatalf("on the same queue: run %v, err %v; want the running %s", again, err, first.GetRunID())
	}
	_, err = workers.StartSupervisor(ctx, c, queue+"-other", in)
	if err == nil || !strings.Contains(err.Error(), "already runs on task queue") || !strings.Contains(err.Error(), topic) {
		t.Fatalf("on another queue: %v", err)
	}
}
