#!/bin/sh
# Debian packages the tests need: chromium (the e2e browser test drives /usr/bin/chromium with
# Playwright; `playwright install` is never used), espeak-ng (speaks the voice-input test's WAV)
# and postgresql (the tests start a throwaway cluster from its initdb and postgres binaries).
# Idempotent: installs only what is missing, and runs `apt-get update` only then.
set -eu

PACKAGES="chromium espeak-ng postgresql"

missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
else
    SUDO="sudo"
fi
echo "Installing Debian packages:$missing"
$SUDO apt-get update
# shellcheck disable=SC2086  # word splitting of the package list is intended
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
