# Sourced by scripts/test and scripts/demo. ensure_packages PACKAGE=BINARY...: installs the Debian
# packages whose binaries are missing when run as root with apt-get; otherwise says exactly which
# to install and returns 1.
ensure_packages() {
  local missing=() pair
  for pair in "$@"; do
    [ -e "${pair#*=}" ] || missing+=("${pair%%=*}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing ${missing[*]} (Debian packages this needs)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || { echo "apt-get could not install ${missing[*]}" >&2; return 1; }
  else
    echo "This needs these Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
}

# ensure_syslog_ng DIR: syslog-ng (Debian's syslog-ng-core) unpacked into DIR, beside rsyslog.
# The two packages conflict (both are "the system's syslog daemon"), so syslog-ng is not
# installed: its package is downloaded and unpacked, its libraries installed, and the tests run
# it from DIR as a receiver of their own. Needs root and apt-get, like ensure_packages.
ensure_syslog_ng() {
  local dir=$1
  [ -x "$dir/usr/sbin/syslog-ng" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "This needs syslog-ng unpacked in $dir: as root, run scripts/test once (it unpacks Debian's syslog-ng-core there)" >&2
    return 1
  fi
  echo "Unpacking syslog-ng-core into $dir (it conflicts with rsyslog, so it is not installed)..."
  export DEBIAN_FRONTEND=noninteractive
  local work
  work=$(mktemp -d)
  { apt-get install -y -qq --no-install-recommends libivykis0 libnet1 libwrap0 libpcre3 libjson-c5 libglib2.0-0 >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends libivykis0 libnet1 libwrap0 libpcre3 libjson-c5 libglib2.0-0 >/dev/null; }; } \
    && (cd "$work" && chmod 755 . && apt-get download syslog-ng-core >/dev/null 2>&1) \
    && mkdir -p "$dir" && dpkg-deb -x "$work"/syslog-ng-core_*.deb "$dir" \
    || { echo "could not unpack syslog-ng-core into $dir" >&2; rm -rf "$work"; return 1; }
  rm -rf "$work"
}
