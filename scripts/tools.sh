#!/usr/bin/env bash
# Installs the pinned local-stack tools into a per-user cache, idempotently.
# Each tool is installed into a versioned folder and marked complete only at the end,
# so an interrupted install is redone rather than half-used.
set -euo pipefail

TOOLS_DIR="${PASSKEY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/send-passkey-link}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DYNOXIDE_VERSION=3.2.0
SES_LOCAL_VERSION=2.10.2
CARGO_LAMBDA_VERSION=1.9.2
SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0
SCHEMATHESIS_VERSION=4.32.5
CHECKOV_VERSION=3.3.30
# make bench's plot (docs/benchmarks.png).
MATPLOTLIB_VERSION=3.10.7
ZITADEL_CLIENT_VERSION=4.1.9
# Installed beside zitadel-client for tests/sdk/test_passkey_journey.py: soft-webauthn, a
# software authenticator, and what it needs. soft-webauthn 0.1.4 wants fido2 <2, fido2 1.2.0
# wants cryptography <45, and authlib from 1.7 on (zitadel-client asks for >=1.3.2,<2) wants
# cryptography >=45: this set is the one pip resolves, pinned so that it cannot move.
ZITADEL_CLIENT_EXTRAS=(soft-webauthn==0.1.4 fido2==1.2.0 cryptography==44.0.3 authlib==1.6.12)
# Debian 12's chromium (bookworm-security). Debian keeps only the newest security build in its
# archive: when this version is gone, `apt-cache policy chromium` names the one to pin.
CHROMIUM_VERSION=156.0.8078.114-1~deb12u1
# make sam-local: Debian 12's Docker engine (its dockerd runs as root), and qemu for arm64
# functions on another architecture; installed with apt like chromium.
DOCKER_IO_VERSION=20.10.24+dfsg1-1+deb12u1+b6
QEMU_USER_STATIC_VERSION=1:7.2+dfsg-7+deb12u18+b3
# The packages the local Lambda base image is made of (scripts/sam-local.sh): a shell and the
# tools SAM's image build runs (mv, chmod), glibc and libgcc for the bootstrap, CA certificates.
# Fetched for each architecture by a private apt (no change to the machine's apt set-up).
SAM_BASE_PACKAGES=(libc6=2.36-9+deb12u14 libgcc-s1=12.2.0-14+deb12u1 busybox-static=1:1.35.0-4+deb12u1+b1
  ca-certificates=20250419~deb12u2)
# The benchmark peer (scripts/peer.sh): Keycloak's Quarkus distribution from Maven Central, and
# an SMTP sink for the mail it sends.
KEYCLOAK_VERSION=26.5.6
AIOSMTPD_VERSION=1.4.6

mkdir -p "$TOOLS_DIR"
# Two commands installing at once (make test beside make dev, parallel CI steps) would
# delete each other's half-made folders: one installer at a time.
exec 9>"$TOOLS_DIR/.lock"
flock 9

install_dynoxide() {
  local dir="$TOOLS_DIR/dynoxide-$DYNOXIDE_VERSION"
  [[ -f "$dir/.done" ]] && return 0
  echo "tools: installing dynoxide-rs $DYNOXIDE_VERSION into $dir" >&2
  rm -rf "$dir"
  # cargo's own progress: this build takes minutes on a small machine.
  cargo install dynoxide-rs --version "$DYNOXIDE_VERSION" --locked \
    --no-default-features --features native-sqlite,http-server,cli \
    --root "$dir" --target-dir "$TOOLS_DIR/cargo-target"
  rm -rf "$TOOLS_DIR/cargo-target"
  touch "$dir/.done"
}

install_ses_local() {
  local dir="$TOOLS_DIR/aws-ses-v2-local-$SES_LOCAL_VERSION"
  [[ -f "$dir/.done" ]] && return 0
  echo "tools: installing aws-ses-v2-local $SES_LOCAL_VERSION into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
    "aws-ses-v2-local@$SES_LOCAL_VERSION" >&2
  touch "$dir/.done"
}

install_python_tools() {
  local dir="$TOOLS_DIR/venv-cl$CARGO_LAMBDA_VERSION-sam$SAM_CLI_VERSION-lint$CFN_LINT_VERSION"
  [[ -f "$dir/.done" ]] && return 0
  echo "tools: installing cargo-lambda, aws-sam-cli, cfn-lint into $dir" >&2
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check \
    "cargo-lambda==$CARGO_LAMBDA_VERSION" "aws-sam-cli==$SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION" >&2
  touch "$dir/.done"
}

# A tool in a venv of its own (NAME VERSION [EXTRA==VERSION ...]): their pins (jsonschema,
# click, pydantic, Authlib, much of the AWS and YAML stack) must not move SAM's or each other's.
# The folder's name holds every pin, so a changed pin installs afresh.
venv_dir() {
  local name="venv-$1-$2" pin
  for pin in "${@:3}"; do name+="+${pin/==/-}"; done
  echo "$TOOLS_DIR/$name"
}
install_venv() {
  local dir
  dir="$(venv_dir "$@")"
  [[ -f "$dir/.done" ]] && return 0
  echo "tools: installing $1 $2 ${*:3} into $dir" >&2
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$1==$2" "${@:3}" >&2
  touch "$dir/.done"
}
install_schemathesis() { install_venv schemathesis "$SCHEMATHESIS_VERSION"; }
install_checkov() { install_venv checkov "$CHECKOV_VERSION"; }
install_matplotlib() { install_venv matplotlib "$MATPLOTLIB_VERSION"; }
install_zitadel_client() { install_venv zitadel-client "$ZITADEL_CLIENT_VERSION" "${ZITADEL_CLIENT_EXTRAS[@]}"; }

install_aiosmtpd() { install_venv aiosmtpd "$AIOSMTPD_VERSION"; }

# Keycloak's distribution zip (org.keycloak:keycloak-quarkus-dist), checked against the SHA-1
# Maven Central publishes beside it, unpacked into a versioned folder. The zip is fetched under a
# temporary name and renamed once whole, so an interrupted download is never taken for the zip;
# it is deleted once unpacked (the folder is what is kept).
install_keycloak() {
  local dir="$TOOLS_DIR/keycloak-$KEYCLOAK_VERSION" name="keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
  local url="https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/$name"
  [[ -f "$dir/.done" ]] && return 0
  echo "tools: installing Keycloak $KEYCLOAK_VERSION (Maven Central, ~160 MB) into $dir" >&2
  rm -rf "$dir" "$dir.unpack"
  local zip="$TOOLS_DIR/$name" expected actual
  if [[ ! -f "$zip" ]]; then
    curl -fsSL --retry 3 -o "$zip.part" "$url"
    mv "$zip.part" "$zip"
  fi
  expected="$(curl -fsSL --retry 3 "$url.sha1" | cut -c1-40)"
  actual="$(sha1sum "$zip" | cut -c1-40)"
  if [[ "$actual" != "$expected" ]]; then
    rm -f "$zip"
    echo "tools: $name has SHA-1 $actual, Maven Central says $expected: deleted, run again" >&2
    exit 1
  fi
  # The zip holds one folder, keycloak-VERSION/.
  unzip -q "$zip" -d "$dir.unpack"
  mv "$dir.unpack/keycloak-$KEYCLOAK_VERSION" "$dir"
  rm -rf "$dir.unpack" "$zip"
  touch "$dir/.done"
}

# ZITADEL's official Node SDK for tests/sdk/node: npm ci from the committed lock file, into a
# folder named after the lock's hash (a changed lock installs afresh).
install_zitadel_client_node() {
  local lock="$ROOT/tests/sdk/node/package-lock.json"
  local dir="$TOOLS_DIR/zitadel-client-node-$(sha256sum "$lock" | cut -c1-12)"
  [[ -f "$dir/.done" ]] && return 0
  echo "tools: installing @zitadel/client (tests/sdk/node/package-lock.json) into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$ROOT/tests/sdk/node/package.json" "$lock" "$dir/"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
  touch "$dir/.done"
}

# A Debian 12 package at its pinned version (NAME VERSION WHAT-FOR), system-wide (outside the
# tool cache), installed as root without questions; skipped when that version is installed.
install_deb() {
  local name="$1" version="$2" what="$3"
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$name" 2>/dev/null)" == "ii $version" ]] && return 0
  if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    echo "tools: $name $version ($what) is Debian 12's package and this machine has no apt-get/dpkg;" \
      "install that $name yourself or use a Debian 12 machine" >&2
    exit 1
  fi
  if [[ "$(id -u)" != 0 ]]; then
    echo "tools: installing $name $version (Debian package, for $what) needs root: run" \
      "'sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $name=$version'" \
      "or this command as root" >&2
    exit 1
  fi
  echo "tools: installing $name $version (Debian package, apt-get, for $what)" >&2
  # The package lists are read only when they lack the pinned version (a fresh machine has none).
  # (apt-cache show NAME=VERSION exits 0 for a version it does not know: madison lists what is.)
  offered() { apt-cache madison "$name" 2>/dev/null | awk -F' *[|] *' '{print $2}' | grep -qxF "$version"; }
  if ! offered; then
    apt-get update -q >&2
    if ! offered; then
      echo "tools: Debian's archive no longer offers $name $version (a newer security" \
        "build replaced it?): pin the candidate 'apt-cache policy $name' shows in scripts/tools.sh" >&2
      exit 1
    fi
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "$name=$version" >&2
}

# Headless Chromium for tests/browser.
install_chromium() { install_deb chromium "$CHROMIUM_VERSION" "tests/browser"; }
install_docker() { install_deb docker.io "$DOCKER_IO_VERSION" "make sam-local"; }
install_qemu() { install_deb qemu-user-static "$QEMU_USER_STATIC_VERSION" "make sam-local's arm64 functions"; }

# The root file system of the local Lambda base image for ARCH (arm64|x86_64): SAM_BASE_PACKAGES
# for that architecture, unpacked, with busybox's applets linked into /bin and the CA bundle
# made as update-ca-certificates makes it. The folder's name holds a hash of the pins and of this
# function, so a change builds afresh.
sam_base_dir() {
  local arch="$1" key
  key="$( { printf '%s\n' "${SAM_BASE_PACKAGES[@]}"; declare -f install_sam_base; } | sha256sum | cut -c1-12)"
  echo "$TOOLS_DIR/sam-base-$arch-$key"
}
install_sam_base() {
  local arch="$1" deb_arch dir work
  case "$arch" in arm64) deb_arch=arm64 ;; x86_64) deb_arch=amd64 ;; *) echo "tools: no base image for '$arch'" >&2; exit 2 ;; esac
  dir="$(sam_base_dir "$arch")"
  [[ -f "$dir/.done" ]] && return 0
  echo "tools: fetching the Lambda base image's Debian packages ($deb_arch) into $dir" >&2
  rm -rf "$dir"
  work="$dir/apt"
  mkdir -p "$work/lists/partial" "$work/archives/partial" "$dir/debs" "$dir/rootfs"
  cat > "$work/sources.list" <<SOURCES
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
SOURCES
  # apt with its own lists, cache and architecture: the machine's apt set-up is not touched.
  local apt=(-q -o "Dir::State=$work" -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work"
    -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "APT::Architecture=$deb_arch" -o "APT::Architectures=$deb_arch" -o Debug::NoLocking=1
    -o APT::Sandbox::User=root)
  apt-get "${apt[@]}" update >&2
  if ! (cd "$dir/debs" && apt-get "${apt[@]}" download "${SAM_BASE_PACKAGES[@]}" >&2); then
    echo "tools: Debian's archive no longer offers one of ${SAM_BASE_PACKAGES[*]} for $deb_arch" \
      "(a newer security build replaced it?): pin what 'apt-cache policy NAME' shows in scripts/tools.sh" >&2
    exit 1
  fi
  local deb applet
  for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/rootfs"; done
  cd "$dir/rootfs"
  mkdir -p etc/ssl/certs tmp var/task var/runtime opt
  chmod 1777 tmp
  cat usr/share/ca-certificates/mozilla/*.crt > etc/ssl/certs/ca-certificates.crt
  rm -rf usr/share
  # SAM's image build runs sh, mv and chmod; the rest are for a look inside (docker exec).
  for applet in sh ash mv cp chmod chown ln ls mkdir rm cat echo env printf sleep test true false \
    sed grep head tail wc tr id uname find xargs tar gzip wget ps kill; do
    [[ -e "bin/$applet" ]] || ln -s busybox "bin/$applet"
  done
  cat > "$dir/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8
CMD ["/bin/sh"]
DOCKERFILE
  rm -rf "$work" "$dir/debs"
  touch "$dir/.done"
}

# playwright-core for tests/browser (no browser of its own: it drives Debian's chromium through
# executablePath): npm ci from the committed lock file, into a folder named after the lock's hash.
playwright_dir() { echo "$TOOLS_DIR/playwright-core-$(sha256sum "$ROOT/tests/browser/package-lock.json" | cut -c1-12)"; }
install_playwright() {
  local lock="$ROOT/tests/browser/package-lock.json" dir
  dir="$(playwright_dir)"
  [[ -f "$dir/.done" ]] && return 0
  echo "tools: installing playwright-core (tests/browser/package-lock.json) into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$ROOT/tests/browser/package.json" "$lock" "$dir/"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
  touch "$dir/.done"
}

case "${1:-all}" in
  dynoxide) install_dynoxide; echo "$TOOLS_DIR/dynoxide-$DYNOXIDE_VERSION/bin/dynoxide" ;;
  ses) install_ses_local; echo "$TOOLS_DIR/aws-ses-v2-local-$SES_LOCAL_VERSION/node_modules/.bin/aws-ses-v2-local" ;;
  python) install_python_tools; echo "$TOOLS_DIR/venv-cl$CARGO_LAMBDA_VERSION-sam$SAM_CLI_VERSION-lint$CFN_LINT_VERSION/bin" ;;
  schemathesis) install_schemathesis; echo "$TOOLS_DIR/venv-schemathesis-$SCHEMATHESIS_VERSION/bin/schemathesis" ;;
  checkov) install_checkov; echo "$TOOLS_DIR/venv-checkov-$CHECKOV_VERSION/bin/checkov" ;;
  zitadel-client)
    install_zitadel_client
    echo "$(venv_dir zitadel-client "$ZITADEL_CLIENT_VERSION" "${ZITADEL_CLIENT_EXTRAS[@]}")/bin/python"
    ;;
  zitadel-client-node)
    install_zitadel_client_node
    echo "$TOOLS_DIR/zitadel-client-node-$(sha256sum "$ROOT/tests/sdk/node/package-lock.json" | cut -c1-12)"
    ;;
  chromium) install_chromium; echo /usr/bin/chromium ;;
  docker) install_docker; echo /usr/sbin/dockerd ;;
  qemu) install_qemu; echo /usr/bin/qemu-aarch64-static ;;
  sam-base) install_sam_base "${2:?sam-base needs an architecture: arm64 or x86_64}"; sam_base_dir "$2" ;;
  matplotlib) install_matplotlib; echo "$(venv_dir matplotlib "$MATPLOTLIB_VERSION")/bin/python" ;;
  playwright) install_playwright; playwright_dir ;;
  keycloak) install_keycloak; echo "$TOOLS_DIR/keycloak-$KEYCLOAK_VERSION" ;;
  aiosmtpd) install_aiosmtpd; echo "$(venv_dir aiosmtpd "$AIOSMTPD_VERSION")/bin/python" ;;
  # What make run, make dev and the infra targets need: no browser (chromium is a system
  # package and needs root).
  stack)
    install_dynoxide; install_ses_local; install_python_tools
    ;;
  all)
    install_dynoxide; install_ses_local; install_python_tools; install_schemathesis; install_checkov
    install_zitadel_client; install_zitadel_client_node; install_chromium; install_playwright; install_docker
    ;;
  *) echo "usage: $0 [dynoxide|ses|python|schemathesis|checkov|zitadel-client|zitadel-client-node|chromium|docker|qemu|sam-base ARCH|playwright|matplotlib|keycloak|aiosmtpd|stack|all]" >&2; exit 2 ;;
esac
