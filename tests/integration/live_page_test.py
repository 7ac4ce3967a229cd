#!/usr/bin/env python3
"""The collector's live page as a person would use it: scripts/demo.sh runs the fleet in real
time, headless Chromium opens the page with the URL the demo prints (which logs in with the
token), waits for live updates, checks that the charts hold data points and that a new window
arrives over the stream (GET /api/v1/stream) within window length plus lateness, and saves a
screenshot into the output folder.

  live_page_test.py --source SRC --build BUILD --chromium PATH --out DIR

Chromium is driven over its DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages
ending in NUL on file descriptors 3 and 4), so nothing but the Python standard library is needed.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# The demo agent's windows (rule default) and [window] allowed_lateness.
WINDOW_S = 10
LATENESS_S = 2
# Panels that must hold points once data flows (the outbox panel needs the agent's own metrics,
# the heatmap the histograms of vibration_by_line).
PANELS = ["rate", "quantiles", "distinct", "errors", "outbox", "heatmap"]


class Browser:
    """Headless Chromium with one page, driven over the DevTools pipe."""

    def __init__(self, chromium, profile, log):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            # Out of the way first, so that neither end is overwritten by the other's dup2.
            r = os.dup2(to_chrome_r, 100)
            w = os.dup2(from_chrome_w, 101)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "--window-size=1400,1700", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=child_fds,
            pass_fds=(3, 4))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1400, "height": 1700, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method, params=None, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply["result"]
            if time.time() > deadline:
                raise RuntimeError(f"{method}: no answer from Chromium within {timeout} s")
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError(f"{method}: Chromium closed its pipe")
            self.buf += chunk

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def fail(message, log_dir):
    print(f"FAIL: {message}", file=sys.stderr)
    for name in ("demo.log", "chromium.log"):
        path = os.path.join(log_dir, name)
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                print(f"--- {name} (tail)\n" + f.read()[-4000:], file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--screenshot-after", type=float, default=0,
                    help="seconds more of live updates before the screenshot (docs/live-page.png)")
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)

    env = dict(os.environ, ES_DEMO_PREBUILT="1", BUILD_DIR=args.build)
    demo_log = open(os.path.join(args.out, "demo.log"), "w")
    duration = 150 + int(args.screenshot_after)
    demo = subprocess.Popen([os.path.join(args.source, "scripts", "demo.sh"), "--duration",
                             f"{duration}s",
                             "--devices", "20"], stdin=subprocess.DEVNULL, stdout=demo_log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    browser = None
    profile = tempfile.mkdtemp(prefix="edgesketch-chromium.")
    try:
        # The demo prints the page's URL (with the token that logs in) before its terminal view.
        url = None
        deadline = time.time() + 60
        while url is None and time.time() < deadline and demo.poll() is None:
            with open(os.path.join(args.out, "demo.log")) as f:
                m = re.search(r"(http://127\.0\.0\.1:\d+/#token=\S+)", f.read())
            url = m.group(1) if m else None
            time.sleep(0.2)
        if url is None:
            fail("the demo printed no live page URL", args.out)

        browser = Browser(args.chromium, profile, open(os.path.join(args.out, "chromium.log"), "w"))
        browser.call("Page.enable")
        browser.call("Page.navigate", {"url": url})

        def probe():
            return json.loads(browser.evaluate(
                "JSON.stringify(window.edgesketchProbe || null)") or "null")

        # Live updates with points in every panel. The fleet starts now, so the first windows
        # reach the collector a window length and the lateness after the demo's start.
        state = None
        deadline = time.time() + 120
        while time.time() < deadline:
            state = probe()
            if state and state["events"] >= 2 and all(
                    state["points"].get(p, 0) > 0 for p in PANELS):
                break
            time.sleep(0.5)
        else:
            fail(f"the charts did not fill: {state}", args.out)
        if state["errors"]:
            fail(f"queries of the page failed: {state['errors']}", args.out)
        # The address bar no longer holds the token.
        if "token" in browser.evaluate("location.href"):
            fail("the token stayed in the page's address", args.out)

        # A new window arrives over the stream within window length + lateness of its end.
        seen = state["events"]
        last_end = state["lastEventEndMs"]
        deadline = time.time() + 3 * WINDOW_S
        while time.time() < deadline:
            state = probe()
            if state["events"] > seen:
                break
            time.sleep(0.2)
        else:
            fail(f"no new event within {3 * WINDOW_S} s: {state}", args.out)
        if state["lastEventEndMs"] <= last_end:
            fail(f"the new event holds no new point: {state}", args.out)
        delay_s = (state["lastEventAtMs"] - state["lastEventEndMs"]) / 1000
        print(f"event {state['events']}: the point of {state['lastEventEndMs']} ms arrived "
              f"{delay_s:.2f} s after its time; panels {state['points']}")
        if delay_s > WINDOW_S + LATENESS_S:
            fail(f"the point arrived {delay_s:.2f} s after its time, more than the window "
                 f"({WINDOW_S} s) plus the lateness ({LATENESS_S} s)", args.out)

        # Charts drawn (Chart.js holds the points; the query box's chart is empty until a query
        # is typed) and a screenshot of the page.
        drawn = browser.evaluate(
            "Object.values(Chart.instances)"
            ".filter(c => c.canvas.closest('.panel').dataset.panel !== 'custom')"
            ".map(c => c.data.datasets.reduce((n, d) => n + d.data.length, 0))")
        if len(drawn) < 5 or min(drawn) == 0:
            fail(f"Chart.js charts without points: {drawn}", args.out)
        time.sleep(args.screenshot_after)
        shot = os.path.join(args.out, "live-page.png")
        browser.screenshot(shot)
        print(f"screenshot: {shot} ({os.path.getsize(shot)} bytes)")
    finally:
        if browser:
            browser.close()
        shutil.rmtree(profile, ignore_errors=True)
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGTERM)
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    print("live page: charts filled and live over the stream")


if __name__ == "__main__":
    main()
