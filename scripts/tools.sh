#!/usr/bin/env bash
# Installs the local-stack tools, idempotently: registry packages (crates.io, PyPI, npm, Maven
# Central) at pinned versions into a per-user cache, Debian 12's packages at the archive's
# current build within a stated range (see below).
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
# Debian 12's packages are not pinned: Debian's archive keeps only the newest security build of
# each (chromium's builds replace each other every few weeks), so an exact pin stops installing
# the day a newer build lands. Each is installed at the build apt picks from the archive at the
# time ("NAME MIN [MAX]": MIN <= version < MAX in dpkg's order), checked after install, and
# refused outside its range by name, version and range. Only ranges are ever edited here.
# Headless Chromium for tests/browser.
CHROMIUM_DEB="chromium 150 200"
# make sam-local: Debian 12's Docker engine (its dockerd runs as root; scripts/sam-local.sh knows
# 20.10's bridge), and qemu for arm64 functions on another architecture.
DOCKER_IO_DEB="docker.io 20.10 21"
QEMU_USER_STATIC_DEB="qemu-user-static 1:7.2 1:8"
# The packages the local Lambda base image is made of (scripts/sam-local.sh): a shell and the
# tools SAM's image build runs (mv, chmod), glibc and libgcc for the bootstrap, CA certificates.
# Fetched for each architecture by a private apt (no change to the machine's apt set-up).
SAM_BASE_PACKAGES=("libc6 2.36 2.37" "libgcc-s1 12 13" "busybox-static 1:1.35 1:1.36" "ca-certificates 20230311")
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

# ---- Debian 12's packages: the archive's current build, within a range ----

# The range a spec ("NAME MIN [MAX]") states, as people read it: ">= MIN < MAX".
deb_range() { # MIN MAX (MAX may be empty: no upper bound)
  echo ">= $1${2:+ < $2}"
}
deb_in_range() { # VERSION MIN MAX
  dpkg --compare-versions "$1" ge "$2" && { [[ -z "${3:-}" ]] || dpkg --compare-versions "$1" lt "$3"; }
}
# The version dpkg has installed, or nothing.
deb_installed() { # NAME
  local status
  status="$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$1" 2>/dev/null)" || return 0
  [[ "$status" == "ii "* ]] && echo "${status#ii }"
  return 0
}
# The version apt would install now (its candidate), or nothing; APT_OPTIONS for a private apt.
deb_candidate() { # NAME
  LC_ALL=C apt-cache "${APT_OPTIONS[@]}" policy "$1" | awk '$1 == "Candidate:" && $2 != "(none)" {print $2}'
}
APT_OPTIONS=()

# What this script installed, one "NAME VERSION" a line: a version seen for the first time
# (installed here, or upgraded since by the machine's own apt) is said once.
DEB_RECORD="$TOOLS_DIR/debian-packages"
deb_record() { # NAME VERSION MIN MAX
  [[ -f "$DEB_RECORD" ]] && grep -qxF "$1 $2" "$DEB_RECORD" && return 0
  { grep -v "^$1 " "$DEB_RECORD" 2>/dev/null || true; echo "$1 $2"; } > "$DEB_RECORD.new"
  mv "$DEB_RECORD.new" "$DEB_RECORD"
  echo "tools: $1 $2 (Debian 12, wanted $(deb_range "$3" "$4"))" >&2
}

# A Debian 12 package (SPEC WHAT-FOR), system-wide (outside the tool cache), installed as root
# without questions at the build the archive offers now. Installed and in range: nothing to do,
# not even apt-get update.
install_deb() {
  local name min max what="$2" installed candidate range
  read -r name min max <<<"$1"
  range="$(deb_range "$min" "$max")"
  installed="$(deb_installed "$name")"
  if [[ -n "$installed" ]] && deb_in_range "$installed" "$min" "$max"; then
    deb_record "$name" "$installed" "$min" "$max"
    return 0
  fi
  if [[ -n "$installed" ]] && dpkg --compare-versions "$installed" ge "$min"; then
    echo "tools: $name $installed is installed, newer than the range scripts/tools.sh accepts" \
      "for $what (Debian 12's, $range): install Debian 12's $name or widen the range there" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    echo "tools: $name ($what) is Debian 12's package ($range) and this machine has no" \
      "apt-get/dpkg; install that $name yourself or use a Debian 12 machine" >&2
    exit 1
  fi
  if [[ "$(id -u)" != 0 ]]; then
    echo "tools: installing $name (Debian package $range, for $what) needs root: run" \
      "'sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $name'" \
      "or this command as root" >&2
    exit 1
  fi
  # Fresh lists, always: with old ones apt would ask for a build the archive has dropped.
  apt-get update -q >&2
  candidate="$(deb_candidate "$name")"
  if [[ -z "$candidate" ]]; then
    echo "tools: apt offers no $name (for $what): add Debian 12's main and bookworm-security to" \
      "apt's sources ('apt-cache policy $name' shows what it knows)" >&2
    exit 1
  fi
  if ! deb_in_range "$candidate" "$min" "$max"; then
    echo "tools: Debian's archive offers $name $candidate, outside the range scripts/tools.sh" \
      "accepts for $what ($range): check that build, then widen the range there" >&2
    exit 1
  fi
  echo "tools: installing $name $candidate (Debian package, apt-get, for $what)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "$name=$candidate" >&2
  installed="$(deb_installed "$name")"
  if [[ -z "$installed" ]] || ! deb_in_range "$installed" "$min" "$max"; then
    echo "tools: after apt-get install, $name is '${installed:-not installed}', not $range" >&2
    exit 1
  fi
  deb_record "$name" "$installed" "$min" "$max"
}

install_chromium() { install_deb "$CHROMIUM_DEB" "tests/browser"; }
install_docker() { install_deb "$DOCKER_IO_DEB" "make sam-local"; }
install_qemu() { install_deb "$QEMU_USER_STATIC_DEB" "make sam-local's arm64 functions"; }

# The root file system of the local Lambda base image for ARCH (arm64|x86_64): SAM_BASE_PACKAGES
# for that architecture at the builds the archive offers, unpacked, with busybox's applets linked
# into /bin and the CA bundle made as update-ca-certificates makes it. The versions fetched are
# recorded (sam-base-ARCH.versions, "NAME=VERSION" lines); the folder's name holds a hash of
# them and of these functions, so another build of a package, or a changed recipe, builds afresh.
sam_base_record() { echo "$TOOLS_DIR/sam-base-$1.versions"; }
sam_base_dir_for() { # ARCH < VERSIONS
  local key
  key="$( { cat; declare -f sam_base_dir_for install_sam_base sam_base_rootfs; } | sha256sum | cut -c1-12)"
  echo "$TOOLS_DIR/sam-base-$1-$key"
}
sam_base_dir() { sam_base_dir_for "$1" < "$(sam_base_record "$1")"; }
# VERSIONS ("NAME=VERSION" lines) name exactly SAM_BASE_PACKAGES, each in its range.
sam_base_in_range() { # VERSIONS
  local spec name min max version
  [[ "$(wc -l <<<"$1")" == "${#SAM_BASE_PACKAGES[@]}" ]] || return 1
  for spec in "${SAM_BASE_PACKAGES[@]}"; do
    read -r name min max <<<"$spec"
    version="$(sed -n "s/^$name=//p" <<<"$1")"
    [[ -n "$version" ]] && deb_in_range "$version" "$min" "$max" || return 1
  done
}
install_sam_base() {
  local arch="$1" deb_arch record versions dir work spec name min max candidate deb wanted=()
  case "$arch" in arm64) deb_arch=arm64 ;; x86_64) deb_arch=amd64 ;; *) echo "tools: no base image for '$arch'" >&2; exit 2 ;; esac
  record="$(sam_base_record "$arch")"
  # Built once in range, kept (no apt, no network): delete the record to fetch newer builds.
  if [[ -f "$record" ]] && sam_base_in_range "$(cat "$record")" && [[ -f "$(sam_base_dir "$arch")/.done" ]]; then
    return 0
  fi
  work="$TOOLS_DIR/sam-base-$arch.apt"
  rm -rf "$work"
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  cat > "$work/sources.list" <<SOURCES
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
SOURCES
  # apt with its own lists, cache and architecture: the machine's apt set-up is not touched.
  APT_OPTIONS=(-q -o "Dir::State=$work" -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work"
    -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "APT::Architecture=$deb_arch" -o "APT::Architectures=$deb_arch" -o Debug::NoLocking=1
    -o APT::Sandbox::User=root)
  echo "tools: resolving the Lambda base image's Debian packages ($deb_arch)" >&2
  apt-get "${APT_OPTIONS[@]}" update >&2
  for spec in "${SAM_BASE_PACKAGES[@]}"; do
    read -r name min max <<<"$spec"
    candidate="$(deb_candidate "$name")"
    if [[ -z "$candidate" ]] || ! deb_in_range "$candidate" "$min" "$max"; then
      echo "tools: Debian's archive offers $name '${candidate:-none}' for $deb_arch, outside the" \
        "range scripts/tools.sh accepts for the Lambda base image ($(deb_range "$min" "$max"))" >&2
      exit 1
    fi
    wanted+=("$name=$candidate")
  done
  versions="$(printf '%s\n' "${wanted[@]}")"
  dir="$(sam_base_dir_for "$arch" <<<"$versions")"
  if [[ ! -f "$dir/.done" ]]; then
    echo "tools: fetching the Lambda base image's Debian packages ($deb_arch) into $dir: ${wanted[*]}" >&2
    rm -rf "$dir"
    mkdir -p "$dir/debs" "$dir/rootfs"
    (cd "$dir/debs" && apt-get "${APT_OPTIONS[@]}" download "${wanted[@]}" >&2)
    for deb in "$dir"/debs/*.deb; do
      grep -qxF "$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version)" <<<"$versions" || {
        echo "tools: apt fetched $(basename "$deb"), not one of ${wanted[*]}" >&2
        exit 1
      }
      dpkg-deb -x "$deb" "$dir/rootfs"
    done
    sam_base_rootfs "$dir"
    rm -rf "$dir/debs"
    echo "$versions" > "$dir/versions"
    touch "$dir/.done"
  fi
  echo "$versions" > "$record.new"
  mv "$record.new" "$record"
  rm -rf "$work"
  APT_OPTIONS=()
}
sam_base_rootfs() ( # DIR: its rootfs/ made whole, and the Dockerfile beside it
  local applet
  cd "$1/rootfs"
  mkdir -p etc/ssl/certs tmp var/task var/runtime opt
  chmod 1777 tmp
  cat usr/share/ca-certificates/mozilla/*.crt > etc/ssl/certs/ca-certificates.crt
  rm -rf usr/share
  # SAM's image build runs sh, mv and chmod; the rest are for a look inside (docker exec).
  for applet in sh ash mv cp chmod chown ln ls mkdir rm cat echo env printf sleep test true false \
    sed grep head tail wc tr id uname find xargs tar gzip wget ps kill; do
    [[ -e "bin/$applet" ]] || ln -s busybox "bin/$applet"
  done
  cat > "$1/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8
CMD ["/bin/sh"]
DOCKERFILE
)

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
