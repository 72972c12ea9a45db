#!/usr/bin/env bash
# Headline criterion figures of the crate READMEs, before and after a change,
# measured side by side in one run on one machine (each bench runs the
# "before" binary, then the "after" one, so load changes hit both alike).
#
#   scripts/bench_before_after.sh BASE_REV [OUT.txt]
#
# Builds the bench binaries of BASE_REV in a temporary worktree and those of
# the working tree, then runs the same filters with short criterion settings.
set -euo pipefail
base=${1:?usage: scripts/bench_before_after.sh BASE_REV [OUT.txt]}
out=${2:-/dev/stdout}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

build() { # DIR LABEL: copies the bench executables to $work/LABEL
  mkdir -p "$work/$2"
  (cd "$1" && CARGO_TARGET_DIR=$target cargo bench --no-run \
      -p linalg-core -p deep-cg -p sinkhorn-newton -p optimizers 2>&1) |
    sed -n 's/.*Executable benches\/\([a-z_]*\)\.rs (\(.*\))/\1 \2/p' |
    while read -r name path; do cp "$path" "$work/$2/$name"; done
}
git -C "$root" worktree add --detach "$work/base" "$base" >/dev/null
build "$work/base" before
build "$root" after

run() { # BENCH FILTER
  for label in before after; do
    echo "== $label: $1 $2"
    "$work/$label/$1" --bench "$2" --warm-up-time 1 --measurement-time 3 --noplot 2>&1 |
      grep -E '^[a-zA-Z_0-9/(). -]+$|time:' | grep -v 'Benchmarking' || true
  done
}
{
  run linalg 'cg_poisson2d_g96|lanczos_poisson2d_g96'
  run poisson 'matvec_64/stencil|solve/smoke-plume_64'
  run ot 'sweeps_2000|solve/random_assignment_eta1200/sns|solve/digits_w2'
  run optimizers 'logistic|step_1e5'
} >"$out"
