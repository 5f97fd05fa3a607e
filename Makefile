# rivetgo. `make help` lists the targets.
GO      ?= go
BIN     := bin
SERVICES := gateway actorhost
export CGO_ENABLED := 1
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -ldflags "-X github.com/rivetgo/rivetgo/pkg/svc.buildVersion=$(VERSION)"

.PHONY: help build run test test-cluster test-unit js-deps react-chat nats-cli chromium bench bench-go bench-compare fuzz lint clean

# The nats CLI, built from the Go module proxy for the test that publishes
# to an actor's queue with it (and for you: bin/nats).
NATSCLI_VERSION := v0.5.0

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

build: ## build bin/gateway, bin/actorhost, bin/testhost (the tests' host: examples + fixtures), bin/scheduler, bin/inspector, bin/rivetgo (dev mesh), bin/healthcheck (the image's container healthcheck) and bin/nats-server
	@mkdir -p $(BIN)
	$(GO) build $(LDFLAGS) -o $(BIN)/gateway ./services/gateway/cmd/gateway
	$(GO) build $(LDFLAGS) -o $(BIN)/actorhost ./services/actorhost/cmd/actorhost
	$(GO) build $(LDFLAGS) -o $(BIN)/testhost ./services/actorhost/cmd/testhost
	$(GO) build $(LDFLAGS) -o $(BIN)/scheduler ./services/scheduler/cmd/scheduler
	$(GO) build $(LDFLAGS) -o $(BIN)/inspector ./services/inspector/cmd/inspector
	$(GO) build $(LDFLAGS) -o $(BIN)/rivetgo ./cmd/rivetgo
	$(GO) build -o $(BIN)/healthcheck ./cmd/healthcheck
	$(GO) build -o $(BIN)/nats-server github.com/nats-io/nats-server/v2

run: ## run the whole mesh in one process (embedded NATS, example actors, gateway on :6420, inspector on :6421)
	@mkdir -p $(BIN)
	$(GO) build $(LDFLAGS) -o $(BIN)/rivetgo ./cmd/rivetgo
	@# Not `go run`: it exits 1 when Ctrl-C interrupts it, even after the
	@# mesh stopped cleanly, and make would end in "Error 1".
	@exec $(BIN)/rivetgo

nats-cli: $(BIN)/nats ## build bin/nats, the nats CLI (natscli $(NATSCLI_VERSION)), ~1 min the first time

$(BIN)/nats:
	@mkdir -p $(BIN)
	GOBIN=$(CURDIR)/$(BIN) $(GO) install github.com/nats-io/natscli/nats@$(NATSCLI_VERSION)

chromium: ## install Debian's chromium for the dashboard test (apt-get, needs root) unless it is there
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

js-deps: test/js/node_modules/.installed ## install the pinned RivetKit client for the JS tests

test/js/node_modules/.installed: test/js/package.json test/js/package-lock.json
	cd test/js && npm ci --no-audit --no-fund --omit=optional
	@touch $@

# The React chat page (examples/react-chat): @rivetkit/react's useActor on
# the chat room, built with Vite into examples/react-chat/dist (not in git).
REACT_CHAT := examples/react-chat

react-chat: $(REACT_CHAT)/dist/index.html ## build the React chat page (npm ci, vite build) for its browser test

$(REACT_CHAT)/node_modules/.installed: $(REACT_CHAT)/package.json $(REACT_CHAT)/package-lock.json
	cd $(REACT_CHAT) && npm ci --no-audit --no-fund
	@touch $@

$(REACT_CHAT)/dist/index.html: $(REACT_CHAT)/node_modules/.installed $(REACT_CHAT)/index.html $(REACT_CHAT)/vite.config.js $(wildcard $(REACT_CHAT)/src/*)
	cd $(REACT_CHAT) && npm run --silent build
	@touch $@

test: build js-deps react-chat nats-cli chromium ## run every test (unit, race, fuzz seeds, multi-process integration, RivetKit JS client, dashboard and React chat in headless Chromium)
	RIVETGO_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 12m ./...

test-cluster: build ## the 3-node NATS cluster tests and the compose files' verification (~3 min): start-up at R3, kill -9 of a NATS node then of hosts, partitions in network namespaces (root), under load (porcupine)
	RIVETGO_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 15m -run 'TestCluster|TestCompose|TestNetns|TestDockerfile' -v ./test

test-unit: ## unit tests only (no processes, no Node)
	$(GO) test -race -count=1 -short ./...

fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	$(GO) test ./pkg/protocol -run '^$$' -fuzz FuzzKeyCodec -fuzztime $${FUZZTIME:-20s}
	$(GO) test ./pkg/protocol -run '^$$' -fuzz FuzzQueueSubject -fuzztime $${FUZZTIME:-20s}
	$(GO) test ./pkg/rkproto -run '^$$' -fuzz FuzzDecodeActionRequest -fuzztime $${FUZZTIME:-20s}
	$(GO) test ./test -run '^$$' -fuzz FuzzGatewayHTTP -fuzztime $${FUZZTIME:-20s}

bench: bench-go bench-compare ## every benchmark: Go benchmarks, then rivetgo vs RivetKit 2.3.19 side by side (~9 min)

bench-go: build ## Go benchmarks: actions, layers (physical limit), activation, memory per actor, realtime, schedules, queues, the 3-node R3 cluster (docs/BENCHMARKS.md)
	RIVETGO_BIN=$(CURDIR)/$(BIN) $(GO) test ./test -run '^$$' -bench 'BenchmarkAction|BenchmarkBaseline|BenchmarkDevMesh|BenchmarkRealtime/(ws|http)' -benchtime 2s -count 1 -timeout 20m
	RIVETGO_BIN=$(CURDIR)/$(BIN) $(GO) test ./test -run '^$$' -bench 'BenchmarkActivation|BenchmarkRealtime/broadcast|BenchmarkSchedule' -benchtime 1x -count 1 -timeout 20m
	RIVETGO_BIN=$(CURDIR)/$(BIN) $(GO) test ./test -run '^$$' -bench 'BenchmarkQueue$$' -benchtime 30000x -count 1 -timeout 20m
	RIVETGO_BIN=$(CURDIR)/$(BIN) $(GO) test ./test -run '^$$' -bench 'BenchmarkQueueLatency' -benchtime 1000x -count 1 -timeout 20m
	RIVETGO_BIN=$(CURDIR)/$(BIN) $(GO) test ./test -run '^$$' -bench 'BenchmarkWorkflow' -benchtime 5000x -count 1 -timeout 20m
	$(GO) test ./pkg/workflow -run '^$$' -bench BenchmarkReplay -benchtime 20x
	RIVETGO_BIN=$(CURDIR)/$(BIN) $(GO) test ./test -run '^$$' -bench 'BenchmarkCluster' -benchtime 2s -count 1 -timeout 20m

bench-compare: build ## rivetgo vs RivetKit 2.3.19, JS and Go clients, one table (bench/RESULTS.md); first npm ci ~1.5 min
	RIVETGO_BIN=$(CURDIR)/$(BIN) BENCH_SKIP_BUILD=1 bash bench/run.sh

lint: ## go vet and gofmt
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

clean: ## remove build output and dev data
	rm -rf $(BIN) .rivetgo bench/.bin bench/out $(REACT_CHAT)/dist
