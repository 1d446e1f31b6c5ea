#!/usr/bin/env bash
# Installs the Debian packages imgapi builds and tests with (run as root, or with sudo).
set -eu
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends build-essential pkg-config valgrind \
    libmicrohttpd-dev libjansson-dev libsqlite3-dev libpng-dev libdeflate-dev libjpeg62-turbo-dev \
    libwebp-dev libssl-dev libcurl4-openssl-dev libicu-dev zlib1g-dev clang python3 python3-requests python3-pil python3-numpy python3-jsonschema libopenblas-dev >/dev/null
