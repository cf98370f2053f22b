#!/usr/bin/env python3
"""clang-tidy (Debian 12's clang-tidy 14) with the checked-in .clang-tidy over the project's own
sources: src/**/*.cpp and components/**/*.cpp but the *_test.cpp files, each with its command from
the build's compile_commands.json. Fails on any finding (warning or error), printing each one once
with its path in the source tree.

usage: tidy.py BUILD_DIR

A full run costs about 25 minutes of CPU (the WebSocket and HTTP files, on Asio and Beast, take
20-40 s each), so a file that passed is not checked again while nothing it is checked with
changed: its key is the clang-tidy version, .clang-tidy, this script, the file's compile command
and the path and content of every file it includes (the compiler's -M list, which takes a fraction
of a second a file). A pass leaves an empty file named by the key under WEIR_TIDY_CACHE (default
${XDG_CACHE_HOME:-~/.cache}/weir-tidy, beside ccache's, so that a fresh clone finds it); entries
not used for 30 days are removed. WEIR_TIDY_CACHE=off checks every file. WEIR_TIDY_JOBS (default:
the CPUs this process may use) sets how many clang-tidy run at once; they run at nice 10 so that
the timing-sensitive tests meson runs beside this one keep the CPU they need.
"""
import concurrent.futures
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time

SOURCE_ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CACHE_DAYS = 30
# The start of a finding: path:line:col: severity: message [check]
FINDING = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<sev>warning|error): ")
COMPILER_WRAPPERS = {"ccache", "sccache", "distcc"}


def fail(message):
    print("FAIL " + message)
    sys.exit(1)


def project_sources():
    """The .cpp files under src/ and components/, but the tests, relative to SOURCE_ROOT."""
    try:
        out = subprocess.run(["git", "ls-files", "src/*.cpp", "components/*.cpp"], cwd=SOURCE_ROOT,
                             check=True, capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = []
    if not out:  # not a git checkout (a release tarball)
        for top in ("src", "components"):
            for d, _, names in os.walk(os.path.join(SOURCE_ROOT, top)):
                out += [os.path.relpath(os.path.join(d, n), SOURCE_ROOT) for n in names if n.endswith(".cpp")]
    return sorted(f for f in out if not f.endswith("_test.cpp"))


def compile_arguments(entry):
    if "arguments" in entry:
        return list(entry["arguments"])
    return shlex.split(entry["command"])


def dependency_command(args):
    """The compile command turned into one that prints the files the source includes (-M)."""
    if os.path.basename(args[0]) in COMPILER_WRAPPERS:
        args = args[1:]
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("-o", "-MF", "-MQ", "-MT"):
            skip = True
        elif a in ("-c", "-MD", "-MMD") or a.startswith("-fdiagnostics-color"):
            pass
        else:
            out.append(a)
    return out + ["-M"]


class Cache:
    def __init__(self, identity):
        self.identity = identity
        self.dir = None
        self.hashes = {}
        self.lock = threading.Lock()
        setting = os.environ.get("WEIR_TIDY_CACHE", "")
        if setting == "off":
            return
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = setting or os.path.join(base, "weir-tidy")
        try:
            os.makedirs(path, exist_ok=True)
            self.dir = path
        except OSError as e:
            print(f"note: no cache ({path}: {e.strerror}); every file is checked")

    def content_hash(self, path):
        with self.lock:
            h = self.hashes.get(path)
        if h is None:
            with open(path, "rb") as f:
                h = hashlib.sha256(f.read()).hexdigest()
            with self.lock:
                self.hashes[path] = h
        return h

    def key(self, rel, entry, args):
        """The file's key, or None when its includes cannot be listed (it is checked then)."""
        if self.dir is None:
            return None
        try:
            deps = subprocess.run(dependency_command(args), cwd=entry["directory"], check=True,
                                  capture_output=True, text=True).stdout
            # make syntax: "target: dep dep \<newline> dep ..."
            paths = deps.replace("\\\n", " ").split(":", 1)[1].split()
            h = hashlib.sha256()
            h.update(self.identity)
            h.update(rel.encode() + b"\0" + "\0".join(args).encode() + b"\0")
            for p in paths:
                h.update(p.encode() + b"\0" + self.content_hash(os.path.join(entry["directory"], p)).encode())
            return h.hexdigest()
        except (OSError, IndexError, subprocess.CalledProcessError):
            return None

    def marker(self, key):
        return os.path.join(self.dir, key[:2], key)

    def hit(self, key):
        if key is None:
            return False
        try:
            os.utime(self.marker(key))
            return True
        except OSError:
            return False

    def store(self, key):
        if key is None:
            return
        try:
            os.makedirs(os.path.dirname(self.marker(key)), exist_ok=True)
            open(self.marker(key), "w").close()
        except OSError:
            pass

    def prune(self):
        if self.dir is None:
            return
        old = time.time() - CACHE_DAYS * 86400
        for d, _, names in os.walk(self.dir):
            for n in names:
                try:
                    if os.path.getmtime(os.path.join(d, n)) < old:
                        os.remove(os.path.join(d, n))
                except OSError:
                    pass


def findings(output, directory):
    """The findings in clang-tidy's output, each as (first line, following lines), the path made
    relative to the source tree."""
    blocks = []
    for line in output.splitlines():
        m = FINDING.match(line)
        if m:
            path = os.path.normpath(os.path.join(directory, m["path"]))
            if path.startswith(SOURCE_ROOT + os.sep):
                path = os.path.relpath(path, SOURCE_ROOT)
            blocks.append([path + line[m.end("path"):], []])
        elif blocks and not re.match(r"^\d+ (warning|error)s? (generated|treated as error)", line):
            blocks[-1][1].append(line)
    return blocks


def main():
    if len(sys.argv) != 2:
        fail("usage: tidy.py BUILD_DIR")
    build_dir = os.path.realpath(sys.argv[1])
    tidy = shutil.which("clang-tidy") or shutil.which("clang-tidy-14")
    if tidy is None:
        fail("clang-tidy is not installed (packaging/dev.sh installs it: apt install clang-tidy)")
    db_path = os.path.join(build_dir, "compile_commands.json")
    try:
        with open(db_path) as f:
            db = {os.path.normpath(os.path.join(e["directory"], e["file"])): e for e in json.load(f)}
    except (OSError, ValueError) as e:
        fail(f"cannot read {db_path}: {e}")
    version = subprocess.run([tidy, "--version"], capture_output=True, text=True).stdout
    with open(os.path.join(SOURCE_ROOT, ".clang-tidy"), "rb") as f:
        config = f.read()
    with open(os.path.abspath(__file__), "rb") as f:
        script = f.read()
    cache = Cache(hashlib.sha256(version.encode() + b"\0" + config + b"\0" + script).digest())

    files = project_sources()
    missing = [f for f in files if os.path.join(SOURCE_ROOT, f) not in db]
    if missing:
        fail("not in compile_commands.json (not built by meson?): " + " ".join(missing))

    def check(rel):
        entry = db[os.path.join(SOURCE_ROOT, rel)]
        key = cache.key(rel, entry, compile_arguments(entry))
        if cache.hit(key):
            return rel, True, 0, []
        started = time.monotonic()
        run = subprocess.run(["nice", "-n", "10", tidy, "-p", build_dir, "--quiet",
                              os.path.join(SOURCE_ROOT, rel)], capture_output=True, text=True)
        output = run.stdout + run.stderr
        found = findings(output, entry["directory"])
        if run.returncode != 0 and not found:
            found = [[f"{rel}: clang-tidy exited with {run.returncode}", output.splitlines()]]
        if not found:
            cache.store(key)
        return rel, False, time.monotonic() - started, found

    jobs = int(os.environ.get("WEIR_TIDY_JOBS") or len(os.sched_getaffinity(0)))
    started = time.monotonic()
    cached, seen, failed, slow = 0, {}, set(), []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for rel, hit, seconds, found in pool.map(check, files):
            cached += hit
            if not hit:
                slow.append((seconds, rel))
            for first, rest in found:
                failed.add(rel)
                seen.setdefault(first, rest)  # a header's finding comes once per file including it
    cache.prune()
    elapsed = time.monotonic() - started

    checked = len(files) - cached
    summary = f"{len(files)} files ({cached} unchanged since they passed, {checked} checked) in {elapsed:.0f} s"
    if seen:
        for first, rest in seen.items():
            print(first)
            for line in rest:
                print(line)
        print(f"FAIL clang-tidy: {len(seen)} findings, from {len(failed)} of {summary}")
        print("fix them; where one is a deliberate choice, say why beside it: "
              "// NOLINT(check-name): reason")
        sys.exit(1)
    slowest = ", ".join(f"{rel} {s:.0f} s" for s, rel in sorted(slow, reverse=True)[:3])
    print(f"ok: {summary}" + (f"; slowest: {slowest}" if slowest else ""))


if __name__ == "__main__":
    main()
