# Thin wrapper around Meson + Ninja; see README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
DEMO_DB    ?= data/demo.db

.PHONY: all deps build check check-asan check-tsan fuzz demo bench clean

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: build
	meson test -C $(BUILD) --print-errorlogs
	@sh scripts/test-summary.sh $(BUILD)

# The same suite under AddressSanitizer and UBSan, in its own build tree.
check-asan: deps
	[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN_BUILD) --print-errorlogs
	@sh scripts/test-summary.sh $(ASAN_BUILD)

# The same suite under ThreadSanitizer, in its own build tree; the
# integration tests start the TSan-built binaries (CROSSROADS_BIN, see
# tests/meson.build) and pass TSAN_OPTIONS on to them. Any report fails the
# run: halt_on_error stops the process at its first report (exit 66), which
# fails the unit test or the integration test that started it
# (tests/integration/harness.py also scans every process's stderr). The
# only suppression is jansson's inline reference-count check; see
# tests/tsan.supp for why, and fix every other report in the code.
TSAN_OPTIONS_CHECK = halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp
# GCC 12's TSan runtime cannot place its shadow memory when the kernel
# randomizes mmap() with more than 28 bits (vm.mmap_rnd_bits = 32 on recent
# kernels: "FATAL: ThreadSanitizer: unexpected memory mapping"). The suite
# runs with address-space randomization off (setarch -R, inherited by every
# process the tests start), which changes nothing in what TSan checks. Where
# setarch -R is refused (a container's seccomp profile), TSan stops with that
# message and the run fails: as root, `sysctl vm.mmap_rnd_bits=28` instead.
TSAN_NORANDOM := $(shell setarch "$$(uname -m)" -R true 2>/dev/null && echo setarch "$$(uname -m)" -R)

check-tsan: deps
	[ -f $(TSAN_BUILD)/build.ninja ] || meson setup $(TSAN_BUILD) -Db_sanitize=thread -Db_lundef=false
	ninja -C $(TSAN_BUILD)
	TSAN_OPTIONS=$(TSAN_OPTIONS_CHECK) \
		$(TSAN_NORANDOM) meson test -C $(TSAN_BUILD) --print-errorlogs
	@sh scripts/test-summary.sh $(TSAN_BUILD)

# Every fuzz target with libFuzzer (clang) for FUZZ_SECONDS (20) each, in
# its own build tree, after replaying the seed corpora (docs/fuzzing.md).
fuzz:
	@sh scripts/install-deps.sh --fuzz
	FUZZ_BUILD=$(FUZZ_BUILD) sh scripts/fuzz.sh

# A synthetic country on 127.0.0.1: sources, hub, tokens, commands to paste.
demo: build
	./$(BUILD)/crossroads demo --dir data/demo

bench: build
	@sh scripts/install-deps.sh --bench
	sh bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
