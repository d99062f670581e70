"""Shared by the benchmark scripts: which machine this is, starting and stopping ewxd, and writing one section of
docs/benchmarks.md."""
import os
import platform
import re
import subprocess
import sys
import time


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def write_section(docs, name, body):
    """Replaces the section between <!-- NAME:begin --> and <!-- NAME:end --> (appending it if new), so each
    benchmark rewrites its own results and leaves the rest of the page, notes included, as it was."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{body.rstrip()}\n{end}"
    path = os.path.join(docs, "benchmarks.md")
    text = open(path).read() if os.path.exists(path) else (
        "# Benchmarks\n\nEvery figure here was produced by the script named in its section, on the machine it names.\n")
    if begin in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    open(path, "w").write(text)


def start_ewxd(bin_dir, data, extra, who, metrics=False):
    """Starts ewxd on a free loopback port with its data in `data` (its log in data/ewxd.log); returns the
    process and the port it listens on, read from its `event=started` line. With `metrics`, /metrics is served
    on another free port and the pair (port, metrics port) is returned instead of the port."""
    log = open(os.path.join(data, "ewxd.log"), "w")
    daemon = subprocess.Popen([os.path.join(bin_dir, "ewxd"), "--data-dir", data, "--listen", "127.0.0.1:0",
                               "--metrics", "127.0.0.1:0" if metrics else "off"] + extra,
                              stdout=log, stderr=subprocess.STDOUT)
    found = started(daemon, os.path.join(data, "ewxd.log"), who)
    port = int(found.group(1))
    return daemon, ((port, int(found.group(2))) if metrics else port)


def started(process, log_path, who):
    """Waits for the `event=started listen=127.0.0.1:PORT metrics=...` line that ewxd (and
    ewx-bench-gateway-floor) logs once listening; returns the match (group 1 the port, 2 the metrics port)."""
    for _ in range(600):
        text = open(log_path).read()
        found = re.search(r"event=started listen=127\.0\.0\.1:(\d+) metrics=(?:127\.0\.0\.1:(\d+))?", text)
        if found:
            return found
        if process.poll() is not None:
            sys.exit(f"{who}: {os.path.basename(process.args[0])} exited with {process.returncode}:\n{text}")
        time.sleep(0.05)
    sys.exit(f"{who}: {os.path.basename(process.args[0])} did not start")


def started_port(process, log_path, who):
    """The port of a program started as start_ewxd starts ewxd."""
    return int(started(process, log_path, who).group(1))


def scrape_histogram(port, name):
    """The buckets of one histogram from ewxd's /metrics: a list of (upper bound in seconds, cumulative count)."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    buckets = []
    for bound, count in re.findall(name + r'_bucket\{le="([^"]+)"\} (\d+)', text):
        buckets.append((float("inf") if bound == "+Inf" else float(bound), int(count)))
    return buckets


def stop_ewxd(daemon, data, who):
    """SIGTERM, and a clean exit within 10 minutes (a batch in flight is recorded first); returns ewxd's log."""
    daemon.terminate()
    if daemon.wait(timeout=600) != 0:
        sys.exit(f"{who}: ewxd did not stop cleanly (exit {daemon.returncode})")
    return open(os.path.join(data, "ewxd.log")).read()
