#!/usr/bin/env bash
# Install the Debian packages the toolkit uses (TTS voices, WordNet text, sclite; sox and ffmpeg
# write the files of the truncation tests, tests/test_truncation_table.py).
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail
# TTS voices of the synth_en corpus (data_prep/synth/engines.py): espeak-ng + MBROLA, flite, festival
# diphone/MBROLA voices, SVOX Pico and RHVoice. mbrola*, libttspico-utils and rhvoice* are in
# Debian's contrib and non-free components, which this script enables (Debian 12 deb822 sources).
PKGS="espeak-ng flite festival festvox-kallpc16k wordnet-base sctk sox libsox-fmt-all ffmpeg
  mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1
  festvox-rablpc16k festvox-don festvox-us1 festvox-us2 festvox-us3 festvox-en1
  libttspico-utils rhvoice rhvoice-english
  opus-tools"  # opusenc/opusdec: the Opus channel of asr/data/augment.py
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# npm fetches Kokoro's voice tables (npm package kokoro-js, `make venv`); any npm will do (Node.js's own or Debian's)
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -z "$missing" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ]; then
  echo "Installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  # Enable contrib and non-free on the Debian archive (deb822 *.sources or a one-line sources.list).
  for f in /etc/apt/sources.list.d/*.sources; do
    # any Components line without contrib (e.g. "main" or "main non-free-firmware") gains contrib non-free
    [ -f "$f" ] && sed -i -E '/^Components:/{/ contrib( |$)/!s/^Components: main( |$)/Components: main contrib non-free\1/}' "$f"
  done
  if [ -f /etc/apt/sources.list ]; then
    sed -i -E '/^deb .*debian/{/ contrib/!s/ main( |$)/ main contrib non-free\1/}' /etc/apt/sources.list
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "Missing Debian packages:$missing" >&2
  echo "Run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
  exit 1
fi
