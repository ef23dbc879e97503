#!/bin/sh
# Review a deploy pull request with gitberth: validate the head's manifests, then post
# `gitberth plan --format markdown` as a comment. Works in any CI that has git and gitberth.
#
#   pr-plan.sh BASE_REF HEAD_REF [REPO]
#
# BASE_REF is the branch the pull request merges into (e.g. origin/main), HEAD_REF the branch or
# commit under review. The plan compares HEAD_REF with its merge base, which is what the pull
# request's diff shows, so commits that landed on the base since do not appear as reverts.
#
# Environment (all optional):
#   GITBERTH        the gitberth command                      (default: gitberth)
#   APPS_DIR        manifest directory in the repository      (default: apps)
#   OUT             where the comment is written              (default: gitberth-plan.md)
#   COMMENT_CMD     a shell command that reads the comment on stdin and posts it,
#                   e.g. 'gh pr comment 42 --body-file -'     (default: print it)
#   GITBERTH_SERVER a gitberth server URL: also check the secrets head references
#   GITBERTH_TOKEN  its bearer token (never pass it on a command line)
#
# Exit status: 0 when the pull request can be merged (with or without changes), 1 when a
# manifest is invalid or a referenced secret is unusable, 3 when the server cannot be asked (the
# offline plan is still posted, with a warning that secrets were not checked).
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 BASE_REF HEAD_REF [REPO]" >&2
    exit 64
fi
base_ref=$1
head_ref=$2
repo=${3:-.}
gitberth=${GITBERTH:-gitberth}
apps_dir=${APPS_DIR:-apps}
out=${OUT:-gitberth-plan.md}

base=$(git -C "$repo" merge-base "$base_ref" "$head_ref")
head=$(git -C "$repo" rev-parse --verify "$head_ref^{commit}")

# Validate the committed head, not whatever the working tree holds, from a scratch copy of its
# manifest directory, so error paths read apps/<name>.yaml:line:column.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/tree"
if git -C "$repo" cat-file -e "$head:$apps_dir" 2>/dev/null; then
    git -C "$repo" archive "$head" "$apps_dir" | tar -x -C "$scratch/tree"
fi
validate_status=0
if [ -d "$scratch/tree/$apps_dir" ]; then
    (cd "$scratch/tree" && "$gitberth" validate "$apps_dir") >"$scratch/validate.log" 2>&1 \
        || validate_status=$?
else
    echo "no $apps_dir/ at $head_ref: nothing to validate" >"$scratch/validate.log"
fi
cat "$scratch/validate.log" >&2

set -- plan --repo "$repo" --apps-dir "$apps_dir" --base "$base" --head "$head_ref" \
    --format markdown
plan_status=0
server_status=0
if [ -n "${GITBERTH_SERVER:-}" ]; then
    "$gitberth" "$@" --server "$GITBERTH_SERVER" >"$out" || plan_status=$?
    if [ "$plan_status" -eq 3 ]; then
        # The server did not answer: still show the reviewer the offline plan, say that the
        # secrets were not checked, and fail the job so the check is run again.
        server_status=3
        plan_status=0
    fi
fi
if [ -z "${GITBERTH_SERVER:-}" ] || [ "$server_status" -ne 0 ]; then
    "$gitberth" "$@" >"$out" || plan_status=$?
fi
if [ "$plan_status" -eq 2 ] && ! grep -q '^<!-- gitberth-plan -->' "$out"; then
    plan_status=1 # a usage error also exits 2: only a written plan means "changes"
fi
if [ "$server_status" -ne 0 ]; then
    printf '\n> [!WARNING]\n> Secrets were not checked: the gitberth server did not answer.\n' \
        >>"$out"
fi

if [ "$validate_status" -ne 0 ]; then
    {
        echo
        echo "<details><summary>gitberth validate: every problem</summary>"
        echo
        echo '```text'
        tr '`' "'" <"$scratch/validate.log"  # a backtick cannot close the block
        echo '```'
        echo
        echo "</details>"
    } >>"$out"
fi

if [ -s "$out" ]; then
    if [ -n "${COMMENT_CMD:-}" ]; then
        sh -c "$COMMENT_CMD" <"$out"
    else
        cat "$out"
    fi
fi

if [ -n "${GITHUB_OUTPUT:-}" ]; then  # for `if:` conditions in later GitHub Actions steps
    if [ "$plan_status" -eq 2 ]; then echo "changes=true"; else echo "changes=false"; fi \
        >>"$GITHUB_OUTPUT"
fi

case $plan_status in
    0 | 2) ;;
    *) exit "$plan_status" ;;
esac
[ "$validate_status" -eq 0 ] || exit 1
exit "$server_status"
