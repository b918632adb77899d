# Guardian Fleet. `make run` for the demo on a local stack, `make test` for the test suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
SWIFT ?= swift
export GUARDIAN_RUN_DIR ?= $(CURDIR)/.run
# Quoted wherever a path is used: a checkout path may hold spaces.

.PHONY: help deps build release test test-soak examples run bench chaos stack-up stack-down stack-status clean

help:
	@echo "make run         build (release), start the local stack, run the demo (simulated engine, 3 workers), stop the stack"
	@echo "make test        install what is missing, build, start the local stack, run all tests, stop it"
	@echo "make test-soak   make test N times (N=3), each in a fresh clone under a private directory; pass/fail and the slowest tests"
	@echo "make examples    build examples/swift-publisher (depends on this package by path) and check that a package can depend on this one by URL and version"
	@echo "make bench       release build; decoder and worker throughput against the database floor (figures)"
	@echo "make chaos       release build; the worker fault suite (Redis, PostgreSQL, brokers, kill -9, poison...) as figures"
	@echo "make deps        apt-install the Debian packages the build and the stack need (as root); PyPI test tools into .run/tools"
	@echo "make build       debug build of the guardian binary and the tests"
	@echo "make stack-up    start Redis, PostgreSQL and the dev broker on free loopback ports (.run/stack.env)"
	@echo "make stack-down  stop them"

deps:
	@scripts/deps.sh
	@scripts/tools.sh

build: deps
	$(SWIFT) build --build-tests

release: deps
	$(SWIFT) build -c release --product guardian

# The stack is stopped even when the tests fail; the exit status is the tests'.
test: build
	GUARDIAN_BIN="$(CURDIR)/.build/debug/guardian" scripts/with-stack.sh $(SWIFT) test --skip-build

# Flakes show only over many runs: N fresh clones (HEAD), each a full make test. make test-soak N=5
N ?= 3
test-soak:
	scripts/test-soak.sh $(N)

# Demo knobs: make run DEMO_ARGS="--workers 3 --rate 5000 --duration 30 --symbols 64"
DEMO_ARGS ?=
run: release
	GUARDIAN_BIN="$(CURDIR)/.build/release/guardian" scripts/with-stack.sh "$(CURDIR)/.build/release/guardian" demo $(DEMO_ARGS)

# Other packages depending on this one: by path (the example) and by URL + version (no unsafe flags). CI runs it.
examples: build
	$(SWIFT) build --package-path examples/swift-publisher
	GUARDIAN_BIN="$(CURDIR)/.build/debug/guardian" scripts/with-stack.sh bash -c \
	  'examples/swift-publisher/.build/debug/PublisherExample "$$KAFKA_BOOTSTRAP_SERVERS" guardian.events | tee /dev/stderr | grep -q "delivered 5$$"'
	SWIFT="$(SWIFT)" scripts/check-dependable.sh

# Figures, not pass/fail: decoder, one worker draining 300,000 events, the database's own floor.
bench: release
	GUARDIAN_BIN="$(CURDIR)/.build/release/guardian" scripts/with-stack.sh scripts/bench.sh

# The fault suite, printed as figures: make chaos CHAOS_CASES="1 5 9" CHAOS_RATE=1000 CHAOS_DURATION=30
chaos: release
	GUARDIAN_BIN="$(CURDIR)/.build/release/guardian" scripts/with-stack.sh scripts/chaos.sh

stack-up: build
	GUARDIAN_BIN="$(CURDIR)/.build/debug/guardian" scripts/stack.sh up

stack-down:
	scripts/stack.sh down

stack-status:
	scripts/stack.sh status

clean:
	scripts/stack.sh down
	rm -rf .build .run
