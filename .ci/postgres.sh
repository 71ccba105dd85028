#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 and print its SQLAlchemy URL (for TEST_DATABASE_URL).
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n "$bin" ]] || { echo "PostgreSQL server binaries not found" >&2; exit 1; }
dir=$(mktemp -d /tmp/teachbot-pg.XXXXXX)
port=${PGPORT_TEST:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
run=()
if [[ $(id -u) -eq 0 ]]; then
    chown postgres "$dir"
    run=(runuser -u postgres --)
fi
"${run[@]}" "$bin/initdb" -D "$dir/data" -U teachbot --auth=trust >/dev/null
"${run[@]}" "$bin/pg_ctl" -D "$dir/data" -o "-k $dir -p $port -c listen_addresses=127.0.0.1" -l "$dir/log" -w start >/dev/null
"${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U teachbot teachbot_test
# No TLS on loopback: asyncpg then skips its TLS probe, whose future a connection attempt cancelled at shutdown left
# with an exception nobody retrieved ("unexpected connection_lost() call", logged as an ERROR by asyncio).
echo "postgresql+asyncpg://teachbot@127.0.0.1:$port/teachbot_test?ssl=disable"
