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
