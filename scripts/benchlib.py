"""Shared by the benchmark scripts: which machine this is, and writing one section of docs/benchmarks.md."""
import os
import platform


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
