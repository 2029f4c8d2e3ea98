#!/usr/bin/env bash
# Installs the Debian packages gr-semdacom needs, only when some are missing.
set -euo pipefail
PKGS=(gnuradio gnuradio-dev pybind11-dev cmake g++ make pkg-config
      libboost-test-dev libspdlog-dev libfmt-dev libgmp-dev clang-format
      python3-venv python3-dev dataset-fashion-mnist
      gir1.2-gtk-3.0 xvfb xdotool imagemagick
      mate-backgrounds)  # photographs for the colour model (GPL-2+; semdacom.data.photos)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
