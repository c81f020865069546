#!/usr/bin/env bash
# qemu-lane.sh - run one command inside a throwaway QEMU VM that boots Debian's
# stock kernel, so tests can use real rdma_rxe (soft-RoCE), netdevsim, dummy,
# veth, macvlan, ipvlan, 8021q, bonding ... on a host whose own kernel has none.
#
#   qemu-lane.sh [--] COMMAND [ARG...]
#
# Guest layout
#   /             = the HOST's root filesystem, read-only, over virtio-9p
#                   (so node, npm, ip, rdma, ethtool, devlink, libibverbs ... are
#                   whatever the host has installed; nothing is copied)
#   $QL_SHARE     = host folder $QL_SHARE (default: $PWD), read-write, same path;
#                   the command runs with this as its working directory
#   /tmp /run /root /var/tmp /dev/shm = fresh tmpfs
#   /sys/kernel/debug (debugfs, netdevsim knobs), /sys/kernel/config (configfs)
# The guest kernel is Debian's linux-image-<abi>-amd64 (unpacked, never installed
# on the host) plus netdevsim.ko, which Debian does not build (CONFIG_NETDEVSIM
# is not set), compiled out-of-tree from Debian's linux-source package against
# the matching linux-headers package. Everything comes from Debian's archive.
#
# Output: the command's stdout+stderr (both go to the guest serial console) is
# streamed to stdout. Exit status: the command's own, or
#   124 timeout, 125 guest died before reporting (panic, OOM, boot failure),
#   126 setup failure on the host.
# Full console log (kernel + init + command) is kept in $QL_LOG if set.
#
# Environment knobs (all optional):
#   QL_CACHE   cache dir for debs/kernel/netdevsim/initrd  (/var/tmp/qemu-lane)
#   QL_SHARE   host folder mounted rw                       ($PWD)
#              (the command starts in $PWD if that lies inside QL_SHARE)
#   QL_MEM     guest memory                                 (2G)
#   QL_CPUS    guest vCPUs                                  (number of host CPUs)
#   QL_ACCEL   tcg | kvm   (tcg; kvm does NOT work on these CI machines:
#              their /dev/kvm is kvm_pvm, which only runs PVM-patched guests)
#   QL_CPU     QEMU -cpu model                              (Skylake-Client-v4)
#              (`max` makes Node.js 24 crash now and then under TCG — SIGSEGV or
#              SIGTRAP in about 1 of 10 process starts, measured here; a
#              concrete model showed 0 of 20)
#   QL_SHARE_CACHE 9p cache mode of the shared folder: loose (fast; host-side
#              edits made while the VM runs may go unseen) or none  (loose)
#   QL_TIMEOUT seconds before the VM is killed              (3000)
#   QL_MODULES modules to modprobe before the command
#              ("rdma_rxe ib_uverbs rdma_ucm ib_umad netdevsim dummy veth
#                macvlan ipvlan 8021q bonding vrf tun")
#   QL_KERNEL  stable | backports                          (stable)
#              stable: what the host's own apt resolves linux-image-amd64 to
#              (Debian 12: 6.1); backports: the newest kernel of Debian 13's
#              trixie-backports (7.3 when written), fetched through a PRIVATE
#              apt source list in $QL_CACHE/apt-trixie (the machine's own apt
#              sources are never touched)
#   QL_KPKG    kernel package (default: what linux-image-amd64 depends on)
#   QL_DEBS    Debian packages (the host's own suite) unpacked over the guest's
#              root: user-space RDMA for soft-RoCE traffic tests
#              ("perftest ibverbs-providers rdmacm-utils libibumad3 libpci3";
#              "" for none). Downloaded with apt-get download, never installed
#              on the host.
#   QL_PASSENV space-separated names of host env vars to pass into the guest
#              (CI is always passed)
#   QL_VERBOSE 1 = also print kernel/init console lines
#   QL_LOG     file to receive the full console log
#   QL_APT     1 = apt-get install missing host tools (default 1 when root)
set -euo pipefail

QL_CACHE=${QL_CACHE:-/var/tmp/qemu-lane}
QL_SHARE=$(cd "${QL_SHARE:-$PWD}" && pwd -P)
QL_MEM=${QL_MEM:-2G}
QL_CPUS=${QL_CPUS:-$(nproc)}
QL_ACCEL=${QL_ACCEL:-tcg}
QL_CPU=${QL_CPU:-Skylake-Client-v4}
QL_SHARE_CACHE=${QL_SHARE_CACHE:-loose}
QL_TIMEOUT=${QL_TIMEOUT:-3000}
QL_KERNEL=${QL_KERNEL:-stable}
case $QL_KERNEL in 6.1) QL_KERNEL=stable;; stable|backports) ;; *) echo "qemu-lane: QL_KERNEL must be stable or backports, not '$QL_KERNEL'" >&2; exit 126;; esac
QL_DEBS=${QL_DEBS-"perftest ibverbs-providers rdmacm-utils libibumad3 libpci3"}
QL_MODULES=${QL_MODULES:-"rdma_rxe ib_uverbs rdma_ucm ib_umad netdevsim dummy veth macvlan ipvlan 8021q bonding vrf tun"}
QL_PASSENV="CI ${QL_PASSENV:-}"
QL_VERBOSE=${QL_VERBOSE:-0}
QL_APT=${QL_APT:-$([ "$(id -u)" = 0 ] && echo 1 || echo 0)}

[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || { echo "usage: $0 [--] COMMAND [ARG...]" >&2; exit 126; }

log() { echo "qemu-lane: $*" >&2; }
die() { log "ERROR: $*"; exit 126; }

# ---------------------------------------------------------------- host tools
ensure_tools() {
  local missing=() pair
  for pair in qemu-system-x86_64:qemu-system-x86 cpio:cpio depmod:kmod \
              gcc-12:gcc-12 make:make xz:xz-utils zstd:zstd objdump:binutils; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  # must be the *static* busybox: it runs inside the initramfs with no libc
  dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$QL_APT" = 1 ] || die "missing packages: ${missing[*]} (apt-get install them)"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
    die "apt-get install ${missing[*]} failed"
}

# ------------------------------------------------------ kernel + netdevsim
# apt for the kernel's packages: the host's own sources (stable), or a private
# source list for Debian 13 (trixie + trixie-backports) kept in $QL_CACHE, with
# its own package lists and cache. Only `apt-get download` and `apt-cache` use it.
QL_APT_DIR=$QL_CACHE/apt-trixie
kapt() {
  local tool=$1; shift
  if [ "$QL_KERNEL" = stable ]; then "$tool" "$@"; return; fi
  "$tool" -o Dir::Etc::sourcelist="$QL_APT_DIR/sources.list" -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$QL_APT_DIR/lists" -o Dir::Cache="$QL_APT_DIR/cache" \
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false "$@"
}
private_apt_update() {
  [ "$QL_KERNEL" = stable ] && { apt-get update >/dev/null; return; }
  mkdir -p "$QL_APT_DIR/lists/partial" "$QL_APT_DIR/cache/archives/partial"
  local mirror=${QL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$mirror" trixie-backports "$mirror" trixie > "$QL_APT_DIR/sources.list"
  kapt apt-get -q update >/dev/null || die "apt-get update of the private trixie source list failed"
}

# A kernel built for a newer Debian than the host: its kbuild tools need a newer
# glibc and its .config names gcc-14. Build netdevsim with the host's gcc-12
# anyway (a module needs no same-compiler guarantee beyond the ABI, which these
# flags do not change) and run the tools under Debian 13's own libc6.
adapt_foreign_headers() {
  local H=$1 kb=$2
  sed -i -E 's/gcc-[0-9]+/gcc-12/' "$H/.kernelvariables"
  # -fmin-function-alignment is gcc 14's: without this symbol the Makefile uses
  # -falign-functions with the same alignment; no pahole here, so no module BTF
  sed -i -E '/^CONFIG_(CC_HAS_MIN_FUNCTION_ALIGNMENT|DEBUG_INFO_BTF_MODULES)=/d' "$H/include/config/auto.conf"
  local libc=$KDIR/libc6 f need
  ( cd "$KDIR/debs" && kapt apt-get -q -o APT::Sandbox::User=root download libc6/trixie >/dev/null ) ||
    die "apt-get download libc6/trixie failed"
  dpkg -x "$KDIR"/debs/libc6_*.deb "$libc"
  local L=$libc/usr/lib/x86_64-linux-gnu host_glibc; host_glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
  find "$kb" -type f -perm -u+x | while read -r f; do
    need=$( { objdump -T "$f" 2>/dev/null || true; } | sed -n 's/.*GLIBC_\([0-9.]*\).*/\1/p' | sort -V | tail -1)
    [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$host_glibc" | sort -V | tail -1)" != "$host_glibc" ] || continue
    mv "$f" "$f.bin"
    printf '#!/bin/sh\nexec %s --library-path %s %s "$@"\n' "$L/ld-linux-x86-64.so.2" "$L" "$f.bin" > "$f"
    chmod +x "$f"
  done
}

prepare_kernel() {
  local kpkg=${QL_KPKG:-} kfile=$QL_CACHE/kpkg target=linux-image-amd64
  [ "$QL_KERNEL" = backports ] && { kfile=$QL_CACHE/kpkg-backports; target=linux-image-amd64/trixie-backports; }
  # the first resolution is remembered (reproducible, and apt-cache takes ~1 s);
  # delete $kfile to move to Debian's newest kernel
  [ -z "$kpkg" ] && [ -s "$kfile" ] && kpkg=$(cat "$kfile")
  if [ -z "$kpkg" ]; then
    [ "$QL_KERNEL" = backports ] && [ ! -s "$QL_APT_DIR/sources.list" ] && private_apt_update
    kpkg=$(kapt apt-cache depends "$target" 2>/dev/null |
           awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    if [ -z "$kpkg" ] && { [ "$QL_APT" = 1 ] || [ "$QL_KERNEL" = backports ]; }; then
      private_apt_update
      kpkg=$(kapt apt-cache depends "$target" | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    fi
    [ -n "$kpkg" ] || die "cannot resolve $target (run apt-get update)"
    mkdir -p "$QL_CACHE" && echo "$kpkg" > "$kfile"
  fi
  KVER=${kpkg#linux-image-}                       # 6.1.0-56-amd64 | 7.3.4+deb13-amd64
  local abi=${KVER%-amd64}                        # 6.1.0-56       | 7.3.4+deb13
  local series; series=$(echo "$KVER" | cut -d. -f1,2)   # 6.1
  KDIR=$QL_CACHE/$KVER
  MODDIR=$KDIR/root/lib/modules/$KVER
  [ -d "$KDIR/root/usr/lib/modules/$KVER" ] && MODDIR=$KDIR/root/usr/lib/modules/$KVER
  VMLINUZ=$KDIR/root/boot/vmlinuz-$KVER
  [ -f "$VMLINUZ" ] || VMLINUZ=$MODDIR/vmlinuz
  VMLINUX=$KDIR/vmlinux
  if [ -f "$KDIR/.ready" ]; then [ -s "$VMLINUX" ] || VMLINUX=$VMLINUZ; return 0; fi

  log "preparing kernel $KVER in $KDIR (one-off, ~1 min)"
  rm -rf "$KDIR"; mkdir -p "$KDIR/debs" "$KDIR/root" "$KDIR/hdr" "$KDIR/src"
  # Debian 13's kernels split the image: linux-image-X depends on linux-binary-X
  # (vmlinuz), linux-modules-X and linux-base-X (modules.order, config)
  local parts; parts=$(kapt apt-cache depends "$kpkg" 2>/dev/null |
    awk -v k="$KVER" '$1=="Depends:" && $2 ~ /^linux-(binary|modules|base)-/ && substr($2, length($2) - length(k) + 1) == k {print $2}' | sort -u | tr '\n' ' ')
  local kbuild=linux-kbuild-$series
  kapt apt-cache show "linux-kbuild-$abi" >/dev/null 2>&1 && kbuild=linux-kbuild-$abi
  # shellcheck disable=SC2086
  if ! ( cd "$KDIR/debs" &&
    kapt apt-get -q -o APT::Sandbox::User=root download "$kpkg" $parts \
      "linux-headers-$KVER" "linux-headers-$abi-common" \
      "$kbuild" "linux-source-$series" >/dev/null ); then
    # Debian's archive only keeps the newest kernel ABI: a remembered one may be gone
    if [ -z "${QL_KPKG:-}" ] && [ -s "$kfile" ]; then
      log "$kpkg is no longer downloadable; resolving the current kernel again"
      rm -rf "$KDIR" "$kfile"; prepare_kernel; return
    fi
    die "apt-get download of kernel packages failed"
  fi
  local d
  for d in "$KDIR"/debs/linux-image-*.deb "$KDIR"/debs/linux-binary-*.deb "$KDIR"/debs/linux-modules-*.deb "$KDIR"/debs/linux-base-*.deb; do
    [ -f "$d" ] && dpkg -x "$d" "$KDIR/root"; done
  # merged-/usr packages: give depmod and the guest the classic /lib/modules path too
  if [ -d "$KDIR/root/usr/lib/modules/$KVER" ] && [ ! -e "$KDIR/root/lib" ]; then ln -s usr/lib "$KDIR/root/lib"; fi
  MODDIR=$KDIR/root/lib/modules/$KVER
  [ -d "$KDIR/root/usr/lib/modules/$KVER" ] && MODDIR=$KDIR/root/usr/lib/modules/$KVER
  VMLINUZ=$KDIR/root/boot/vmlinuz-$KVER
  [ -f "$VMLINUZ" ] || VMLINUZ=$MODDIR/vmlinuz
  [ -f "$VMLINUZ" ] || die "no vmlinuz in the packages of $kpkg"
  for d in "$KDIR"/debs/linux-headers-*.deb "$KDIR"/debs/linux-kbuild-*.deb; do
    dpkg -x "$d" "$KDIR/hdr"; done
  local H=$KDIR/hdr/usr/src/linux-headers-$KVER
  if [ "$QL_KERNEL" = stable ]; then
    # the arch headers' Makefile includes the -common one by absolute /usr/src path
    echo "include $KDIR/hdr/usr/src/linux-headers-$abi-common/Makefile" > "$H/Makefile"
  else
    sed -i "s#/usr/src/#$KDIR/hdr/usr/src/#g" "$H/Makefile"
    adapt_foreign_headers "$H" "$KDIR/hdr/usr/lib/$kbuild"
  fi

  # netdevsim: Debian ships CONFIG_NETDEVSIM unset -> build it out of tree
  dpkg-deb --fsys-tarfile "$KDIR"/debs/linux-source-*.deb |
    tar -x -O "./usr/src/linux-source-$series.tar.xz" |
    tar -xJ -C "$KDIR/src" "linux-source-$series/drivers/net/netdevsim"
  local M=$KDIR/src/linux-source-$series/drivers/net/netdevsim
  make -s -C "$H" M="$M" CONFIG_NETDEVSIM=m -j"$(nproc)" modules >"$KDIR/netdevsim-build.log" 2>&1 ||
    { tail -20 "$KDIR/netdevsim-build.log" >&2; die "netdevsim build failed"; }
  mkdir -p "$MODDIR/extra" && cp "$M/netdevsim.ko" "$MODDIR/extra/"
  depmod -b "$KDIR/root" "$KVER"
  rm -rf "$KDIR/src" "$KDIR/debs"/linux-source-*.deb

  # Uncompressed ELF vmlinux: QEMU boots it through its PVH entry point
  # (CONFIG_PVH=y), which skips the XZ self-decompression of vmlinuz - that
  # alone costs 5-8 s under TCG.
  # (Debian 12 compresses it with xz, Debian 13 with zstd)
  local off magic unpack
  for magic in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd'; do
    unpack=${magic##*:}
    command -v "$unpack" >/dev/null || continue
    for off in $(LC_ALL=C grep -obUaP "${magic%:*}" "$VMLINUZ" | cut -d: -f1); do
      # (the decompressor complains about the data after the stream: ignore its status)
      tail -c +$((off + 1)) "$VMLINUZ" | "$unpack" -dc > "$VMLINUX" 2>/dev/null || true
      [ "$(head -c 4 "$VMLINUX" | od -An -c | tr -d ' ')" = '177ELF' ] && break 2
      rm -f "$VMLINUX"
    done
  done
  [ -s "$VMLINUX" ] || { log "could not extract vmlinux; booting vmlinuz (slower)"; VMLINUX=$VMLINUZ; }
  touch "$KDIR/.ready"
}

# ------------------------------------------------ user-space packages (QL_DEBS)
prepare_userland() {
  USERLAND=
  [ -n "$QL_DEBS" ] || return 0
  local key; key=$( { echo "$QL_DEBS"; . /etc/os-release; echo "$VERSION_CODENAME"; } | sha256sum | cut -c1-12)
  USERLAND=$QL_CACHE/userland-$key
  [ -f "$USERLAND.ready" ] && return 0
  log "unpacking $QL_DEBS for the guest into $USERLAND"
  rm -rf "$USERLAND" "$USERLAND.debs" "$USERLAND.ready"; mkdir -p "$USERLAND" "$USERLAND.debs"
  # shellcheck disable=SC2086
  ( cd "$USERLAND.debs" && apt-get -q -o APT::Sandbox::User=root download $QL_DEBS >/dev/null ) ||
    { [ "$QL_APT" = 1 ] && apt-get update >/dev/null &&
      ( cd "$USERLAND.debs" && apt-get -q -o APT::Sandbox::User=root download $QL_DEBS >/dev/null ); } ||
    die "apt-get download $QL_DEBS failed"
  local d; for d in "$USERLAND.debs"/*.deb; do dpkg -x "$d" "$USERLAND"; done
  rm -rf "$USERLAND.debs" "$USERLAND/usr/share/doc" "$USERLAND/usr/share/man"
  # the host's /lib, /bin, /sbin are links into /usr: copying a directory over them would fail
  for d in lib bin sbin lib64; do
    [ -d "$USERLAND/$d" ] && [ ! -L "$USERLAND/$d" ] || continue
    mkdir -p "$USERLAND/usr/$d" && cp -a "$USERLAND/$d/." "$USERLAND/usr/$d/" && rm -rf "${USERLAND:?}/$d"
  done
  touch "$USERLAND.ready"
}

# --------------------------------------------------------------- initramfs
write_init() {
cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "@@QL init uptime=$(cut -d' ' -f1 /proc/uptime)"
fail() { echo "@@QL init failure: $*"; echo "@@QL-EXIT 125"; poweroff -f; }
v9p="trans=virtio,version=9p2000.L,msize=524288"
# the loadable ones of virtio_pci 9pnet_virtio 9p overlay (newer kernels build some in)
for m in $(cat /etc/ql-mods); do modprobe "$m" || fail "modprobe $m"; done
mkdir -p /ql /lower /rw /newroot
mount -t 9p -o "$v9p" qlctl /ql || fail "mount qlctl"
. /ql/conf
R=/newroot
# host root, read-only; cache=loose lets the guest page-cache binaries and libs
mount -t 9p -o "$v9p,ro,cache=loose" hostroot /lower || fail "mount hostroot"
# writable view of it: overlay with a tmpfs upper layer (writes vanish at poweroff)
mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir -p /rw/u /rw/w
mount -t overlay -o lowerdir=/lower,upperdir=/rw/u,workdir=/rw/w overlay $R ||
  { echo "@@QL warning: overlay failed, guest / is read-only"; mount --bind /lower $R; }
# the guest kernel's full module tree lives on the host (9p); used by the
# kernel's auto-loading (usermode helper runs in this initramfs root) and by
# modprobe inside the chroot
mount --bind "/lower$QL_MODDIR" "/lib/modules/$(uname -r)" || fail "bind modules"
mkdir -p "$R/lib/modules/$(uname -r)" && mount --bind "/lower$QL_MODDIR" "$R/lib/modules/$(uname -r)"
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t debugfs debugfs $R/sys/kernel/debug
for d in /tmp /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs $R$d; done
mount -t tmpfs -o mode=0755 tmpfs $R/run
mkdir -p $R/run/ql && mount --bind /ql $R/run/ql
# Debian packages unpacked on the host (QL_DEBS) go over the writable root
if [ -n "$QL_USERLAND" ] && [ -d "/lower$QL_USERLAND" ]; then
  cp -a "/lower$QL_USERLAND/." $R/ || fail "copy $QL_USERLAND"
  chroot $R /sbin/ldconfig 2>/dev/null
fi
mkdir -p "$R$QL_SHARE"   # needed when the share lives under /tmp or /run
mount -t 9p -o "$v9p,cache=$QL_SHARE_CACHE" share "$R$QL_SHARE" || fail "mount share at $QL_SHARE"
# don't let dummy/bonding create dummy0/bond0 on load
mkdir -p /etc/modprobe.d $R/etc/modprobe.d
printf 'options dummy numdummies=0\noptions bonding max_bonds=0\n' > /etc/modprobe.d/qemu-lane.conf
cp /etc/modprobe.d/qemu-lane.conf $R/etc/modprobe.d/qemu-lane.conf
echo "@@QL mounts-done uptime=$(cut -d' ' -f1 /proc/uptime)"
# kmod's modprobe (host userland) uses the binary indexes: much faster over 9p
if [ -x $R/sbin/modprobe ]; then
  MP="chroot $R /sbin/modprobe"
  # the kernel's own module requests too (busybox cannot read Debian 13's .ko.xz)
  printf '#!/bin/sh\nexec chroot %s /sbin/modprobe "$@"\n' "$R" > /sbin/ql-modprobe
  chmod 755 /sbin/ql-modprobe && echo /sbin/ql-modprobe > /proc/sys/kernel/modprobe
else MP=modprobe; fi
[ -z "$QL_MODULES" ] || $MP -a $QL_MODULES || for m in $QL_MODULES; do $MP "$m" || echo "@@QL warning: modprobe $m failed"; done
mount -t configfs configfs $R/sys/kernel/config 2>/dev/null
hostname qemu-lane
ip link set lo up
echo "@@QL cmd-start uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "@@QL-BEGIN"
chroot $R /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /bin/sh /run/ql/cmd.sh </dev/null
rc=$?
echo "@@QL-END"
echo "$rc" > /ql/rc
echo "@@QL cmd-end uptime=$(cut -d' ' -f1 /proc/uptime) $(grep -E 'MemTotal|MemAvailable' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
echo "@@QL-EXIT $rc"
sync; umount "$R$QL_SHARE" /ql 2>/dev/null
poweroff -f
INIT
}

prepare_initrd() {
  # only what is needed to reach the 9p root; all other modules load from it
  local mods="virtio_pci 9pnet_virtio 9p overlay"
  local key; key=$( { echo "$KVER $mods v2"; write_init; sha256sum /bin/busybox; } | sha256sum | cut -c1-16)
  INITRD=$KDIR/initrd-$key.cpio
  [ -f "$INITRD" ] && return 0
  log "building initramfs $INITRD"
  local st; st=$(mktemp -d "$KDIR/stage.XXXXXX")
  mkdir -p "$st"/{bin,sbin,dev,proc,sys,etc,lower,rw,newroot,ql}
  cp /bin/busybox "$st/bin/busybox"
  ln -s ../bin/busybox "$st/sbin/modprobe"        # kernel's default modprobe_path
  write_init > "$st/init"; chmod 755 "$st/init"
  local m f
  : > "$st/etc/ql-mods"
  for m in $mods; do
    # "builtin NAME" for what the kernel has built in: nothing to load
    modprobe -d "$KDIR/root" -S "$KVER" --show-depends "$m" | grep -q '^insmod' && echo "$m" >> "$st/etc/ql-mods"
    modprobe -d "$KDIR/root" -S "$KVER" --show-depends "$m" | awk '$1=="insmod"{print $2}' |
    while read -r f; do
      # modules live under lib/modules in the initramfs, whatever the package's layout;
      # compressed ones (Debian 13: .ko.xz) are unpacked for busybox's modprobe
      local rel; rel=lib/modules/$KVER/${f#"$MODDIR/"}
      mkdir -p "$st/$(dirname "$rel")"
      case $f in
        *.ko.xz) [ -e "$st/${rel%.xz}" ] || xz -dc "$f" > "$st/${rel%.xz}";;
        *) cp -n "$f" "$st/$rel";;
      esac
    done
  done
  mkdir -p "$st/lib/modules/$KVER"
  cp "$MODDIR"/modules.{order,builtin,builtin.modinfo} "$st/lib/modules/$KVER/"
  depmod -b "$st" "$KVER"
  ( cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet ) > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"; rm -rf "$st"
}

# --------------------------------------------------------------------- run
run_vm() {
  CTL=$(mktemp -d -t qemu-lane-run.XXXXXX)
  # if we are interrupted or killed (CI timeout), take the VM down with us
  # (set -e is active inside traps too: nothing in them may fail)
  trap '{ kill "$(cat "$CTL/qemu.pid")"; } 2>/dev/null || true; rm -rf "$CTL" || true' EXIT
  trap 'exit 130' INT TERM HUP
  {
    printf 'QL_SHARE=%q\n' "$QL_SHARE"
    printf 'QL_MODULES=%q\n' "$QL_MODULES"
    printf 'QL_MODDIR=%q\n' "$MODDIR"
    printf 'QL_SHARE_CACHE=%q\n' "$QL_SHARE_CACHE"
    printf 'QL_USERLAND=%q\n' "${USERLAND:-}"
  } > "$CTL/conf"
  {
    local v
    for v in $QL_PASSENV; do [ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}"; done
    local wd=$QL_SHARE here; here=$(pwd -P)
    case "$here/" in "$QL_SHARE"/*) wd=$here;; esac
    printf 'cd %q || exit 126\n' "$wd"
    printf 'exec'; printf ' %q' "$@"; printf '\n'
  } > "$CTL/cmd.sh"

  local accel=$QL_ACCEL cpu=$QL_CPU
  [ "$accel" = tcg ] && accel="tcg,thread=multi"
  # QEMU option values need "," doubled
  local share=${QL_SHARE//,/,,} ctl=${CTL//,/,,}
  # qboot (shipped by qemu-system-data) starts ~1 s faster than SeaBIOS
  local bios=(); [ -f /usr/share/qemu/qboot.rom ] && bios=(-bios qboot.rom)
  local qemu=(qemu-system-x86_64 -nodefaults -no-user-config -no-reboot
    "${bios[@]}" -machine pc -accel "$accel" -cpu "$cpu" -m "$QL_MEM" -smp "$QL_CPUS"
    -display none -serial stdio -monitor none -pidfile "$CTL/qemu.pid"
    -kernel "$VMLINUX" -initrd "$INITRD"
    -append "console=ttyS0 panic=-1 quiet mitigations=off random.trust_cpu=on"
    -fsdev "local,id=r,path=/,security_model=none,readonly=on,multidevs=remap"
    -device virtio-9p-pci,fsdev=r,mount_tag=hostroot
    -fsdev "local,id=s,path=$share,security_model=none,multidevs=remap"
    -device virtio-9p-pci,fsdev=s,mount_tag=share
    -fsdev "local,id=c,path=$ctl,security_model=none"
    -device virtio-9p-pci,fsdev=c,mount_tag=qlctl)

  # show only what the command printed (between the markers) unless verbose;
  # sed -u: unbuffered, so CI logs stream live (mawk would buffer its input)
  local filter='s/\r$//; /^@@QL-BEGIN$/,/^@@QL-END$/{/^@@QL-\(BEGIN\|END\)$/d; p}'
  [ "$QL_VERBOSE" = 1 ] && filter='s/\r$//; p'
  # --foreground keeps QEMU in our process group (a group kill reaches it);
  # the pipeline runs in the background so that `wait` lets our INT/TERM trap
  # fire at once (bash defers traps while a foreground command runs)
  { timeout --foreground -k 10 "$QL_TIMEOUT" "${qemu[@]}" </dev/null 2>&1
    echo $? > "$CTL/qemu.rc"; } 2>/dev/null | tee "$CTL/console.log" | sed -u -n "$filter" &
  wait $! || true
  [ -n "${QL_LOG:-}" ] && cp "$CTL/console.log" "$QL_LOG"
  local qrc; qrc=$(cat "$CTL/qemu.rc" 2>/dev/null || echo 125)
  if [ -f "$CTL/rc" ]; then
    return "$(cat "$CTL/rc")"
  elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    log "timeout after ${QL_TIMEOUT}s"; return 124
  else
    log "guest ended without reporting an exit code (qemu rc=$qrc); console tail:"
    [ "$QL_VERBOSE" = 1 ] || tail -n 25 "$CTL/console.log" | sed 's/\r$//; s/^/  | /' >&2
    return 125
  fi
}

ensure_tools
prepare_kernel
prepare_userland
prepare_initrd
rc=0
run_vm "$@" || rc=$?
exit "$rc"
