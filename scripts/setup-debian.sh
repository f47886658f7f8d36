#!/usr/bin/env bash
# Installs what Parley needs to build, run and test on Debian 12.
# Idempotent: packages already present are left alone.
set -euo pipefail

pkgs=(
  build-essential pkg-config
  libpocketsphinx-dev pocketsphinx pocketsphinx-en-us   # embedded ASR engine (cgo)
  opus-tools sox espeak-ng flite lame                   # test and benchmark audio (lame: MP3 uploads)
  asterisk-core-sounds-en-wav asterisk-core-sounds-fr-wav  # real voices for the diarization tests and benchmark (meetsynth/real.go)
  chromium fonts-noto-color-emoji                       # browser tests (chromedp); emoji in their screenshots
  libreoffice-writer-nogui poppler-utils                # ODT and DOCX exports opened by LibreOffice in the tests (pdftotext reads its PDF)
  firefox-esr xvfb                                      # browser tests in Firefox too (WebDriver BiDi; a virtual display to share a screen)
  iproute2                                              # emulated networks in tests (ip netns, TUN devices, tc tbf)
  postgresql                                            # the store's tests on PostgreSQL (a server of their own in a temporary directory)
)
if [ "${1:-}" = "--runtime" ]; then
  pkgs=(build-essential pkg-config libpocketsphinx-dev pocketsphinx-en-us)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
if [ "${1:-}" != "--runtime" ] && ! command -v npm >/dev/null; then
  missing+=(npm) # the accessibility audit's axe-core comes from the npm registry
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser tests audit each page with axe-core (WCAG 2.1 A and AA),
# pinned in internal/web/testdata/axe/package-lock.json.
if [ "${1:-}" != "--runtime" ]; then
  axe="$(cd "$(dirname "$0")/.." && pwd)/internal/web/testdata/axe"
  if [ ! -f "$axe/node_modules/axe-core/axe.min.js" ]; then
    echo "setup: installing axe-core for the accessibility audit" >&2
    npm ci --prefix "$axe" --no-audit --no-fund --loglevel=error
  fi
fi

# A third real voice (meetsynth/real.go): Armelle Desjardins's French
# prompts. Its package conflicts with asterisk-core-sounds-fr (both are
# Asterisk's French prompts), so it is unpacked, not installed, into the
# user's cache, where meetsynth looks for it.
if [ "${1:-}" != "--runtime" ]; then
  voices="${XDG_CACHE_HOME:-$HOME/.cache}/parley/voices"
  if [ ! -d "$voices/armelle/usr/share/asterisk/sounds/fr" ]; then
    echo "setup: unpacking asterisk-prompt-fr-armelle for the real-voice tests" >&2
    tmp="$(mktemp -d)"; chmod 777 "$tmp"  # apt-get download writes as _apt
    (cd "$tmp" && apt-get download -qq asterisk-prompt-fr-armelle) || { $sudo apt-get update -qq && (cd "$tmp" && apt-get download -qq asterisk-prompt-fr-armelle); }
    mkdir -p "$voices/armelle"
    dpkg-deb -x "$tmp"/asterisk-prompt-fr-armelle_*.deb "$voices/armelle"
    rm -rf "$tmp"
  fi
fi
