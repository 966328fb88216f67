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

# The whole suite: every unit-test binary, then the CLI cases.
$(BUILD)/tests/jsonq: tests/cli/jsonq.c $(CONFIG)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC LD   $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEP_CFLAGS) -o $@ $< $(DEP_LIBS)

test: $(TESTS) $(BIN) $(SYNTH) $(BUILD)/tests/jsonq
	@SKINDELTA_SHARED=$(SHARED) BUILD=$(BUILD) sh tests/run.sh $(TESTS)

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
	rm -rf build build-asan build-ubsan

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
