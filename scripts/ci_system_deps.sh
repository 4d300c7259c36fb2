#!/usr/bin/env bash
# Installs the system packages the test suite needs (idempotent: already-installed packages are
# skipped, so a second run makes no network calls). Run as root, or with sudo available.
#   dunst          a real notification server (tests/test_dunst.py reads notifications back)
#   xvfb           a virtual X display: dunst refuses to start without one
#   dbus, dbus-x11 `dbus-run-session` gives each test session its own private session bus
#   libnotify-bin  `notify-send`, one of the notifier backends under test
#   libdbus-1-dev, libglib2.0-dev, pkg-config, gcc
#                  to build dbus-python (test extra), plyer's only safe Linux notification path
#   libportaudio2  what a desktop has: sounddevice (a mediapipe dependency) starts PortAudio when
#                  imported, and tests/test_mediapipe_modules.py shows the pose backend never does
# The lead appends chromium and ffmpeg to PACKAGES.
set -euo pipefail

PACKAGES=(
  dunst
  xvfb
  xauth
  dbus
  dbus-x11
  libnotify-bin
  libdbus-1-dev
  libglib2.0-dev
  pkg-config
  gcc
  chromium
  fonts-dejavu-core
  imagemagick
  x11-apps
  libportaudio2
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "ci_system_deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

echo "ci_system_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
