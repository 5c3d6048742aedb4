# test_usage.sh -- the command line itself: usage errors exit 16 with a
# message on stderr and nothing on stdout; --help exits 0 with text on
# stdout; a partition that cannot be opened is an operational error (8).
. "$(dirname "$0")/lib.sh"

new_device
rm "${USR:?}/main.py"   # damage: no usage error may act on it
snap_to "$IO/dev.before" "$DEV"

usage_error() {   # usage_error WHAT ARGS...: exit 16, stderr says why, nothing done
    local what=$1
    shift
    begin "usage error: $what"
    fsg "$@"
    expect_rc 16 "$what"
    if [ -s "$ERR" ]; then pass; else fail "$what: a message on stderr expected" "$(show_run)"; fi
    expect_empty_out
    expect_err "fsguard"
    expect_snap "$IO/dev.before" "$DEV" "$what"
}

usage_error "no command"
usage_error "unknown command" frobnicate --root "$DEV"
usage_error "unknown command that looks like an option" --frobnicate
usage_error "command in upper case" BOOT --root "$DEV"
for cmd in boot verify calc; do
    name=()
    [ $cmd = calc ] && name=(/usr/main.py)
    usage_error "$cmd: unknown option" $cmd --root "$DEV" --force "${name[@]}"
    usage_error "$cmd: unknown short option" $cmd -x --root "$DEV" "${name[@]}"
    usage_error "$cmd: no partitions" $cmd "${name[@]}"
    usage_error "$cmd: --usr without --bak" $cmd --usr "$USR" "${name[@]}"
    usage_error "$cmd: --bak without --usr" $cmd --bak "$BAK" "${name[@]}"
    usage_error "$cmd: --root with --usr" $cmd --root "$DEV" --usr "$USR" "${name[@]}"
    usage_error "$cmd: --root with --bak" $cmd --root "$DEV" --bak "$BAK" "${name[@]}"
    usage_error "$cmd: --root without a directory" $cmd "${name[@]}" --root
    usage_error "$cmd: --usr without a directory" $cmd --bak "$BAK" "${name[@]}" --usr
    usage_error "$cmd: --root with an empty directory name" $cmd --root "" "${name[@]}"
    usage_error "$cmd: a stray argument" $cmd --root "$DEV" "${name[@]}" extra
done
usage_error "calc without a name" calc --root "$DEV"
usage_error "calc with two names" calc --root "$DEV" /usr/main.py /usr/data.bin

begin "unknown option: the message names it"
fsg boot --root "$DEV" --force
expect_err "--force"
begin "unknown command: the message names it"
fsg frobnicate
expect_err "frobnicate"
begin "--root with --usr: the message says which options conflict"
fsg boot --root "$DEV" --usr "$USR"
expect_err "--root"
expect_err "--usr"

# ---- help ----

help_ok() {   # help_ok WHAT ARGS...: exit 0, text on stdout, nothing on stderr
    local what=$1
    shift
    begin "help: $what"
    fsg "$@"
    expect_rc 0 "$what"
    if [ -s "$OUT" ]; then pass; else fail "$what: help text on stdout expected" "$(show_run)"; fi
    expect_empty_err
    expect_out "Usage"
    expect_snap "$IO/dev.before" "$DEV" "$what"
}
help_ok "fsguard --help" --help
help_ok "fsguard -h" -h
help_ok "fsguard help" help
for cmd in boot verify calc; do
    help_ok "fsguard $cmd --help" $cmd --help
    help_ok "fsguard $cmd -h" $cmd -h
    help_ok "fsguard $cmd --root DIR --help" $cmd --root "$DEV" --help
    expect_out "$cmd"
    expect_out "--root"
    expect_out "--usr"
    expect_out "--bak"
    expect_out "--json"
done
begin "fsguard --help lists the commands and the exit codes"
fsg --help
for w in boot verify calc 16; do expect_out "$w"; done
begin "fsguard --version"
fsg --version
expect_rc 0
expect_out "fsguard"

# ---- partitions that cannot be opened ----

op_error() {   # op_error WHAT TEXT ARGS...: exit 8, stderr names TEXT
    local what=$1 text=$2
    shift 2
    begin "operational error: $what"
    fsg "$@"
    expect_rc 8 "$what"
    expect_err "$text"
    expect_snap "$IO/dev.before" "$DEV" "$what"
}
for cmd in boot verify; do
    op_error "$cmd: nonexistent --usr" "$CASEDIR/nope" $cmd --usr "$CASEDIR/nope" --bak "$BAK"
    op_error "$cmd: nonexistent --bak" "$CASEDIR/nope" $cmd --usr "$USR" --bak "$CASEDIR/nope"
    op_error "$cmd: nonexistent --root" "$CASEDIR/nope" $cmd --root "$CASEDIR/nope"
    op_error "$cmd: --usr is a file" "$USR/data.bin" $cmd --usr "$USR/data.bin" --bak "$BAK"
    op_error "$cmd: --bak is a file" "$USR/data.bin" $cmd --usr "$USR" --bak "$USR/data.bin"
done
op_error "calc: nonexistent --usr" "$CASEDIR/nope" calc --usr "$CASEDIR/nope" --bak "$BAK" /usr/main.py
op_error "calc: nonexistent --root" "$CASEDIR/nope" calc --root "$CASEDIR/nope" /usr/main.py
begin "a nonexistent --usr is not created"
expect_absent "$CASEDIR/nope"

begin "boot --json with a nonexistent --usr: exit 8"
fsg boot --json --usr "$CASEDIR/nope" --bak "$BAK"
expect_rc 8
expect_err "$CASEDIR/nope"

begin "options may come in any order"
fsg boot --json --bak "$BAK" --usr "$USR"
expect_rc 1
expect_json

finish
