#!/bin/sh
# `make test` runs this first: the browser tests drive Debian's chromium through chromedriver (selenium),
# never a browser downloaded at run time. Installs both when missing and allowed; otherwise says why the
# browser tests will be skipped. SOCIALLAB_NO_APT=1 never installs anything.
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
say() { echo "browser tests: $*"; }
if [ "${SOCIALLAB_NO_APT:-}" = 1 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "chromium and chromedriver are missing and cannot be installed here (apt-get chromium chromium-driver); they will be skipped"
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    AS_ROOT=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    AS_ROOT="sudo -n"
else
    say "chromium and chromedriver are missing and installing them needs root (apt-get install chromium chromium-driver); they will be skipped"
    exit 0
fi
say "installing chromium and chromium-driver with apt-get (once)"
install() { DEBIAN_FRONTEND=noninteractive $AS_ROOT apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1; }
install || { $AS_ROOT apt-get update >/dev/null 2>&1 && install; } || say "apt-get could not install chromium; the browser tests will be skipped"
exit 0
