#!/usr/bin/env python3
"""The Debian python3-influxdb client (InfluxDB 1.x) against metricsd, as a user runs it.

Usage: influxdb_python.py PORT TOKEN NODE_PREFIX BASE_S
Pings, creates the database, lists databases, then writes one point per precision
(s, ms, u, n) for node NODE_PREFIX-<precision> at BASE_S (scaled, plus a sub-second part
where the precision has one). The token goes as the Basic password with any user name.
Exits non-zero with a message on anything unexpected; the test reads the rows back.
"""
import sys

from influxdb import InfluxDBClient


def main():
    port, token, prefix, base_s = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = InfluxDBClient(host="127.0.0.1", port=int(port), username="telegraf",
                            password=token, database="telegraf", ssl=False, timeout=10)
    version = client.ping()
    if not version.startswith("1.8"):
        sys.exit("ping: unexpected version %r" % version)
    client.create_database("telegraf")
    names = [d["name"] for d in client.get_list_database()]
    if "telegraf" not in names:
        sys.exit("SHOW DATABASES lacks telegraf: %r" % names)
    scale = {"s": 1, "ms": 1000, "u": 1000000, "n": 1000000000}
    extra = {"s": 0, "ms": 250, "u": 250500, "n": 250500700}
    for precision, factor in scale.items():
        point = {"measurement": "cpu",
                 "tags": {"host": "%s-%s" % (prefix, precision), "cpu": "cpu0"},
                 "time": base_s * factor + extra[precision],
                 "fields": {"usage_idle": 97.25, "procs": 42, "ok": True, "state": "up"}}
        if not client.write_points([point], time_precision=precision):
            sys.exit("write_points returned false for precision %s" % precision)
    print("ok")


if __name__ == "__main__":
    main()
