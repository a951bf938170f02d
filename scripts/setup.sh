#!/usr/bin/env bash
# Installs and configures what batchd needs on a Debian host: Podman, runc,
# catatonit (the init of initProcessEnabled) and
# a static busybox (for the sample image), the containers.conf settings this
# kind of host needs, and the sample image localhost/batch-sample:latest.
# Safe to run again: every step checks before it changes anything.
set -euo pipefail

need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
# catatonit: Podman's --init (linuxParameters.initProcessEnabled).
command -v catatonit >/dev/null || [ -x /usr/libexec/podman/catatonit ] || need+=(catatonit)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v curl >/dev/null || need+=(curl)
# Debian's AWS CLI (v2), for the access-control tests (cmd/batchd); another
# aws on the PATH (pip's) is not what they test.
[ -x /usr/bin/aws ] || need+=(awscli)
# Debian's chromium: the dashboard's browser tests (cmd/batchd) drive it.
command -v chromium >/dev/null || need+=(chromium)
# docker-registry: the image-pull tests run a private registry on 127.0.0.1.
command -v docker-registry >/dev/null || need+=(docker-registry)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The registry package ships a service listening on :5000 for every
# interface; the tests start their own registries, so it stays off.
if command -v docker-registry >/dev/null && [ -e /etc/init.d/docker-registry ]; then
  if pgrep -x docker-registry >/dev/null 2>&1 && pgrep -fa 'docker-registry.*/etc/docker/registry' >/dev/null 2>&1; then
    /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
  fi
  if [ -x /usr/sbin/update-rc.d ] && ls /etc/rc2.d/S*docker-registry >/dev/null 2>&1; then
    update-rc.d docker-registry disable >/dev/null 2>&1 || true
  fi
  if command -v systemctl >/dev/null && systemctl is-enabled docker-registry >/dev/null 2>&1; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
fi

# containers.conf: runc (crun fails on hybrid cgroups), no default ulimits
# (setrlimit is refused in this sandbox), file events (no journald), cgroupfs
# (no systemd). Written once; an existing file is left alone, except that
# missing keys are reported.
conf=/etc/containers/containers.conf
if [ ! -f "$conf" ] || ! grep -q 'batchd setup' "$conf"; then
  mkdir -p /etc/containers
  [ -f "$conf" ] && cp "$conf" "$conf.before-batchd"
  cat > "$conf" <<'CONF'
# Written by batchd setup (scripts/setup.sh).
[containers]
default_ulimits = []

[engine]
runtime = "runc"
events_logger = "file"
cgroup_manager = "cgroupfs"
CONF
  echo "setup: wrote $conf"
fi

# The sample image: a busybox root filesystem, imported (no registry needed).
image=localhost/batch-sample:latest
if ! podman image exists "$image" 2>/dev/null; then
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc"
  cp /bin/busybox "$root/bin/busybox"
  for app in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$app" ] || ln -s busybox "$root/bin/$app"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  echo 'root:x:0:' > "$root/etc/group"
  tar -C "$root" -c . | podman import --change 'CMD ["/bin/sh"]' - "$image" >/dev/null
  rm -rf "$root"
  echo "setup: built $image"
fi
