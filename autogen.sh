#!/bin/sh
# Installs what is missing on Debian (only when missing and when we may),
# then configures. Extra arguments go to configure.
set -e
cd "$(dirname "$0")"
need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
for p in build-essential autoconf automake libtool pkg-config liblua5.4-dev lua-lpeg \
         lua-lpeg-dev libpcre2-dev libcriterion-dev libopenblas-dev libedit-dev libfftw3-dev gnuplot-nox python3-numpy \
         libzmq3-dev libjansson-dev libsodium-dev python3-jupyter-client python3-nbclient python3-nbformat \
         libhdf5-dev python3-h5py zlib1g-dev luarocks \
         python3-sklearn python3-brian \
         wamerican wngerman wfrench wspanish witalian wportuguese wcatalan wdutch wswedish wdanish wnorwegian wpolish \
         libsleef-dev libopenmpi-dev openmpi-bin; do
  have "$p" || need="$need $p"
done
if [ -n "$need" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "autogen.sh: installing$need"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need
  else
    echo "autogen.sh: missing Debian packages:$need" >&2
    exit 1
  fi
fi
autoreconf -fi
if [ "${NOCONFIGURE:-}" = "" ]; then
  ./configure "$@"
fi
