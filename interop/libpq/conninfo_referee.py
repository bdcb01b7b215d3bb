"""libpq as the referee for connection strings (crates/interop_tests, docs/INTEROP.md).

Reads a JSON list of cases on stdin, each {"conninfo": "...", "connect": bool}, and prints one
JSON document:

    {"libpq": 180000, "psycopg": "3.3.9", "results": [{"parse": ..., "connect": ...}, ...]}

"parse" is what libpq's own parser (PQconninfoParse, through psycopg's conninfo_to_dict) makes of
the string: {"ok": true, "params": {...}} or {"ok": false, "error": "..."}. With "connect": true,
"connect" is what PQconnectdb says about the options: libpq checks option values (sslmode, ports,
host/port counts, connect_timeout, ...) only when connecting. {"options_ok": false, "error":
...} when it refuses them; {"options_ok": true, ...} when it went on to connect (cases that ask for
this use IP literals or socket paths, so no name is looked up).
"""

import json
import sys

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict


def parse(conninfo):
    try:
        return {"ok": True, "params": conninfo_to_dict(conninfo)}
    except psycopg.Error as e:
        return {"ok": False, "error": str(e).strip()}


def connect(conninfo):
    conn = pq.PGconn.connect(conninfo.encode("utf-8"))
    try:
        message = conn.get_error_message().strip()
        attempted = conn.status != pq.ConnStatus.BAD or message.startswith("connection to server")
        return {"options_ok": attempted, "error": message}
    finally:
        conn.finish()


def main():
    cases = json.load(sys.stdin)
    results = []
    for case in cases:
        result = {"parse": parse(case["conninfo"])}
        if case.get("connect"):
            result["connect"] = connect(case["conninfo"])
        results.append(result)
    json.dump({"libpq": pq.version(), "psycopg": psycopg.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
