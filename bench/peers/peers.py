#!/usr/bin/env python3
"""edgesketch and VictoriaMetrics on the same generated readings (bench/peers/run.sh runs this).

For each fleet: edgesketch-sim generates the readings once and records them; edgesketch loads
them the way a gateway does (sim -> mosquitto -> edgesketch-agent -> mosquitto ->
edgesketch-collector), VictoriaMetrics loads the same record through its /api/v1/import
endpoint (`edgesketch-sim export`). Both answer the same five questions, uncached; every answer
is compared with `edgesketch-sim truth`, the exact answer computed from the record.

Everything runs on 127.0.0.1 on free ports, in a temporary directory of its own.
"""

import argparse
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

CLEANUP = []  # stops what is running, also after an error
THRESHOLD = 5.0  # a vibration "spike"
PROBE_DEVICE = "dev-0017"

FLEETS = {
    # The most common IoT shape: four slow sensors per device.
    "lowrate": {
        "sim": ["--devices", "1000", "--sites", "10", "--lines", "5", "--rate", "vibration=1",
                "--rate", "event=0"],
        "duration_s": 3600,
        # Each device sends its last 10 s of readings (40) per message: with one reading per
        # message the simulator's own MQTT publishing, not the systems, sets the load time.
        "max_delay": "10s",
    },
    # DESIGN.md's standard fleet: vibration at 100 Hz (and events, which are labels: edgesketch
    # counts them, VictoriaMetrics stores only floats, so the export leaves them out).
    "standard": {"sim": ["--fleet", "standard"], "duration_s": 300, "max_delay": "1s"},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def dir_bytes(path, skip=()):
    total = 0
    for root, dirs, files in os.walk(path):
        if root == path:
            dirs[:] = [d for d in dirs if d not in skip]
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def http_get(url, headers=None, timeout=120):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def wait_for(what, predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"peers: timed out waiting for {what}")


class Daemon:
    def __init__(self, name, argv, work):
        self.name = name
        self.log_path = os.path.join(work, name + ".log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)

    def hwm_mb(self):
        return vm_hwm_mb(self.proc.pid)

    def stop(self):
        if self.log.closed:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Edgesketch:
    """mosquitto + edgesketch-agent + edgesketch-collector, configured as the packaged files are,
    plus one rule for the spikes question."""

    def __init__(self, bin_dir, work, duration_s):
        self.bin = bin_dir
        self.work = work
        self.token = "peers-" + os.urandom(8).hex()
        self.broker_port = free_port()
        self.http_port = free_port()
        self.data_dir = os.path.join(work, "collector")
        self.daemons = []
        with open(os.path.join(work, "mosquitto.conf"), "w") as f:
            f.write(f"listener {self.broker_port} 127.0.0.1\nallow_anonymous true\n"
                    "persistence false\nmax_queued_messages 10000000\n")
        self.collector_conf = os.path.join(work, "collector.toml")
        with open(self.collector_conf, "w") as f:
            f.write(f"""[collector]
data_dir = "{self.data_dir}"
[mqtt]
broker = "tcp://127.0.0.1:{self.broker_port}"
client_id = "peers-collector"
[http]
listen = "127.0.0.1:{self.http_port}"
query_cache_bytes = "0"
[[tenant]]
name = "peers"
tokens = ["{self.token}"]
max_points_per_query = 50000000
""")
        self.agent_conf = os.path.join(work, "agent.toml")
        with open(self.agent_conf, "w") as f:
            f.write(f"""[agent]
gateway_id = "peers-gw"
tenant = "peers"
data_dir = "{os.path.join(work, 'agent')}"
[[input]]
name = "devices"
type = "mqtt"
format = "nanopb"
broker = "tcp://127.0.0.1:{self.broker_port}"
topics = ["devices/+/readings"]
qos = 1
[[rule]]
name = "per-device"
match = "*"
group_by = ["device", "site", "line"]
quantiles = true
[[rule]]
name = "spikes"
match = "vibration"
where = "value > {THRESHOLD:g}"
output = "vibration_spikes"
group_by = ["site"]
distinct = "device"
topk = "device"
[window]
allowed_lateness = "2s"
idle_timeout = "3s"
max_past = "2d"
[uplink]
broker = "tcp://127.0.0.1:{self.broker_port}"
""")

    def start(self):
        self.daemons.append(Daemon("mosquitto", ["mosquitto", "-c",
                                                 os.path.join(self.work, "mosquitto.conf")],
                                   self.work))
        self.collector = self._start_collector()
        self.agent = Daemon("agent", [os.path.join(self.bin, "edgesketch-agent"), "--config",
                                      self.agent_conf], self.work)
        self.daemons.append(self.agent)
        time.sleep(0.5)

    def _start_collector(self):
        d = Daemon("collector", [os.path.join(self.bin, "edgesketch-collector"), "--config",
                                 self.collector_conf], self.work)
        wait_for("the collector", lambda: http_get(
            f"http://127.0.0.1:{self.http_port}/-/ready", timeout=2) is not None, 60)
        return d

    def restart_collector(self):
        self.collector.stop()
        self.collector = self._start_collector()

    def query(self, path, params):
        url = (f"http://127.0.0.1:{self.http_port}{path}?" + urllib.parse.urlencode(params))
        return json.loads(http_get(url, {"Authorization": "Bearer " + self.token}))

    def stop(self):
        for d in [getattr(self, "collector", None)] + list(reversed(self.daemons)):
            if d:
                d.stop()


class Victoria:
    def __init__(self, work):
        self.port = free_port()
        self.data = os.path.join(work, "victoria-metrics")
        self.work = work
        self.daemon = None

    def start(self):
        self.daemon = Daemon("victoria-metrics", [
            "victoria-metrics", f"-storageDataPath={self.data}",
            f"-httpListenAddr=127.0.0.1:{self.port}", "-retentionPeriod=100y",
            "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN"], self.work)
        wait_for("VictoriaMetrics", lambda: http_get(
            f"http://127.0.0.1:{self.port}/health", timeout=2) is not None, 60)

    def import_file(self, path):
        with open(path, "rb") as f:
            req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/v1/import", data=f,
                                         headers={"Content-Length": str(os.path.getsize(path))})
            with urllib.request.urlopen(req, timeout=3600) as r:
                r.read()

    def get(self, path):
        return http_get(f"http://127.0.0.1:{self.port}{path}")

    def query(self, path, params):
        params = dict(params, nocache="1")
        return json.loads(self.get(path + "?" + urllib.parse.urlencode(params)))

    def stop(self):
        if self.daemon:
            self.daemon.stop()


def run_sim(bin_dir, fleet, start_s, work, broker_port):
    record = os.path.join(work, "sent.rec")
    argv = [os.path.join(bin_dir, "edgesketch-sim"), *FLEETS[fleet]["sim"],
            "--duration", f"{fleet_duration(fleet)}s", "--start-ms", str(start_s * 1000),
            "--speed", "0", "--qos", "1", "--batch", "100",
            "--max-delay", FLEETS[fleet]["max_delay"],
            "--record", record, "--quiet", "--summary-json"]
    if broker_port:
        argv += ["--broker", f"tcp://127.0.0.1:{broker_port}"]
    else:
        argv += ["--dry-run"]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return record, json.loads(out.strip().splitlines()[-1])


def fleet_duration(fleet):
    return ARGS.duration_s or FLEETS[fleet]["duration_s"]


def truth(bin_dir, record, *args):
    out = subprocess.run([os.path.join(bin_dir, "edgesketch-sim"), "truth", "--record", record,
                          *args], check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line]


def questions(start_s, end_s, dur_s):
    """(name, what, edgesketch query, VictoriaMetrics query, kind). Range questions are per
    minute over [start, end): edgesketch's point at t holds the windows in [t - 60 s, t); a
    VictoriaMetrics point at t - 1 ms with [1m] holds the samples in (t - 60 s - 1 ms, t - 1 ms],
    the same readings with millisecond timestamps."""
    d = PROBE_DEVICE
    return [
        ("device_mean", f"{d}'s temperature, per-minute mean",
         f'temperature_sum{{device="{d}"}} / temperature_count{{device="{d}"}}',
         f'avg_over_time(temperature{{device="{d}"}}[1m])', "range"),
        ("p99_all", "p99 of vibration across all devices, per minute",
         "histogram_quantile(0.99, sum(vibration))",
         "histogram_quantile(0.99, sum(histogram_over_time(vibration[1m])) by (vmrange))",
         "range"),
        ("max_all", "max of vibration across all devices, per minute", "max(vibration_max)",
         "max(max_over_time(vibration[1m]))", "range"),
        ("distinct_above", f"devices with vibration > {THRESHOLD:g}, per minute",
         "distinct_count(sum(vibration_spikes))",
         f"count(count_gt_over_time(vibration[1m], {THRESHOLD:g}) > 0)", "range"),
        ("top10_spikes", f"10 devices with the most readings > {THRESHOLD:g} over the run",
         f"topk_items(10, sum(vibration_spikes[{dur_s}s]))",
         f"topk(10, count_gt_over_time(vibration[{dur_s}s], {THRESHOLD:g}))", "instant"),
    ]


def exact_answers(bin_dir, record, start_s, dur_s):
    """Per question: {minute end (s): value} for range questions, {device: count} for top-K."""
    t = {}
    rows = truth(bin_dir, record, "--window", "60s", "--group-by", "device", "--metric",
                 "temperature")
    t["device_mean"] = {r["window_start_ms"] // 1000 + 60: r["sum"] / r["count"] for r in rows
                        if r["group"].get("device") == PROBE_DEVICE}
    rows = truth(bin_dir, record, "--window", "60s", "--metric", "vibration")
    t["p99_all"] = {r["window_start_ms"] // 1000 + 60: r["p99"] for r in rows}
    t["max_all"] = {r["window_start_ms"] // 1000 + 60: r["max"] for r in rows}
    rows = truth(bin_dir, record, "--window", "60s", "--metric", "vibration", "--where",
                 f"value > {THRESHOLD:g}", "--distinct", "device")
    t["distinct_above"] = {r["window_start_ms"] // 1000 + 60: r["distinct"]["device"]
                           for r in rows}
    rows = truth(bin_dir, record, "--window", f"{dur_s}s", "--group-by", "device", "--metric",
                 "vibration", "--where", f"value > {THRESHOLD:g}")
    t["top10_spikes"] = {r["group"]["device"]: r["count"] for r in rows
                         if start_s * 1000 <= r["window_start_ms"] < (start_s + dur_s) * 1000}
    return t


def range_points(result):
    data = result["data"]["result"]
    if len(data) > 1:
        raise SystemExit(f"peers: expected one series, got {len(data)}")
    if not data:
        return {}
    return {round(float(ts)): float(v) for ts, v in data[0]["values"]}


def topk_points(result, edgesketch):
    out = {}
    for s in result["data"]["result"]:
        key = s["metric"].get("item" if edgesketch else "device")
        out[key] = float(s["value"][1])
    return out


def range_error(got, exact, minutes):
    """Mean and max relative error over every minute of the run (a missing point counts as 0,
    as a missing minute of truth does)."""
    errs = []
    for m in minutes:
        want = exact.get(m, 0.0)
        have = got.get(m, 0.0)
        if want == 0:
            errs.append(0.0 if have == 0 else 1.0)
        else:
            errs.append(abs(have - want) / abs(want))
    return statistics.fmean(errs), max(errs)


def topk_error(got, exact):
    """Mean relative error of the returned counts, and the share of returned devices that belong
    to the exact top 10 (ties at the tenth place included)."""
    if not got:
        return 1.0, 0.0
    tenth = sorted(exact.values(), reverse=True)[min(9, len(exact) - 1)] if exact else 0
    errs, hits = [], 0
    for device, count in got.items():
        want = exact.get(device, 0)
        errs.append(abs(count - want) / want if want else 1.0)
        hits += want >= tenth and want > 0
    return statistics.fmean(errs), hits / min(10, max(1, len(exact)))


def time_query(system, path, params, runs):
    system.query(path, params)  # warm-up, not counted (both systems read from disk first)
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = system.query(path, params)
        times.append((time.perf_counter() - t0) * 1000)
        if result.get("status") != "success":
            raise SystemExit(f"peers: query failed: {result}")
    return statistics.median(times), result


def run_questions(system, is_es, qs, start_s, end_s, exact, runs):
    out = {}
    minutes = list(range(start_s + 60, end_s + 1, 60))
    for name, _, es_q, vm_q, kind in qs:
        q = es_q if is_es else vm_q
        if kind == "range":
            # edgesketch's points sit on the minute; VictoriaMetrics' 1 ms before it (above).
            off = 0 if is_es else 0.001
            params = {"query": q, "start": f"{start_s + 60 - off:.3f}",
                      "end": f"{end_s - off:.3f}", "step": "60"}
            ms, result = time_query(system, "/api/v1/query_range", params, runs)
            got = {round(t + off): v for t, v in range_points(result).items()}
            mean_err, max_err = range_error(got, exact[name], minutes)
            out[name] = {"median_ms": ms, "mean_rel_error": mean_err, "max_rel_error": max_err,
                         "points": len(got)}
        else:
            t = end_s if is_es else end_s - 0.001
            ms, result = time_query(system, "/api/v1/query", {"query": q, "time": f"{t:.3f}"},
                                    runs)
            mean_err, share = topk_error(topk_points(result, is_es), exact[name])
            out[name] = {"median_ms": ms, "mean_rel_error": mean_err, "top10_share": share}
    return out


def es_total(es, end_s, dur_s, metrics):
    total = 0
    for m in metrics:
        r = es.query("/api/v1/query", {"query": f"sum({m}_count[{dur_s + 3600}s])",
                                       "time": str(end_s + 1800)})
        res = r["data"]["result"]
        total += int(float(res[0]["value"][1])) if res else 0
    return total


def vm_total(vm, end_s, dur_s):
    r = vm.query("/api/v1/query", {"query": f'sum(count_over_time({{__name__!=""}}[{dur_s}s]))',
                                   "time": f"{end_s - 0.001:.3f}"})
    res = r["data"]["result"]
    return int(float(res[0]["value"][1])) if res else 0


def bench_fleet(fleet, bin_dir, work):
    dur = fleet_duration(fleet)
    now = int(time.time())
    start_s = (now - 2 * 3600) // 3600 * 3600  # a whole hour, within the agent's max_past
    end_s = start_s + dur
    metrics = ["temperature", "humidity", "pressure", "vibration"] + (
        ["event"] if fleet == "standard" else [])
    res = {"fleet": fleet, "duration_s": dur, "start_s": start_s}
    log(f"[{fleet}] edgesketch: sim -> mosquitto -> agent -> collector")
    es = Edgesketch(bin_dir, work, dur)
    CLEANUP.append(es.stop)
    es.start()
    t0 = time.perf_counter()
    record, summary = run_sim(bin_dir, fleet, start_s, work, es.broker_port)
    sent = summary["readings_sent"]
    sim_s = time.perf_counter() - t0
    wait_for("the collector to hold every reading",
             lambda: es_total(es, end_s, dur, metrics) >= sent, 3600)
    es_load_s = time.perf_counter() - t0
    es_collector_hwm = es.collector.hwm_mb()
    es_agent_hwm = es.agent.hwm_mb()
    es.restart_collector()  # a clean stop flushes the memtable into parts
    es_bytes = dir_bytes(es.data_dir)
    log(f"[{fleet}] edgesketch: {sent} readings in {es_load_s:.1f} s "
        f"(simulator {sim_s:.1f} s), {es_bytes / sent:.3f} B/reading")

    log(f"[{fleet}] exact answers from the record")
    exact = exact_answers(bin_dir, record, start_s, dur)
    qs = questions(start_s, end_s, dur)
    es_q = run_questions(es, True, qs, start_s, end_s, exact, ARGS.runs)
    es_query_hwm = es.collector.hwm_mb()
    es.stop()

    log(f"[{fleet}] VictoriaMetrics: edgesketch-sim export -> /api/v1/import")
    jsonl = os.path.join(work, "readings.jsonl")
    exp = subprocess.run([os.path.join(bin_dir, "edgesketch-sim"), "export", "--record", record,
                          "--output", jsonl], check=True, capture_output=True, text=True)
    numeric = int(exp.stderr.split(" readings in ")[0].rsplit(" ", 1)[-1])
    vm = Victoria(work)
    CLEANUP.append(vm.stop)
    vm.start()
    t0 = time.perf_counter()
    vm.import_file(jsonl)
    vm.get("/internal/force_flush")
    wait_for("VictoriaMetrics to hold every reading", lambda: vm_total(vm, end_s, dur) >= numeric,
             3600)
    vm_load_s = time.perf_counter() - t0
    vm.get(f"/internal/force_merge?partition_prefix={time.strftime('%Y_%m', time.gmtime(start_s))}")
    last, stable = -1, 0
    while stable < 3:  # merges run in the background: wait until the size holds for 3 s
        time.sleep(1)
        size = dir_bytes(vm.data)
        stable = stable + 1 if size == last else 0
        last = size
    vm_hwm = vm.daemon.hwm_mb()
    vm.stop()
    vm_bytes = dir_bytes(vm.data, skip=("cache", "tmp"))  # caches are rebuilt from the data
    vm.start()
    log(f"[{fleet}] VictoriaMetrics: {numeric} readings in {vm_load_s:.1f} s, "
        f"{vm_bytes / numeric:.3f} B/reading")
    vm_q = run_questions(vm, False, qs, start_s, end_s, exact, ARGS.runs)
    vm_query_hwm = vm.daemon.hwm_mb()
    vm.stop()

    res["edgesketch"] = {
        "readings": sent, "load_s": es_load_s, "simulator_s": sim_s,
        "bytes_on_disk": es_bytes, "bytes_per_reading": es_bytes / sent,
        "collector_rss_load_mb": es_collector_hwm, "agent_rss_load_mb": es_agent_hwm,
        "collector_rss_queries_mb": es_query_hwm, "queries": es_q}
    res["victoriametrics"] = {
        "readings": numeric, "load_s": vm_load_s, "bytes_on_disk": vm_bytes,
        "bytes_per_reading": vm_bytes / numeric, "rss_load_mb": vm_hwm,
        "rss_queries_mb": vm_query_hwm, "queries": vm_q}
    res["questions"] = [{"name": n, "what": w, "edgesketch": e, "victoriametrics": v}
                        for n, w, e, v, _ in qs]
    return res


def report(results):
    lines = []
    for r in results:
        es, vm = r["edgesketch"], r["victoriametrics"]
        lines.append(f"\n{r['fleet']} fleet, {r['duration_s']} s of readings")
        lines.append(f"{'':34} {'edgesketch':>14} {'VictoriaMetrics':>16} {'ratio es/vm':>12}")

        def row(name, a, b, fmt="{:.3f}"):
            ratio = a / b if b else float("nan")
            lines.append(f"{name:34} {fmt.format(a):>14} {fmt.format(b):>16} {ratio:>12.2f}")

        row("readings", es["readings"], vm["readings"], "{:,}")
        row("load time, s", es["load_s"], vm["load_s"], "{:.1f}")
        row("bytes per reading on disk", es["bytes_per_reading"], vm["bytes_per_reading"])
        row("RSS at load, MB (collector / VM)", es["collector_rss_load_mb"], vm["rss_load_mb"],
            "{:.0f}")
        row("RSS after queries, MB", es["collector_rss_queries_mb"], vm["rss_queries_mb"],
            "{:.0f}")
        for q in r["questions"]:
            a, b = es["queries"][q["name"]], vm["queries"][q["name"]]
            row(f"{q['name']}: median ms", a["median_ms"], b["median_ms"], "{:.2f}")
            row(f"{q['name']}: mean rel. error", a["mean_rel_error"], b["mean_rel_error"],
                "{:.5f}")
            if "top10_share" in a:
                row(f"{q['name']}: share in exact top 10", a["top10_share"], b["top10_share"],
                    "{:.2f}")
        lines.append(f"(edgesketch's agent peaked at {es['agent_rss_load_mb']:.0f} MB; its load "
                     f"time includes the simulator, {es['simulator_s']:.1f} s, and MQTT)")
    return "\n".join(lines)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True, help="directory holding the edgesketch binaries")
    p.add_argument("--fleet", choices=["lowrate", "standard", "both"], default="both")
    p.add_argument("--duration", type=int, dest="duration_s", default=0,
                   help="seconds of readings (default: lowrate 3600, standard 300)")
    p.add_argument("--runs", type=int, default=7, help="timed runs of each query (median)")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    ARGS = p.parse_args()
    fleets = ["lowrate", "standard"] if ARGS.fleet == "both" else [ARGS.fleet]
    results = []
    for fleet in fleets:
        work = tempfile.mkdtemp(prefix=f"edgesketch-peers-{fleet}.")
        try:
            results.append(bench_fleet(fleet, ARGS.bin, work))
        finally:
            while CLEANUP:
                CLEANUP.pop()()
            if ARGS.keep:
                log(f"work directory kept: {work}")
            else:
                subprocess.run(["rm", "-rf", work], check=False)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} cores, {platform.platform()}",
            "load_average": os.getloadavg(),
            "victoria_metrics": subprocess.run(["victoria-metrics", "--version"],
                                               capture_output=True, text=True).stdout.strip()}
    print(f"edgesketch vs VictoriaMetrics, {meta['date']}, {meta['machine']}, load average "
          f"{meta['load_average'][1]:.1f} (5 min)")
    print(report(results))
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
