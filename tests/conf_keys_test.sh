#!/usr/bin/env bash
# Every config key the loader reads must appear in the commented example conf/full.toml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
missing=0
doc=$(sed 's/#.*//' conf/full.toml)  # without comments
keys=$(grep -rhoE '(get_(string|int|bool|duration|positive_duration|size|string_list|string_map|table|table_array|array)|mark)\("[a-z_]+"' \
         gateway upstream filters static | sed -E 's/.*\("([a-z_]+)"/\1/' | sort -u)
for k in $keys; do
  # As "key =", "[key]", "[key." or "[[key]]", outside comments.
  if ! grep -qE "(^|[][ {,.])${k}( =|\]|\.)" <<<"$doc"; then
    echo "conf/full.toml does not document '$k'"
    missing=1
  fi
done
n=$(echo "$keys" | wc -w)
[[ $n -gt 20 ]] || { echo "found only $n keys: the extraction is broken"; exit 1; }
exit $missing
