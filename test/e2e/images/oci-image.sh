# Sourced by the image builds of the node end-to-end tier (build-images.sh,
# build-netclaim-image.sh): deterministic OCI image-layout tar archives that
# `ctr -n k8s.io images import FILE` takes, built from folders with tar and
# gzip (no container engine, no registry).
#
#   oci_layer ROOTFS-DIR OUT-PREFIX         -> OUT-PREFIX.tar.gz, OUT-PREFIX.diffid
#   oci_image NAME OUTPUT-TAR CONFIG-BODY LAYER-PREFIX...
#
# Deterministic: tar entries sorted, mtime 0, owner 0:0 (unless an
# OUT-PREFIX.owners file lists "PATH UID GID" lines: those entries get that
# owner), gzip without name or time; so the same inputs give the same digests.
# The caller sets $scratch (a temp dir) and $out (where images.txt.new goes),
# and defines log().

oci_epoch=0
oci_created="1970-01-01T00:00:00Z"

oci_sha() { sha256sum "$1" | cut -c1-64; }
oci_size() { stat -c %s "$1"; }

# Deterministic tar of DIR's contents (entries listed explicitly, sorted, no "./").
# Paths named in OWNERS ("PATH UID GID" lines, PATH relative to DIR) get that owner.
oci_dtar() { # oci_dtar DIR OUTFILE [OWNERS]
  local dir="$1" output="$2" owners="${3:-}"
  local list
  list="$(cd "$dir" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort)"
  local common=(--format=gnu --no-recursion --verbatim-files-from --mtime="@$oci_epoch" --numeric-owner)
  if [ -z "$owners" ] || [ ! -s "$owners" ]; then
    printf '%s\n' "$list" | (cd "$dir" && tar --create "${common[@]}" --owner=0 --group=0 --files-from=- --file=-) >"$output"
    return
  fi
  # One entry at a time keeps the sorted order while switching owners.
  : >"$output.list"
  printf '%s\n' "$list" | while read -r p; do
    o="$(awk -v p="$p" '$1 == p { print $2 " " $3 }' "$owners")"
    echo "${o:-0 0} $p" >>"$output.list"
  done
  rm -f "$output"
  local first=1 uid gid p
  while read -r uid gid p; do
    if [ "$first" = 1 ]; then
      (cd "$dir" && tar --create "${common[@]}" --owner="$uid" --group="$gid" --file="$output" -- "$p")
      first=0
    else
      (cd "$dir" && tar --append "${common[@]}" --owner="$uid" --group="$gid" --file="$output" -- "$p")
    fi
  done <"$output.list"
  rm -f "$output.list"
}

# A gzip'd layer and its diff id (sha256 of the uncompressed tar).
oci_layer() { # oci_layer ROOTFS-DIR OUT-PREFIX
  local rootfs="$1" prefix="$2"
  oci_dtar "$rootfs" "$prefix.tar" "$prefix.owners"
  oci_sha "$prefix.tar" >"$prefix.diffid"
  gzip -n -6 -c "$prefix.tar" >"$prefix.tar.gz.new"
  mv "$prefix.tar.gz.new" "$prefix.tar.gz"
  rm -f "$prefix.tar"
}

# oci_image NAME OUTPUT-TAR CONFIG-BODY LAYER-PREFIX...
# CONFIG-BODY is the JSON of the image config's "config" object; each
# LAYER-PREFIX is what oci_layer made (bottom layer first).
oci_image() {
  local name="$1" output="$2" cfgbody="$3"
  shift 3
  local work layout blobs cfg cfg_digest cfg_size man man_digest man_size p digest diff_ids="" layers="" history=""
  work="$(mktemp -d "$scratch/img.XXXXXX")"
  layout="$work/layout"
  blobs="$layout/blobs/sha256"
  mkdir -p "$blobs"
  for p in "$@"; do
    digest="$(oci_sha "$p.tar.gz")"
    cp "$p.tar.gz" "$blobs/$digest"
    diff_ids+="${diff_ids:+,}\"sha256:$(cat "$p.diffid")\""
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$digest\",\"size\":$(oci_size "$p.tar.gz")}"
    history+="${history:+,}{\"created\":\"$oci_created\",\"created_by\":\"netclaim test/e2e/images ($(basename "$p"))\"}"
  done

  cfg="$work/config.json"
  printf '{"created":"%s","architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
    "$oci_created" "$cfgbody" "$diff_ids" "$history" >"$cfg"
  cfg_digest="$(oci_sha "$cfg")"
  cfg_size="$(oci_size "$cfg")"
  mv "$cfg" "$blobs/$cfg_digest"

  man="$work/manifest.json"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
    "$cfg_digest" "$cfg_size" "$layers" >"$man"
  man_digest="$(oci_sha "$man")"
  man_size="$(oci_size "$man")"
  mv "$man" "$blobs/$man_digest"

  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man_digest" "$man_size" "$name" "${name##*:}" >"$layout/index.json"

  oci_dtar "$layout" "$output.new"
  mv "$output.new" "$output"
  echo "$name sha256:$man_digest $(basename "$output")" >>"$out/images.txt.new"
  log "$name: manifest sha256:$man_digest, $# layer(s), $(basename "$output") $(oci_size "$output") bytes"
  rm -rf "$work"
}

# JSON array of plain strings: json_array a b c -> ["a","b","c"] (no escaping needed for ours).
json_array() {
  local s="" x
  for x in "$@"; do s+="${s:+,}\"$x\""; done
  printf '[%s]' "$s"
}
