#!/bin/sh
# Check the build dependencies with pkg-config and install what is missing
# from Debian's packages (as root, through apt-get), or say exactly which
# command to run. Prints nothing when all is there.
set -u
need="libpng:libpng-dev libjpeg:libjpeg62-turbo-dev libcjson:libcjson-dev libcrypto:libssl-dev cmocka:libcmocka-dev"
missing=""
command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"
for pair in $need; do
    mod=${pair%%:*}; pkg=${pair#*:}
    if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "$mod"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0
echo "skindelta: missing build dependencies:$missing" >&2
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "skindelta: installing them with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq $missing >&2 && exit 0
    echo "skindelta: apt-get failed; run: apt-get install -y$missing" >&2
    exit 1
fi
echo "skindelta: run: sudo apt-get install -y$missing" >&2
exit 1
