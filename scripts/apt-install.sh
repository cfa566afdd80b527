# Sourced by the ensure-*.sh scripts: installs Debian packages as root (directly, or by sudo without a password).
# apt_install WHO PACKAGE...: WHO names the caller in its messages; fails when root is out of reach.
apt_install() {
  local who=$1
  shift
  local as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      echo "$who: installing $* needs root: run 'apt-get install $*' as root" >&2
      return 1
    fi
  fi
  echo "$who: installing Debian's $*" >&2
  # Through env, since sudo does not pass the environment on.
  ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
