"""A long-lived gkfs client for failure tests, run on a (virtual) client host:
``python fs_probe.py HOSTS_FILE TIMEOUT_MS [OPTION=MS ...]`` (further gkfs.Client options,
e.g. down_recheck_ms=1000) then one JSON request per stdin line, one JSON reply per stdout
line. The same gkfs.Client serves every request, so a test sees whether a client recovers
after a daemon or a link comes back.

Requests (``op``):
  write  path size seed  -> {"ok", "sha"}           random bytes from seed, whole file
  read   path            -> {"ok", "sha"} or {"ok": false, "errno", "error"}; reads the
                            file's size exactly (a read past the end asks more daemons)
  stat   path            -> {"ok", "size"}
  create path            -> {"ok"}                  an exclusive create (O_CREAT|O_EXCL)
  owners path            -> {"meta": uri, "chunks": [uri, ...]}  (placement over the hosts
                            file's daemons in the client's order: by daemon id)
  writes prefix count    -> one {"ack", "sha"} or {"err", "errno"} line per file, then
                            {"done": true}; a write workload to kill a daemon in
  repeat request count within_s -> {"done", "outcomes"}: `request` (read, stat, ...) run up
                            to count times, stopping once within_s seconds have passed;
                            outcomes counts "ok" and each errno name
Failures are {"ok": false, "errno", "error"}. Every reply carries "seconds": how long the
operation took.
"""

from __future__ import annotations

import errno as errno_names
import hashlib
import json
import random
import sys
import time

import gkfs
from gkfs import _core


def sorted_uris(hosts_file: str) -> list[str]:
    """The daemons' uris in placement order (by daemon id), as the client orders them."""
    return [uri for _, uri, _ in _core.daemon_order(hosts_file)]


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def failure(e: OSError) -> dict:
    return {"ok": False, "errno": errno_names.errorcode.get(e.errno, str(e.errno)),
            "error": str(e)}


def perform(fs: gkfs.Client, uris: list[str], request: dict) -> dict:
    """One request (not writes); raises OSError for a failed file-system call."""
    op, path = request["op"], request.get("path", "")
    if op == "write":
        data = payload(request["size"], request["seed"])
        fs.write_bytes(path, data)
        return {"ok": True, "sha": hashlib.sha256(data).hexdigest()}
    if op == "read":  # exactly the file's bytes: the chunks of owners[] only
        md = fs._core.stat(path)
        data = fs._core.read(path, md.file_id, 0, md.size)
        return {"ok": True, "sha": hashlib.sha256(data).hexdigest()}
    if op == "stat":
        return {"ok": True, "size": fs._core.stat(path).size}
    if op == "create":
        fs._core.create(path, exclusive=True)
        return {"ok": True}
    if op == "owners":
        md = fs._core.stat(path)
        chunk_size = fs.config.chunk_size
        placement = _core.Placement(len(uris))
        chunks = range((md.size + chunk_size - 1) // chunk_size)
        return {"meta": uris[placement.metadata_owner(path)],
                "chunks": sorted({uris[placement.chunk_owner(md.file_id, i)] for i in chunks})}
    if op == "repeat":
        outcomes: dict[str, int] = {}
        deadline = time.monotonic() + request["within_s"]
        done = 0
        while done < request["count"] and time.monotonic() < deadline:
            try:
                perform(fs, uris, request["request"])
                outcome = "ok"
            except OSError as e:
                outcome = failure(e)["errno"]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            done += 1
        return {"done": done, "outcomes": outcomes}
    return {"ok": False, "error": f"unknown op {op!r}"}


def write_workload(fs: gkfs.Client, prefix: str, count: int) -> dict:
    for i in range(count):
        name = f"{prefix}{i:04d}"
        data = payload(4096 + (i * 7919) % (300 * 1024), i)
        try:
            fs.write_bytes(name, data)
            print(json.dumps({"ack": name, "sha": hashlib.sha256(data).hexdigest()}), flush=True)
        except OSError as e:
            print(json.dumps({"err": name, **failure(e)}), flush=True)
    return {"done": True}


def main() -> int:
    hosts_file, timeout_ms = sys.argv[1], int(sys.argv[2])
    options = {key: int(value) for key, _, value in (a.partition("=") for a in sys.argv[3:])}
    fs = gkfs.Client(hosts_file, timeout_ms=timeout_ms, **options)
    uris = sorted_uris(hosts_file)
    for line in sys.stdin:
        request = json.loads(line)
        start = time.monotonic()
        reply: dict
        try:
            if request["op"] == "writes":
                reply = write_workload(fs, request["prefix"], request["count"])
            else:
                reply = perform(fs, uris, request)
        except OSError as e:
            reply = failure(e)
        reply["seconds"] = round(time.monotonic() - start, 4)
        print(json.dumps(reply), flush=True)
    fs.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
