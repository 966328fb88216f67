# skindelta: a plain Makefile. `make` builds build/skindelta and
# build/libskindelta.a; `make test` runs the suite; `make demo` runs the tool
# on the bundled samples. Missing -dev packages are installed by
# scripts/deps.sh (as root) before anything is compiled.

CC       ?= cc
BUILD    ?= build
SHARED   ?= $(abspath $(CURDIR)/../shared)
OPT      ?= -O2
SAN      ?=
WARN     := -Wall -Wextra -Wshadow -Wcast-qual -Wvla -Wformat=2 -Wmissing-prototypes \
            -Wstrict-prototypes -Wpointer-arith -Werror
PKGS     := libpng libjpeg libcjson libcrypto
CPPFLAGS += -Iinclude -Isrc -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CFLAGS   += -std=c11 $(OPT) -g $(WARN) $(SAN) -pthread
LDFLAGS  += $(SAN) -pthread

# Dependency flags, found once by pkg-config after scripts/deps.sh has run.
# GNU make builds this included file first and restarts with it.
.DEFAULT_GOAL := all
CONFIG := $(BUILD)/config.mk
ifeq ($(filter clean,$(MAKECMDGOALS)),)
-include $(CONFIG)
endif
$(CONFIG): Makefile scripts/deps.sh
	@mkdir -p $(BUILD)
	@sh scripts/deps.sh
	@{ echo "DEP_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "DEP_LIBS := $$(pkg-config --libs $(PKGS)) -lm"; \
	   echo "TEST_CFLAGS := $$(pkg-config --cflags cmocka)"; \
	   echo "TEST_LIBS := $$(pkg-config --libs cmocka)"; } > $@.tmp && mv $@.tmp $@

LIB_SRCS  := $(sort $(wildcard src/*/*.c))
LIB_SRCS  := $(filter-out src/cli/%,$(LIB_SRCS))
CLI_SRCS  := $(filter-out src/cli/synth_main.c,$(wildcard src/cli/*.c))
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
TESTS     := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
LIB       := $(BUILD)/libskindelta.a
BIN       := $(BUILD)/skindelta
SYNTH     := $(BUILD)/skindelta-synth

# Quiet by default; `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

# ISA flags only on the files that need them (libwebp's makefile).
$(BUILD)/obj/%_sse2.o:   ISA := -msse2
$(BUILD)/obj/%_avx2.o:   ISA := -mavx2 -mfma
$(BUILD)/obj/%_avx512.o: ISA := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma

.PHONY: all test demo bench bench-quick bench-archive repeatability asan ubsan clean
all: $(BIN) $(SYNTH) $(LIB)

$(BUILD)/obj/%.o: %.c $(CONFIG)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(ISA) $(DEP_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BIN): $(CLI_OBJS) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIB) $(DEP_LIBS)

$(SYNTH): $(BUILD)/obj/src/cli/synth_main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(DEP_LIBS)

$(BUILD)/tests/%: tests/%.c tests/sd_test.h $(LIB) $(CONFIG)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC LD   $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEP_CFLAGS) $(TEST_CFLAGS) -o $@ $< $(LIB) $(DEP_LIBS) $(TEST_LIBS)

# ---- hostile input: fuzz harnesses, replay of the crashers, memcheck ----
# Every tests/fuzz/fuzz_NAME.c is one libFuzzer harness, built twice:
#  - $(BUILD)/fuzz/replay_NAME: with tests/fuzz/replay.c as main, run by
#    `make test` (and so under `make asan`) over tests/crashers/NAME/;
#  - build-fuzz/fuzz/fuzz_NAME: clang -fsanitize=fuzzer,address,undefined,
#    run by `make fuzz FUZZ_SECONDS=N` for N seconds each.
# Adding a harness is adding its file (and a tests/crashers/NAME/ folder).
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES   := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
REPLAYS      := $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)
# harnesses may use the CLI's option parser as well as the library
FUZZ_OBJS    := $(BUILD)/obj/src/cli/parse.o
FUZZ_SECONDS ?= 60
FUZZ_RSS_MB  ?= 512
FUZZ_TIMEOUT ?= 10
# seed corpora: the harness's crashers, then for image loading the samples
# and every image of ../shared/data (libFuzzer reads folders recursively)
FUZZ_SEEDS_load    := tests/crashers/load samples $(wildcard $(SHARED)/data)
FUZZ_MAXLEN_load   := 131072
FUZZ_MAXLEN_options := 256

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(FUZZ_OBJS) $(LIB) $(CONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEP_CFLAGS) '-DSD_REPLAY_DIR="tests/crashers/$*"' -o $@ \
	    $< tests/fuzz/replay.c $(FUZZ_OBJS) $(LIB) $(DEP_LIBS)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_OBJS) $(LIB) $(CONFIG)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEP_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LIB) $(DEP_LIBS)

.PHONY: fuzz fuzz-build fuzz-run replay valgrind
replay: $(REPLAYS)
	@for r in $(REPLAYS); do $$r || exit 1; done

# The fuzzers: clang (installed by tests/fuzz/deps.sh when missing), ASan+UBSan
# with every report fatal, in build-fuzz/. Each harness runs FUZZ_SECONDS
# at nice 19 with an RSS limit and a per-input timeout; its growing corpus
# is build-fuzz/corpus/NAME, and anything it finds is written to
# build-fuzz/artifacts/NAME/ (then: minimise, add to tests/crashers/NAME/).
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
            -fsanitize=fuzzer-no-link
fuzz-build:
	@sh tests/fuzz/deps.sh
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1 -gline-tables-only" SAN="$(FUZZ_SAN)" \
	    $(FUZZ_NAMES:%=build-fuzz/fuzz/fuzz_%)
fuzz: fuzz-build
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang fuzz-run
fuzz-run:
	@for n in $(FUZZ_NAMES); do \
	    mkdir -p $(BUILD)/corpus/$$n $(BUILD)/artifacts/$$n; \
	    seeds="tests/crashers/$$n"; maxlen=4096; \
	    case $$n in load) seeds="$(FUZZ_SEEDS_load)"; maxlen=$(FUZZ_MAXLEN_load);; \
	        options) maxlen=$(FUZZ_MAXLEN_options);; esac; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS) s, log $(BUILD)/fuzz-$$n.log"; \
	    nice -n 19 $(BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) \
	        -rss_limit_mb=$(FUZZ_RSS_MB) -timeout=$(FUZZ_TIMEOUT) -max_len=$$maxlen \
	        -print_final_stats=1 -artifact_prefix=$(BUILD)/artifacts/$$n/ \
	        $(BUILD)/corpus/$$n $$seeds >$(BUILD)/fuzz-$$n.log 2>&1; rc=$$?; \
	    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|peak_rss_mb)|^SUMMARY|invariant broken' \
	        $(BUILD)/fuzz-$$n.log; \
	    if [ $$rc -ne 0 ] || ls $(BUILD)/artifacts/$$n/* >/dev/null 2>&1; then \
	        echo "fuzz: $$n failed (exit $$rc): $$(ls $(BUILD)/artifacts/$$n)"; exit 1; fi; \
	done

# memcheck: the CLI cases (tests/cli/run.sh and tests/cli/faults.sh) with
# build/skindelta run under valgrind; any memory error or definite/indirect
# leak fails the case (exit 99) and its log is kept in build-valgrind/logs/.
# ("Possibly lost" is not counted: the signal cases kill the program while a
# decode thread's stack is still allocated, which memcheck reports so.)
VALGRIND ?= valgrind
valgrind: $(BIN) $(SYNTH) $(BUILD)/tests/jsonq
	@command -v $(VALGRIND) >/dev/null 2>&1 || { echo "valgrind: not installed (apt-get install valgrind)"; exit 1; }
	@rm -rf build-valgrind && mkdir -p build-valgrind/tests build-valgrind/logs
	@ln -s $(abspath $(BUILD)/tests/jsonq) build-valgrind/tests/jsonq
	@ln -s $(abspath $(SYNTH)) build-valgrind/skindelta-synth
	@printf '#!/bin/sh\nexport SKINDELTA_NO_MEMCACHE=1\nexec $(VALGRIND) -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$(abspath build-valgrind/logs)/vg.%%p.log $(abspath $(BIN)) "$$@"\n' >build-valgrind/skindelta
	@chmod +x build-valgrind/skindelta
	@SKINDELTA_SHARED=$(SHARED) BUILD=build-valgrind sh tests/cli/run.sh; rc=$$?; \
	 for f in build-valgrind/logs/*.log; do [ -s "$$f" ] && { echo "valgrind: $$f:"; cat "$$f"; rc=1; }; done; \
	 n=$$(ls build-valgrind/logs | wc -l); echo "valgrind: $$n runs of skindelta under memcheck"; exit $$rc
# ---- end of hostile input ----

# The whole suite: every unit-test binary, then the CLI cases.
$(BUILD)/tests/jsonq: tests/cli/jsonq.c $(CONFIG)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC LD   $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEP_CFLAGS) -o $@ $< $(DEP_LIBS)

test: $(TESTS) $(REPLAYS) $(BIN) $(SYNTH) $(BUILD)/tests/jsonq
	@SKINDELTA_SHARED=$(SHARED) BUILD=$(BUILD) sh tests/run.sh $(TESTS) $(REPLAYS)

# The sanitizer builds run the whole suite with every report fatal.
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" test
ubsan:
	$(MAKE) BUILD=build-ubsan OPT=-O1 SAN="-fsanitize=undefined -fno-sanitize-recover=all" test

# Benchmarks: JSON on stdout. `make bench` is the full run (2 MP and 12 MP
# pairs); `make bench-quick` is CI's check that every path runs.
$(BUILD)/bench/%: bench/%.c $(LIB) $(CONFIG)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC LD   $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEP_CFLAGS) -o $@ $< $(LIB) $(DEP_LIBS)

BENCH_PROGS := $(BUILD)/bench/bench $(BUILD)/bench/kernels $(BIN)
bench: $(BENCH_PROGS)
	@$(BUILD)/bench/bench --skindelta $(BIN) --kernels $(BUILD)/bench/kernels --dir $(BUILD)/bench

bench-quick: $(BENCH_PROGS) $(BUILD)/bench/archive
	@$(BUILD)/bench/bench --quick --skindelta $(BIN) --kernels $(BUILD)/bench/kernels --dir $(BUILD)/bench
	@$(BUILD)/bench/archive --quick --skindelta $(BIN) --dir $(BUILD)/bench

# `skindelta batch` over a generated archive (20 patients x 6 sessions x
# 3 views at 2 MP, rendered once into build/bench/archive-full).
bench-archive: $(BUILD)/bench/archive $(BIN)
	@$(BUILD)/bench/archive --skindelta $(BIN) --dir $(BUILD)/bench

# The repeatability study: per-metric noise floors (README, "Noise floors").
repeatability: $(BUILD)/bench/repeatability
	@SKINDELTA_SHARED=$(SHARED) $(BUILD)/bench/repeatability --json $(BUILD)/repeatability.json

demo: $(BIN)
	@sh samples/demo.sh $(BIN)

clean:
	rm -rf build build-asan build-ubsan build-fuzz build-valgrind

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
