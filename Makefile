# ShopPulse developer entry points. CI runs `make test` through .ci/run.
#
#   make build      bin/shoppulse
#   make services   start PostgreSQL, Kafka and Temporal locally (idempotent)
#   make status     show them; make down stops them (state kept in .data/)
#   make demo       services + worker + simulator (shoppulse dev)
#   make test       services, then every test with -race against them
#   make bench      services, then `shoppulse bench` at maximum throughput and at a fixed rate
#   make faults     every fault scenario, long, with the oracle (results in bench/results/)
#   make soak       DURATION=30m RATE=15000: lag and worker RSS over time, then the oracle
#   make scale      1,000 replenishment workflows to completion (make test runs 100)
#   make vet lint   static checks
#   make clean      stop the stack, remove .data/ and bin/ (keeps ~/.cache/shoppulse)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO                  ?= go
BIN                 := bin/shoppulse
PKGS                ?= ./...
TEST_FLAGS          ?= -race -count=1 -timeout 40m
# Extra flags for `shoppulse stack`, e.g. STACK_FLAGS='--services postgres,kafka'.
STACK_FLAGS         ?=
STATICCHECK_VERSION ?= v0.8.2

.PHONY: build services status down demo test bench faults soak scale vet lint clean

build:
	$(GO) build -o $(BIN) ./cmd/shoppulse

services: build
	$(BIN) stack up $(STACK_FLAGS)

status: build
	$(BIN) stack status $(STACK_FLAGS)

down: build
	$(BIN) stack down $(STACK_FLAGS)

# DEMO_HISTORY_DAYS of simulated past are produced first (skipped when the
# database already has them), then the models are trained on them.
DEMO_HISTORY_DAYS ?= 60
demo: build
	$(BIN) dev --history-days $(DEMO_HISTORY_DAYS)

# The stack prints `export SHOPPULSE_TEST_...=...` lines; a failing `stack up`
# fails the target (the assignment carries its exit status).
# SHOPPULSE_REQUIRE_SERVICES=1 turns a missing service into a test failure
# instead of a skip. A SHOPPULSE_TEST_* variable already set to another
# endpoint is honoured and that service is not started.
test: build
	@stack_env="$$($(BIN) stack up --env-prefix SHOPPULSE_TEST_ $(STACK_FLAGS))"; \
	echo "$$stack_env"; \
	eval "$$stack_env"; \
	echo "$(GO) test $(TEST_FLAGS) $(PKGS)"; \
	SHOPPULSE_REQUIRE_SERVICES=1 SHOPPULSE_SCALE_WORKFLOWS=$${SHOPPULSE_SCALE_WORKFLOWS:-100} $(GO) test $(TEST_FLAGS) $(PKGS)

# The replenishment scale test at full size: 1,000 ReplenishProduct
# workflows for 1,000 products, to completion on the dev server.
scale: build
	@stack_env="$$($(BIN) stack up --env-prefix SHOPPULSE_TEST_ $(STACK_FLAGS))"; eval "$$stack_env"; \
	SHOPPULSE_REQUIRE_SERVICES=1 SHOPPULSE_SCALE_WORKFLOWS=1000 \
		$(GO) test -count=1 -timeout 60m -v -run TestEndToEnd_ThousandReplenishments ./e2e/

# Fault injection (not part of `make test`, which runs a short version of
# each scenario): worker SIGKILLs, a zombie owner, slow Postgres and full
# pools, poison bursts, and crashes of Kafka, Postgres and Temporal on a
# private stack; the oracle checks each. One JSON line per scenario.
DURATION ?= 30m
RATE     ?= 15000
faults: build
	@mkdir -p bench/results
	@stack_env="$$($(BIN) stack up --env-prefix SHOPPULSE_TEST_ $(STACK_FLAGS))"; eval "$$stack_env"; \
	out=bench/results/faults-$$(date -u +%Y%m%dT%H%M%SZ).jsonl; \
	SHOPPULSE_REQUIRE_SERVICES=1 SHOPPULSE_FAULTS_RESULTS=$$PWD/$$out \
		$(GO) test -tags faults -count=1 -timeout 90m -v -run TestFaults ./faults/; \
	echo "results: $$out"; cat $$out

soak: build
	@mkdir -p bench/results
	@stack_env="$$($(BIN) stack up --env-prefix SHOPPULSE_TEST_ $(STACK_FLAGS))"; eval "$$stack_env"; \
	SHOPPULSE_REQUIRE_SERVICES=1 SHOPPULSE_RESULTS_DIR=$$PWD/bench/results \
	SHOPPULSE_SOAK_DURATION=$(DURATION) SHOPPULSE_SOAK_RATE=$(RATE) \
		$(GO) test -tags soak -count=1 -timeout 24h -v -run TestSoak ./faults/

vet:
	$(GO) vet $(PKGS)

lint:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

# Stop the services before deleting their data dir; fall back to `go run`
# when bin/ is gone, and carry on when nothing runs or nothing builds.
clean:
	@if [ -d .data ]; then \
		if [ -x $(BIN) ]; then $(BIN) stack down || true; \
		else $(GO) run ./cmd/shoppulse stack down || true; fi; \
	fi
	rm -rf .data bin

# Both bench modes on the running stack; each writes its JSON line, with the
# machine's description, to bench/results/.
BENCH_EVENTS ?= 200000
BENCH_RATE   ?= 15000
bench: services
	@mkdir -p bench/results
	@stamp=$$(date -u +%Y%m%dT%H%M%SZ); \
	machine="$$(nproc) cores, $$(free -g | awk '/Mem:/ {print $$2}') GiB, $$(uname -srm), load $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	for mode in max rate; do \
		rate=0; events=$(BENCH_EVENTS); \
		if [ $$mode = rate ]; then rate=$(BENCH_RATE); events=$$(( $(BENCH_RATE) * 10 )); fi; \
		out=bench/results/$$stamp-$$mode.json; \
		echo "== bench $$mode: $$events events, rate $$rate"; \
		$(BIN) bench --events $$events --rate $$rate --json | tee /dev/stderr | tail -n 1 \
			| sed "s|}$$|,\"machine\":\"$$machine\",\"at\":\"$$stamp\"}|" > $$out; \
		echo "   -> $$out"; \
	done
