# memplug: the entry points for a fresh Debian 12 machine.
#   make demo   installs what is missing, builds, and replays the examples
#   make test   installs what is missing, builds (plus an ASan/UBSan build) and runs every test
#   make bench  builds and runs the benchmarks (medians of 5 repetitions)
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build build-asan demo test bench bench-long bench-rss bench-mount conformance conformance-record invariants-long clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMPLUG_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMEMPLUG_WERROR=ON -DMEMPLUG_SANITIZE=ON -DMEMPLUG_BENCH=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

demo: build
	@for f in examples/*.txt; do \
	  echo "=== $$f"; $(BUILD)/memplug run "$$f" || exit 1; echo; \
	done

test: build build-asan
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# Whole transcripts as `memplug run` runs them; BENCH_ARGS adds options (e.g. --benchmark_filter=64t).
bench: build
	@$(BUILD)/bench/memplug_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true $(BENCH_ARGS)

# The long randomized run of the model's invariants (10^6 operations by default),
# shared between $(JOBS) processes with disjoint seeds (sessions of 2000 operations).
INVARIANT_OPS ?= 1000000
invariants-long: build
	@per=$$(( $(INVARIANT_OPS) / $(JOBS) )); pids=; \
	for i in $$(seq 0 $$(( $(JOBS) - 1 ))); do \
	  $(BUILD)/tests/invariants_long $$per $$(( 1 + i * (per + 1999) / 2000 )) & pids="$$pids $$!"; \
	done; rc=0; for p in $$pids; do wait $$p || rc=1; done; exit $$rc

# The sizes that take minutes today (run once each): 8 and 16 TiB of virtio-mem, 32 and 64
# DIMMs, 4 to 16 GiB of tmpfs in a 1 TiB guest. BENCH_ARGS=--memplug_huge adds 32 and
# 64 TiB, 128 and 255 DIMMs (minutes). The half-full 1 TiB guest is in the long set.
BENCH_LONG_FILTER ?= virtio_mem_plug/(8|16)T|dimm_plug/(32|64)/|fill_loop/(4|8|16)G|kvm_1t_half_full
bench-long: build
	@$(BUILD)/bench/memplug_bench --memplug_long --benchmark_filter='$(BENCH_LONG_FILTER)' $(BENCH_ARGS)

# Peak resident set (/usr/bin/time) of `memplug run` for KVM guests of 1 to 64 TiB.
bench-rss: build
	@bench/rss.sh $(BUILD)/memplug

# Operations per second through `memplug mount` (eight clients; needs root and /dev/fuse).
bench-mount: build
	@bench/mount_load.sh $(BUILD)

# Replays every conformance transcript (cases/, tools/ on the real kernel, qemu/ on QEMU alone; slow).
conformance-record:
	@scripts/install-deps --recorder
	@tests/conformance/record/setup
	@tests/conformance/record-all --jobs $(JOBS)

# Scores memplug against the goldens (no QEMU needed): the real kernel's, then QEMU's alone.
conformance: build
	@$(BUILD)/memplug conformance --known tests/conformance/known-differences.txt tests/conformance/cases/*.out
	@$(BUILD)/memplug conformance --known tests/conformance/qemu-known-differences.txt tests/conformance/qemu/*.out

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
