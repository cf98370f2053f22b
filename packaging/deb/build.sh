#!/usr/bin/env bash
# A .deb of weir for Debian 12, built on a Debian 12 amd64 machine (root, or sudo available):
#   packaging/deb/build.sh [amd64|arm64|armhf]     default: amd64; writes build-deb-ARCH/weir_VERSION-1_ARCH.deb
# amd64 builds natively; arm64 and armhf cross-build through packaging/cross/build.sh (multiarch,
# or the armhf sysroot). The engine is built with -Dtests=none --buildtype=release, installed
# with `meson install` (prefix /usr, config in /etc/weir), stripped, and packaged with
# dpkg-deb. Depends comes from dpkg-shlibdeps on the binary (the libraries' shlibs/symbols files);
# nats-server is Recommends: the packaged config starts it embedded, a config with nats.url does not.
set -euo pipefail
cd "$(dirname "$0")/../.."
source packaging/lib.sh

arch="${1:-amd64}"
case "$arch" in
  amd64) triplet=x86_64-linux-gnu ;;
  arm64) triplet=aarch64-linux-gnu ;;
  armhf) triplet=arm-linux-gnueabihf ;;
  *) sed -n '2,3p' "$0"; exit 2 ;;
esac
version=$(sed -n "s/^ *version : '\([^']*\)'.*/\1/p" meson.build | head -1)
build_dir="build-deb-$arch"
meson_args=(-Dtests=none -Doptimization=2 -Ddebug=false -Db_ndebug=true --prefix=/usr --sysconfdir=/etc --localstatedir=/var)

apt_install_missing dpkg-dev fakeroot binutils
if [ "$arch" = amd64 ]; then
  mapfile -t packages < <(package_list packaging/build-packages.txt)
  apt_install_missing "${packages[@]}" ccache
  [ -f "$build_dir/build.ninja" ] ||
    meson setup "$build_dir" -Dwerror=true "${meson_args[@]}"
  ninja -C "$build_dir"
  strip_tool=strip
else
  BUILD_DIR="$build_dir" MESON_ARGS="${meson_args[*]}" \
    packaging/cross/build.sh "$arch" --no-test
  strip_tool="$triplet-strip"
fi

stage="$build_dir/deb"
rm -rf "$stage"
DESTDIR="$PWD/$stage" meson install -C "$build_dir" --no-rebuild --quiet
"$strip_tool" --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/weir"

# dpkg-shlibdeps reads debian/control; a minimal one in a scratch folder serves it.
shlibs_dir="$build_dir/shlibs"
rm -rf "$shlibs_dir" && mkdir -p "$shlibs_dir/debian"
printf 'Source: weir\n\nPackage: weir\nArchitecture: any\n' > "$shlibs_dir/debian/control"
stage_bin="$PWD/$stage/usr/bin/weir"
if [ "$arch" = armhf ]; then
  # The armhf libraries are in the cross sysroot, not in this machine's dpkg database.
  # dpkg-shlibdeps asks dpkg-query which package owns each library by its path, so in a private
  # mount namespace the sysroot's library folder is put where the sysroot's database says it is.
  sysroot="${SYSROOT:-/var/cache/weir-cross/armhf-sysroot}"
  depends=$(cd "$shlibs_dir" && unshare -m sh -c '
    mount --make-rprivate / && mkdir -p "/usr/lib/$3" && mount --bind "$1/usr/lib/$3" "/usr/lib/$3" &&
    DPKG_ADMINDIR="$1/var/lib/dpkg" DEB_HOST_ARCH="$2" DEB_HOST_MULTIARCH="$3" \
      dpkg-shlibdeps -O --admindir="$1/var/lib/dpkg" "$4"' sh "$sysroot" "$arch" "$triplet" "$stage_bin" |
    sed -n 's/^shlibs:Depends=//p')
else
  depends=$(cd "$shlibs_dir" && DEB_HOST_ARCH="$arch" DEB_HOST_MULTIARCH="$triplet" \
    dpkg-shlibdeps -O "$stage_bin" | sed -n 's/^shlibs:Depends=//p')
fi
[ -n "$depends" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: weir
Version: $version-1
Architecture: $arch
Maintainer: weir developers <weir@localhost>
Section: net
Priority: optional
Installed-Size: $installed_kb
Depends: $depends
Recommends: nats-server
Description: edge stream-flow runtime on NATS JetStream
 weir runs JSON flow graphs of input, processor and output components connected
 over a local NATS JetStream, and bridges edge sites over WebSocket with
 store-and-forward. The package ships the engine, its config in /etc/weir, the
 flow JSON Schema and a hardened systemd unit (weir.service).
CONTROL
echo "/etc/weir/weir.json" > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  # Enabled, not started: an operator puts flows in /etc/weir/flows first.
  deb-systemd-helper enable weir.service >/dev/null 2>&1 || systemctl enable weir.service || true
fi
POSTINST
cat > "$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop weir.service || true
fi
PRERM
cat > "$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ "$1" = purge ] && [ -x /usr/bin/deb-systemd-helper ]; then
  deb-systemd-helper purge weir.service >/dev/null || true
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
POSTRM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

deb="$build_dir/weir_${version}-1_${arch}.deb"
fakeroot dpkg-deb --build -Zxz "$stage" "$deb" >/dev/null
echo "deb: $deb ($(stat -c %s "$deb") bytes); Depends: $depends"
dpkg-deb --contents "$deb" | awk '{print $NF}'
