#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the test-suite and prints the
# admin URL to use as COURSEBRIDGE_TEST_POSTGRES_URL. Installs PostgreSQL from
# Debian packages when it is missing. Usage:
#   export COURSEBRIDGE_TEST_POSTGRES_URL=$(bash .ci/postgres.sh start)
#   bash .ci/postgres.sh stop
# A test that takes the server down under load (bins/ingest/tests/pg_restart.rs)
# runs a cluster of its own (COURSEBRIDGE_PG_DIR) with `halt` (an immediate
# shutdown: the server's processes end as in a crash) and `resume` (the same
# cluster, on the same port). COURSEBRIDGE_PG_SYNCHRONOUS_COMMIT=on makes a
# commit wait for its log write, so that a halt loses nothing acknowledged.
set -euo pipefail
DIR="${COURSEBRIDGE_PG_DIR:-/tmp/coursebridge-pg}"

pg_bin() {
    local b
    b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$b" ] || [ ! -x "$b/initdb" ]; then
        echo "installing PostgreSQL from Debian packages" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        b=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    echo "$b"
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/bash -c "$*"
    else
        bash -c "$*"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

case "${1:-start}" in
start)
    BIN=$(pg_bin)
    if [ -f "$DIR/port" ] && as_pg "$BIN/pg_ctl -D $DIR/data status" >/dev/null 2>&1; then
        echo "postgres://postgres@127.0.0.1:$(cat "$DIR/port")/postgres"
        exit 0
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; fi
    PORT=$(free_port)
    as_pg "$BIN/initdb -D $DIR/data -U postgres -A trust --no-sync >$DIR/initdb.log 2>&1"
    OPTIONS="-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=${COURSEBRIDGE_PG_SYNCHRONOUS_COMMIT:-off} -c full_page_writes=off -c max_connections=200"
    echo "$OPTIONS" > "$DIR/options"
    as_pg "$BIN/pg_ctl -D $DIR/data -w -l $DIR/server.log -o '$OPTIONS' start >$DIR/pg_ctl.log 2>&1"
    echo "$PORT" > "$DIR/port"
    echo "postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
halt)
    BIN=$(pg_bin)
    as_pg "$BIN/pg_ctl -D $DIR/data -m immediate -w stop" >/dev/null 2>&1
    ;;
resume)
    BIN=$(pg_bin)
    as_pg "$BIN/pg_ctl -D $DIR/data -w -l $DIR/server.log -o '$(cat "$DIR/options")' start >>$DIR/pg_ctl.log 2>&1"
    ;;
stop)
    BIN=$(pg_bin)
    as_pg "$BIN/pg_ctl -D $DIR/data -m fast stop" >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
*)
    echo "usage: $0 start|stop|halt|resume" >&2
    exit 2
    ;;
esac
