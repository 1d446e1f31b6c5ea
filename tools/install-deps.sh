#!/usr/bin/env bash
# Installs what imgapi builds and tests with (run as root, or with sudo): Debian packages (chromium
# for the playground's browser test and the PostgreSQL server for the multi-process tests among
# them), and the official OpenAI Node SDK and playwright-core for the client tests (npm, pinned by tests/sdk/package-lock.json; Node.js 20 or
# later). Node.js and npm come from Debian only when the machine has none: a Node.js installed
# otherwise (e.g. NodeSource's, which bundles npm) conflicts with Debian's npm package.
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
PKGS="build-essential pkg-config valgrind libmicrohttpd-dev libjansson-dev libsqlite3-dev \
    libpng-dev libdeflate-dev libjpeg62-turbo-dev libwebp-dev libssl-dev libcurl4-openssl-dev \
    libicu-dev libstemmer-dev wamerican wordnet-base hunspell-ru hunspell-tools zlib1g-dev clang python3 python3-requests python3-pil python3-numpy \
    python3-jsonschema python3-regex libopenblas-dev chromium libpq-dev postgresql postgresql-client python3-yaml"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
$SUDO apt-get update -qq
# shellcheck disable=SC2086 # the list is meant to split
$SUDO apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
npm ci --prefix tests/sdk --no-audit --no-fund --loglevel=error
