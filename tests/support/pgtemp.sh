#!/usr/bin/env bash
# pgtemp.sh - a throw-away PostgreSQL server for the tests (Debian's postgresql package).
#   pgtemp.sh start DIR PORT   initdb in DIR, start on 127.0.0.1:PORT (socket in DIR), create
#                              database imgapi; prints its URL
#   pgtemp.sh stop DIR         fast shutdown (data kept; start again with start DIR PORT)
#   pgtemp.sh kill DIR         SIGKILL the postmaster         pgtemp.sh drop DIR: stop, remove DIR
# As root the server runs as the postgres user (initdb refuses root).
set -eu
cmd=$1 dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "pgtemp: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $cmd in
start)
    port=$3
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$bin/initdb" -D "$dir/data" -U imgapi --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1
        {
            echo "listen_addresses = '127.0.0.1'"
            echo "port = $port"
            echo "unix_socket_directories = '$dir'"
            echo "fsync = off"
            echo "max_connections = 200"
        } >>"$dir/data/postgresql.conf"
    fi
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U imgapi -d postgres -qAtc \
        "SELECT 1 FROM pg_database WHERE datname = 'imgapi'" | grep -q 1 ||
        as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U imgapi imgapi
    echo "postgres://imgapi@127.0.0.1:$port/imgapi"
    ;;
stop) as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ;;
kill) kill -9 "$(head -n 1 "$dir/data/postmaster.pid")" ;;
drop)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*) echo "usage: pgtemp.sh start DIR PORT | stop DIR | kill DIR | drop DIR" >&2; exit 2 ;;
esac
