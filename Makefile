# Thin wrapper around Meson + Ninja; see README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
DEMO_DB    ?= data/demo.db

.PHONY: all deps build check check-asan demo bench clean

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

# A synthetic country on 127.0.0.1: sources, hub, tokens, commands to paste.
demo: build
	./$(BUILD)/crossroads demo --dir data/demo

bench: build
	@sh scripts/install-deps.sh --bench
	sh bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
