#!/usr/bin/env bash
# Throwaway PostgreSQL servers for the live tests.
#
#   pg-server.sh start MAJOR DIR [NAME=VALUE ...]
#       initdb into DIR/data and start a server listening only on a Unix socket
#       in DIR (port 5432), set up for logical replication. NAME=VALUE pairs
#       are extra server settings; they override the defaults below. Waits
#       until the server accepts connections, then prints its conninfo:
#       host=DIR port=5432 user=postgres dbname=postgres
#       If PGREPL_OWNER_PID is set, a detached watcher destroys the server
#       once that process is gone, however it ended. With ssl=on among the
#       settings (and no ssl_cert_file), the server gets a self-signed
#       certificate for CN=localhost made with openssl.
#   pg-server.sh stop DIR       fast shutdown, then immediate, then SIGKILL
#   pg-server.sh destroy DIR    stop, then remove DIR
#
# DIR must exist and be empty (the caller makes it with mkdtemp). When run as
# root, the server runs as the `postgres` system user and DIR is given to it.
set -euo pipefail

readonly PORT=5432
readonly MARKER=.pgrepl-server
script=$(readlink -f "${BASH_SOURCE[0]}")
readonly script

usage() {
    sed -n '3,15p' "$script" >&2
    exit 2
}

die() {
    echo "pg-server: $*" >&2
    exit 1
}

is_root() {
    [[ $(id -u) == 0 ]]
}

# Run a server program as the server user, with the library path of the
# embedded builds (they ship their own libpq, ICU and OpenSSL; Debian's
# lib directory holds only server modules, so it is left alone).
as_server() {
    local libdir=$1
    shift
    local -a envs=(LC_ALL=C HOME="$dir")
    [[ -e $libdir/libpq.so.5 ]] && envs+=(LD_LIBRARY_PATH="$libdir")
    if is_root; then
        (cd "$dir" && setpriv --reuid=postgres --regid=postgres --init-groups env "${envs[@]}" "$@")
    else
        (cd "$dir" && env "${envs[@]}" "$@")
    fi
}

# Quote a setting value for postgresql.conf.
conf_value() {
    printf "'%s'" "${1//\'/\'\'}"
}

write_settings() {
    local conf=$dir/data/postgresql.conf setting
    {
        echo "# pgrepl test server"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = $(conf_value "$dir")"
        echo "port = $PORT"
        echo "wal_level = logical"
        echo "max_wal_senders = 20"
        echo "max_replication_slots = 20"
        echo "max_prepared_transactions = 10"
        echo "logical_decoding_work_mem = '64kB'"
        echo "fsync = off"
        # Later lines win, so the caller's settings override the defaults.
        for setting in "$@"; do
            echo "${setting%%=*} = $(conf_value "${setting#*=}")"
        done
    } >>"$conf"
}

# ssl=on without a certificate of the caller's: a self-signed one, in the
# data directory where the server looks by default.
make_certificate() {
    local setting ssl=0
    for setting in "$@"; do
        case $setting in
            ssl=on) ssl=1 ;;
            ssl_cert_file=*) return 0 ;;
        esac
    done
    [[ $ssl == 1 ]] || return 0
    command -v openssl >/dev/null || die "ssl=on needs openssl (apt-get install openssl)"
    if ! openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 7 \
        -keyout "$dir/data/server.key" -out "$dir/data/server.crt" >"$dir/openssl.log" 2>&1; then
        show_log "$dir/openssl.log"
        die "openssl could not make a certificate"
    fi
    chmod 600 "$dir/data/server.key"
    if is_root; then
        chown postgres: "$dir/data/server.key" "$dir/data/server.crt"
    fi
}

check_settings() {
    local setting
    for setting in "$@"; do
        [[ $setting =~ ^[A-Za-z_][A-Za-z0-9_.]*= ]] || die "bad setting '$setting' (want NAME=VALUE)"
    done
}

show_log() {
    local log=$1
    [[ -f $log ]] || return 0
    echo "---- last lines of $log ----" >&2
    tail -n 30 "$log" >&2
}

start_watcher() {
    [[ -n ${PGREPL_OWNER_PID:-} ]] || return 0
    [[ $PGREPL_OWNER_PID =~ ^[0-9]+$ ]] || die "PGREPL_OWNER_PID is not a pid"
    setsid -f bash "$script" watch "$PGREPL_OWNER_PID" "$dir" </dev/null >/dev/null 2>&1
}

cmd_start() {
    [[ $# -ge 2 ]] || usage
    local major=$1 bindir libdir
    dir=$2
    shift 2
    [[ $major =~ ^[0-9]+$ ]] || die "bad major '$major'"
    [[ -d $dir ]] || die "$dir is not a directory"
    dir=$(readlink -f "$dir")
    [[ -z $(ls -A "$dir") ]] || die "$dir is not empty"
    check_settings "$@"
    bindir=$(bash "$(dirname "$script")/pg-fetch.sh" "$major")
    libdir=$(dirname "$bindir")/lib
    touch "$dir/$MARKER"
    if is_root; then
        getent passwd postgres >/dev/null || die "no postgres user (apt-get install postgresql-common)"
        chown postgres: "$dir"
        as_server "$libdir" test -x "$bindir/postgres" ||
            die "the postgres user cannot run $bindir/postgres (is the PostgreSQL cache readable by it?)"
        as_server "$libdir" test -w "$dir" ||
            die "the postgres user cannot reach $dir (use a TMPDIR that it can search, like /tmp)"
    fi
    start_watcher
    if ! as_server "$libdir" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
        --no-locale --no-sync >"$dir/initdb.log" 2>&1; then
        show_log "$dir/initdb.log"
        die "initdb $major failed in $dir"
    fi
    write_settings "$@"
    make_certificate "$@"
    if ! as_server "$libdir" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        start >"$dir/pg_ctl.log" 2>&1; then
        show_log "$dir/pg_ctl.log"
        show_log "$dir/server.log"
        cmd_stop "$dir"
        die "PostgreSQL $major did not start in $dir"
    fi
    echo "host=$dir port=$PORT user=postgres dbname=postgres"
}

# The postmaster of DIR, if it still runs: the pid from its pid file whose
# working directory is DIR/data (guards against a recycled pid).
postmaster_pid() {
    local pid stat
    [[ -f $dir/data/postmaster.pid ]] || return 1
    read -r pid <"$dir/data/postmaster.pid" || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$dir/data" ]] || return 1
    read -r stat <"/proc/$pid/stat" || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]] || return 1
    echo "$pid"
}

# Send SIG to the postmaster and wait up to SECS for it to be gone.
signal_and_wait() {
    local sig=$1 secs=$2 pid i
    pid=$(postmaster_pid) || return 0
    kill -s "$sig" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < secs * 10; i++)); do
        postmaster_pid >/dev/null || return 0
        sleep 0.1
    done
    return 1
}

cmd_stop() {
    [[ $# == 1 ]] || usage
    dir=$(readlink -f "$1")
    # SIGINT is a fast shutdown, SIGQUIT an immediate one.
    signal_and_wait INT 15 || signal_and_wait QUIT 10 || signal_and_wait KILL 5 ||
        die "the server in $dir does not stop"
}

cmd_destroy() {
    [[ $# == 1 ]] || usage
    [[ -d $1 ]] || return 0
    cmd_stop "$1"
    # Remove only what this script made.
    if [[ -e $dir/$MARKER ]]; then
        rm -rf "$dir"
    else
        rmdir "$dir" 2>/dev/null || die "$dir was not made by pg-server.sh; not removing it"
    fi
}

# Detached watcher (see start): poll the owner, destroy when it is gone.
cmd_watch() {
    [[ $# == 2 ]] || usage
    local owner=$1 stat
    dir=$2
    cd /
    while [[ -e $dir/$MARKER ]]; do
        read -r stat 2>/dev/null <"/proc/$owner/stat" || break
        stat=${stat##*) }
        [[ ${stat%% *} != Z ]] || break
        sleep 1
    done
    [[ -e $dir/$MARKER ]] && cmd_destroy "$dir"
    return 0
}

dir=
case ${1:-} in
    start | stop | destroy | watch)
        cmd=$1
        shift
        "cmd_$cmd" "$@"
        ;;
    *) usage ;;
esac
