#!/usr/bin/env bash
# Checks DESIGN.md's layering: each folder under include/isoflow/ includes only the folders it may
# use (core/ nothing but itself, store/ only core/, ...). Prints every include that breaks the rule,
# with file and line, and exits 1 if there is one.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
declare -A allowed=(
    [core]="core"
    [forest]="core forest"
    [io]="core io"
    [quality]="core quality"
    [store]="core store"
    [registry]="core forest registry"
    [pipeline]="core forest io quality store registry pipeline"
)
status=0
cd "$root/include"
for dir in isoflow/*/; do
    part="$(basename "$dir")"
    if [[ -z "${allowed[$part]+set}" ]]; then
        echo "check_layers: include/isoflow/$part/ is not in DESIGN.md's table (add it here too)" >&2
        status=1
        continue
    fi
    while IFS=: read -r file line text; do
        used="$(sed -E 's@.*#include "isoflow/([a-z_]+)[/.].*@\1@' <<<"$text")"
        if [[ " ${allowed[$part]} " != *" $used "* ]]; then
            echo "include/$file:$line: $part/ may not include $used/ (it may use: ${allowed[$part]})" >&2
            status=1
        fi
    done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include "isoflow/' "$dir" || true)
done
exit "$status"
