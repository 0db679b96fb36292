#!/usr/bin/env bash
# Install the Debian packages the toolkit uses (TTS voices, WordNet text, sclite; sox and ffmpeg
# write the files of the truncation tests, tests/test_truncation_table.py).
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
PKGS="espeak-ng flite festival festvox-kallpc16k wordnet-base sctk sox libsox-fmt-all ffmpeg"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ]; then
  echo "Installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "Missing Debian packages:$missing" >&2
  echo "Run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
