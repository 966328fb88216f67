#!/bin/sh
# `make fuzz` needs clang with its libFuzzer runtime. Checks by linking a
# one-line harness; when that fails, installs clang and the runtime from
# Debian's packages (as root, through apt-get, like scripts/deps.sh), or
# says which command to run. Prints nothing when all is there.
set -u
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$t/h.c"
works() { command -v clang >/dev/null 2>&1 && clang -fsanitize=fuzzer,address,undefined "$t/h.c" -o "$t/h" >/dev/null 2>&1; }
works && exit 0
pkgs="clang"
if command -v clang >/dev/null 2>&1; then
    v=$(clang --version | sed -n 's/.*clang version \([0-9][0-9]*\)\..*/\1/p' | head -n 1)
    [ -n "$v" ] && pkgs="clang libclang-rt-$v-dev"
fi
echo "skindelta: make fuzz needs clang with libFuzzer:$pkgs" >&2
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq $pkgs >&2
    # the runtime package is versioned like clang: ask again once clang is there
    if ! works && command -v clang >/dev/null 2>&1; then
        v=$(clang --version | sed -n 's/.*clang version \([0-9][0-9]*\)\..*/\1/p' | head -n 1)
        apt-get install -y -qq "libclang-rt-$v-dev" >&2
    fi
    works && exit 0
    echo "skindelta: installing$pkgs failed" >&2
    exit 1
fi
echo "skindelta: run: sudo apt-get install -y $pkgs" >&2
exit 1
