#!/usr/bin/env python3
"""Fuzz campaign driver for `mhs inspect`: structure-aware mutants of the shared test
slides, each run once under a timeout, classified as ok (exit 0 or 4), CRASH (killed by
a signal), HANG (timeout) or UNEXPECTED (any other exit). Failing mutants are saved with
a .txt report beside them. Standard library only (Python 3.11).

    python3 Fuzz/fuzz.py --mhs .build/debug/mhs --count 2000

Exit status: 1 when any mutant crashed, hung or exited unexpectedly, else 0.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutate as M  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLIDE_EXTS = (".svs", ".tif", ".tiff", ".dcm", ".zip")
MAX_SEED_BYTES = 4_500_000
# BigTIFF / byte-order conversions made of every readable classic TIFF seed:
# (name suffix, BigTIFF, little endian, promote offsets/counts to LONG8)
CONVERSIONS = [("bigtiff", True, True, True), ("bigtiff-be", True, False, False), ("tiff-be", False, False, False)]
CLASSES = ("ok0", "ok4", "CRASH", "HANG", "UNEXPECTED")


class Seed:
    def __init__(self, name: str, files: dict[str, M.Target], folder: bool, weight: float = 1.0):
        self.name = name              # e.g. "CMU-1-Small-Region.svs", "dicom-boxes/", "bigtiff/openslide-small.svs"
        self.files = files            # file name -> Target (one entry for a file seed)
        self.folder = folder
        self.weight = weight
        self.order = sorted(files)

    @property
    def basename(self) -> str:
        return self.name.rstrip("/").rsplit("/", 1)[-1]


def find_seeds(slides: str) -> list[Seed]:
    seeds = []
    for root, dirs, files in os.walk(slides):
        dirs.sort()
        rel = os.path.relpath(root, slides)
        dcms = [f for f in files if f.lower().endswith(".dcm")]
        if rel != "." and dcms and len(dcms) == len([f for f in files if f.lower().endswith(SLIDE_EXTS)]):
            targets = {f: M.Target(open(os.path.join(root, f), "rb").read()) for f in sorted(dcms)}
            if sum(len(t.data) for t in targets.values()) <= 4 * MAX_SEED_BYTES:
                seeds.append(Seed(rel + "/", targets, folder=True))
            continue
        for f in sorted(files):
            p = os.path.join(root, f)
            if not f.lower().endswith(SLIDE_EXTS) or os.path.getsize(p) > MAX_SEED_BYTES:
                continue
            name = f if rel == "." else os.path.join(rel, f)
            data = open(p, "rb").read()
            # an empty or tiny broken file only gets generic mutations: sample it less
            weight = 0.25 if len(data) < 64 else 1.0
            seeds.append(Seed(name, {f: M.Target(data)}, folder=False, weight=weight))
    return sorted(seeds, key=lambda s: s.name)


class Runner:
    def __init__(self, mhs: str, timeout: float, mem_gb: float):
        self.mhs = mhs
        self.timeout = timeout
        self.mem_gb = mem_gb
        try:
            helptext = subprocess.run([mhs, "inspect", "--help"], capture_output=True, text=True, timeout=60)
            self.read = "--read" in (helptext.stdout + helptext.stderr)
        except (OSError, subprocess.TimeoutExpired) as e:
            sys.exit(f"fuzz: cannot run {mhs}: {e}")
        self.env = dict(os.environ)
        if self.read:
            self.env["MHS_PROBE_TIMEOUT"] = "10s"

    def argv(self, path: str) -> list[str]:
        return [self.mhs, "inspect"] + (["--read"] if self.read else []) + ["--json", path]

    def shown(self, path: str) -> str:
        return ("MHS_PROBE_TIMEOUT=10s " if self.read else "") + " ".join(self.argv(path))

    def run(self, path: str) -> tuple[str, int | None, bytes, bytes, float]:
        """(class, return code or None on timeout, stdout, stderr, seconds)."""
        argv = self.argv(path)
        if self.mem_gb > 0:
            # an address-space limit, so that a huge allocation fails instead of taking the machine
            argv = ["/bin/sh", "-c", f"ulimit -v {int(self.mem_gb * 1024 * 1024)} 2>/dev/null; exec \"$@\"", "sh"] + argv
        start = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=self.env, start_new_session=True)
        try:
            out, err = p.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = p.communicate()
            return "HANG", None, out, err, time.monotonic() - start
        took = time.monotonic() - start
        rc = p.returncode
        if rc in (0, 4):
            return ("ok0" if rc == 0 else "ok4"), rc, out, err, took
        if rc < 0:  # the shell wrapper execs mhs, so a signal still shows as a negative code
            return "CRASH", rc, out, err, took
        return "UNEXPECTED", rc, out, err, took


def signame(rc: int | None) -> str:
    if rc is None:
        return "timeout"
    if rc < 0:
        try:
            return f"signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"signal {-rc}"
    return f"exit {rc}"


FATAL_RE = re.compile(r"(?:^|\n)([^\n]*Fatal error[^\n]*)")
CRASHED_RE = re.compile(r"\*\*\* Program crashed: (.*?) \*\*\*")
THREAD_RE = re.compile(r"^Thread \d+ .*crashed:\s*$", re.M)
FRAME_RE = re.compile(r"^\s*\d+\s+(?:\[\w+\]\s+)?(0x[0-9a-f]+)\s+(.+?)\s+in\s+(\S+)(?:\s+at\s+(\S+))?\s*$")
IMAGE_RE = re.compile(r"^(0x[0-9a-f]+)\S*\s+\S+\s+(\S+)\s+/", re.M)


def crashed_thread(text: str) -> list[str]:
    """The frames of the crashed thread in Swift's backtrace, as printed."""
    m = THREAD_RE.search(text)
    if not m:
        return []
    lines = []
    for ln in text[m.end():].splitlines():
        if ln.startswith(("Thread ", "Registers:")):
            break
        if ln.strip():
            lines.append(ln.rstrip())
    return lines[:40]


def signature(cls: str, rc: int | None, err: bytes, family: str) -> str:
    """A deduplication key for a failure: Swift's fatal error (with file:line), else the
    crash kind and the crashed thread's first frame (module+offset when unsymbolised) and
    first frame in the project's sources, else the last line of stderr (numbers blanked)."""
    text = err.decode("utf-8", "replace")
    if cls == "HANG":
        return f"HANG ({family})"
    m = FATAL_RE.search(text)
    if m:
        line = re.sub(r"^.*?(\S+\.swift:\d+: Fatal error)", r"\1", m.group(1).strip())
        own = own_frame(text)
        return f"{cls} {signame(rc)}: {line[:200]}" + (f"; {own}" if own and own.split(" at ")[-1] not in line else "")
    c = CRASHED_RE.search(text)
    if c:
        kind = re.sub(r" at 0x[0-9a-f]+", "", c.group(1))
        bases = {name: int(addr, 16) for addr, name in IMAGE_RE.findall(text)}
        first = own = None
        for ln in crashed_thread(text):
            fm = FRAME_RE.match(ln)
            if not fm:
                continue
            addr, fn, module, at = fm.group(1), re.sub(r" \+ \d+$", "", fm.group(2)), fm.group(3), fm.group(4) or ""
            here = fn if fn != "<unknown>" else (f"{module}+{int(addr, 16) - bases[module]:#x}" if module in bases else module)
            if first is None:
                first = here
            if "/Sources/" in at:
                own = f"{fn[:100]} at {src_loc(at)}"
                break
        return f"{cls} {signame(rc)}: {kind}; {first}" + (f"; {own}" if own and own != first else "")
    last = [ln for ln in text.splitlines() if ln.strip()]
    tail = re.sub(r"/\S*/(\S+)", r"\1", last[-1]) if last else "(no stderr)"
    tail = re.sub(r"0x[0-9a-fA-F]+|\d+", "N", tail)[:160]
    return f"{cls} {signame(rc)}: {tail}"


def src_loc(at: str) -> str:
    """'/work/main/Sources/X/Y.swift:17:51' -> 'X/Y.swift:17' (the column dropped)."""
    return re.sub(r"(:\d+):\d+$", r"\1", at.split("/Sources/", 1)[1])


def own_frame(text: str) -> str | None:
    """The crashed thread's first frame in the project's sources: 'function at file:line'."""
    for ln in crashed_thread(text):
        fm = FRAME_RE.match(ln)
        if fm and "/Sources/" in (fm.group(4) or ""):
            return f"{re.sub(r' [+] [0-9]+$', '', fm.group(2))[:100]} at {src_loc(fm.group(4))}"
    return None


GDB = shutil.which("gdb")
DEMANGLE = shutil.which("swift-demangle") or ("/opt/swift/usr/bin/swift-demangle" if os.path.exists("/opt/swift/usr/bin/swift-demangle") else None)


def gdb_backtrace(runner: "Runner", path: str) -> list[str]:
    """The crashing thread's frames from gdb (frames of unsymbolised libraries included),
    Swift names demangled; [] when gdb is missing or the run did not crash under it."""
    if not GDB:
        return []
    argv = [GDB, "-batch", "-nx", "-ex", "run", "-ex", "bt 40", "--args"] + runner.argv(path)
    if runner.mem_gb > 0:
        argv = ["/bin/sh", "-c", f"ulimit -v {int(runner.mem_gb * 1024 * 1024)} 2>/dev/null; exec \"$@\"", "sh"] + argv
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=240,
                           env=dict(runner.env, SWIFT_BACKTRACE="enable=no"), start_new_session=True)
    except subprocess.TimeoutExpired:
        return ["(gdb timed out)"]
    frames = []
    for ln in p.stdout.decode("utf-8", "replace").splitlines():
        m = re.match(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(.*)$", ln)
        if not m:
            continue
        rest = m.group(2)
        func = rest.split(" (", 1)[0]
        loc = ""
        if " at " in rest:
            loc = " at " + rest.rsplit(" at ", 1)[1].replace(REPO + "/", "")
        elif " from " in rest:
            loc = " from " + os.path.basename(rest.rsplit(" from ", 1)[1])
        frames.append(f"#{m.group(1)} {func}{loc}")
    if frames and DEMANGLE:
        try:
            d = subprocess.run([DEMANGLE, "--simplified"], input="\n".join(frames), capture_output=True, text=True, timeout=30)
            if d.returncode == 0 and d.stdout.strip():
                frames = d.stdout.rstrip("\n").split("\n")
        except (OSError, subprocess.TimeoutExpired):
            pass
    return frames[:16]


def inspect_facts(runner: Runner, path: str) -> tuple | None:
    cls, rc, out, err, _ = runner.run(path)
    if rc != 0:
        return None
    try:
        j = json.loads(out)
        return j["width"], j["height"], [(lv["width"], lv["height"]) for lv in j["levels"]]
    except (ValueError, KeyError, TypeError):
        return None


def make_conversions(seeds: list[Seed], runner: Runner, tmp: str) -> list[Seed]:
    """BigTIFF (and big-endian) versions of every readable classic TIFF seed, kept only when
    `mhs inspect` reports the same width, height and levels as for the original."""
    made = []
    for s in seeds:
        if s.folder or s.name.startswith("bad/"):
            continue
        t = s.files[s.order[0]]
        if t.kind != "tiff":
            continue
        path = os.path.join(tmp, s.basename)
        with open(path, "wb") as f:
            f.write(t.data)
        want = inspect_facts(runner, path)
        if want is None:
            print(f"fuzz: {s.name}: not readable, no BigTIFF made of it")
            continue
        for suffix, big, le, promote in CONVERSIONS:
            try:
                data = M.convert_tiff(t.data, big=big, le=le, promote=promote)
            except ValueError as e:
                print(f"fuzz: {s.name}: {suffix} conversion failed: {e}")
                continue
            with open(path, "wb") as f:
                f.write(data)
            got = inspect_facts(runner, path)
            if got == want:
                made.append(Seed(f"{suffix}/{s.basename}", {s.basename: M.Target(data)}, folder=False, weight=0.5))
            else:
                print(f"fuzz: {s.name}: {suffix} conversion NOT kept: inspect says {got}, original {want}")
        os.unlink(path)
    return made


class Campaign:
    def __init__(self, args, seeds: list[Seed], runner: Runner, tmp: str):
        self.args, self.seeds, self.runner, self.tmp = args, seeds, runner, tmp
        self.lock = threading.Lock()
        self.next = args.start
        self.end = args.start + args.count
        self.done = 0
        self.totals = collections.Counter()
        self.by_seed: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.by_family: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.signatures: dict[str, list] = {}
        self.bad_json = []
        self.gdb_done: set[str] = set()
        self.contained: collections.Counter[str] = collections.Counter()
        self.gdb_frames: dict[str, list[str]] = {}
        self.stop = False
        total = sum(s.weight for s in seeds)
        self.cum = []
        acc = 0.0
        for s in seeds:
            acc += s.weight / total
            self.cum.append(acc)

    def pick(self, rng: random.Random) -> Seed:
        x = rng.random()
        for s, c in zip(self.seeds, self.cum):
            if x <= c:
                return s
        return self.seeds[-1]

    def generate(self, i: int):
        """Mutant i: (seed, files to write {name: bytes}, file to open, label)."""
        rng = random.Random(self.args.seed * 1_000_003 + i)
        seed = self.pick(rng)
        fname = rng.choice(seed.order)
        data, label = M.mutate(seed.files[fname], rng)
        files = {n: (data if n == fname else seed.files[n].data) for n in seed.order}
        opened = fname
        if seed.folder:
            if rng.random() < 0.4 and len(seed.order) > 1:
                opened = rng.choice(seed.order)
            label = f"[{fname}] {label}" + (f" (opened via {opened})" if opened != fname else "")
        return seed, files, opened, label

    def worker(self, k: int) -> None:
        wdir = os.path.join(self.tmp, f"w{k}")
        while not self.stop:
            with self.lock:
                if self.next >= self.end:
                    return
                i = self.next
                self.next += 1
            seed, files, opened, label = self.generate(i)
            mdir = os.path.join(wdir, f"m{i}")
            os.makedirs(mdir, exist_ok=True)
            if seed.folder:
                mdir = os.path.join(mdir, seed.basename)
                os.makedirs(mdir, exist_ok=True)
            for n, b in files.items():
                with open(os.path.join(mdir, n), "wb") as f:
                    f.write(b)
            path = os.path.join(mdir, opened)
            cls, rc, out, err, took = self.runner.run(path)
            family = label.split(":", 1)[0].split("] ", 1)[-1]
            badjson = False
            if cls == "ok0":
                try:
                    json.loads(out)
                except ValueError:
                    badjson = True
            keep = cls not in ("ok0", "ok4") or badjson or self.args.keep
            saved = None
            gdb = None
            if cls == "CRASH" and self.args.gdb:
                sig = signature(cls, rc, err, family)
                with self.lock:
                    fresh = sig not in self.gdb_done
                    self.gdb_done.add(sig)
                if fresh:
                    gdb = gdb_backtrace(self.runner, path)
                    with self.lock:
                        self.gdb_frames[sig] = gdb
            if keep:
                saved = self.save(i, seed, mdir if seed.folder else path, opened, label, cls, rc, out, err, took, badjson, gdb)
            shutil.rmtree(os.path.join(wdir, f"m{i}"), ignore_errors=True)
            with self.lock:
                self.done += 1
                self.totals[cls] += 1
                self.by_seed[seed.name][cls] += 1
                self.by_family[family][cls] += 1
                self.seconds[seed.name] += took
                if cls not in ("ok0", "ok4"):
                    sig = signature(cls, rc, err, family)
                    entry = self.signatures.setdefault(sig, [0, saved, seed.name, label, err])
                    entry[0] += 1
                    if entry[0] == 1:
                        print(f"fuzz: new failure #{i} {seed.name}: {label}\n      {sig}\n      saved: {saved}", flush=True)
                if badjson:
                    self.bad_json.append((saved, label))
                # A crash inside OpenSlide that the probe (a child process) contained: the
                # run refused the slide with exit 4 and named the signal.
                m = re.search(rb"crashed \((SIG[A-Z]+)\)", err or b"") if cls == "ok4" else None
                if m:
                    self.contained[m.group(1).decode()] += 1

    def save(self, i, seed, src, opened, label, cls, rc, out, err, took, badjson, gdb=None) -> str:
        sub = "kept" if cls in ("ok0", "ok4") and not badjson else ""
        outdir = os.path.join(self.args.out, sub) if sub else self.args.out
        os.makedirs(outdir, exist_ok=True)
        tag = "BADJSON" if badjson else cls
        dest = os.path.join(outdir, f"{tag}-{i:06d}-{seed.basename}")
        if os.path.isdir(src):
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(src, dest)
            runpath = os.path.join(dest, opened)
        else:
            shutil.copyfile(src, dest)
            runpath = dest
        with open(dest + ".txt", "w") as f:
            only = f" --only {self.args.only}" if self.args.only else ""
            f.write(f"mutant: {i} (--seed {self.args.seed}{only})\nseed: {seed.name}\nmutation: {label}\n")
            f.write(f"replay: python3 Fuzz/fuzz.py --mhs {self.args.mhs} --seed {self.args.seed}{only} --start {i} --count 1\n")
            f.write(f"command: {self.runner.shown(os.path.abspath(runpath))}\n")
            f.write(f"result: {tag} ({signame(rc)}) after {took:.2f} s\n")
            fatal = FATAL_RE.search(err.decode("utf-8", "replace"))
            if fatal:
                f.write(f"fatal error: {fatal.group(1).strip()}\n")
            f.write("stderr (last 2 KB):\n")
            f.write(err[-2048:].decode("utf-8", "replace"))
            frames = crashed_thread(err.decode("utf-8", "replace"))
            if frames:
                f.write("\ncrashed thread (Swift backtrace):\n" + "\n".join(frames) + "\n")
            if gdb:
                f.write("\ngdb backtrace of the crashing thread:\n" + "\n".join(gdb) + "\n")
            if badjson:
                f.write("\nstdout (not JSON):\n" + out[-2048:].decode("utf-8", "replace"))
        return dest

    def progress(self, start: float) -> None:
        while not self.stop:
            time.sleep(10)
            if self.stop:
                break
            with self.lock:
                el = time.monotonic() - start
                t = self.totals
                print(f"fuzz: {self.done}/{self.args.count} in {el:.0f} s ({self.done / max(el, 1e-9):.1f}/s): "
                      f"{t['CRASH']} crashes, {t['HANG']} hangs, {t['UNEXPECTED']} unexpected, "
                      f"{t['ok0']} readable, {t['ok4']} refused", flush=True)


def table(title: str, rows: dict[str, collections.Counter], seconds: dict[str, float] | None = None) -> None:
    names = sorted(rows)
    w = max([len(title)] + [len(n) for n in names]) + 2
    head = f"{title:<{w}}{'runs':>6}{'ok0':>6}{'ok4':>6}{'crash':>7}{'hang':>6}{'unexp':>7}" + ("  s/run" if seconds else "")
    print(head)
    print("-" * len(head))
    for n in names:
        c = rows[n]
        runs = sum(c.values())
        line = f"{n:<{w}}{runs:>6}{c['ok0']:>6}{c['ok4']:>6}{c['CRASH']:>7}{c['HANG']:>6}{c['UNEXPECTED']:>7}"
        if seconds:
            line += f"  {seconds[n] / max(runs, 1):5.2f}"
        print(line)
    print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mhs", required=True, help="the mhs binary")
    ap.add_argument("--slides", default=os.path.join(REPO, "..", "shared", "testdata", "slides"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--start", type=int, default=0, help="first mutant number (to replay mutant N: --start N --count 1)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--mem-limit", type=float, default=8, help="address-space limit per run in GiB (0: none)")
    ap.add_argument("--out", default=os.path.join(REPO, "fuzz-output"))
    ap.add_argument("--keep", action="store_true", help="keep every mutant, not only failing ones")
    ap.add_argument("--only", default="", help="only seeds whose name contains this text")
    ap.add_argument("--no-gdb", dest="gdb", action="store_false",
                    help="do not rerun the first crash of each kind under gdb for a full backtrace")
    args = ap.parse_args()
    args.mhs = os.path.abspath(args.mhs)
    args.slides = os.path.abspath(args.slides)
    args.out = os.path.abspath(args.out)

    runner = Runner(args.mhs, args.timeout, args.mem_limit)
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="mhs-fuzz-", dir=base)
    try:
        seeds = find_seeds(args.slides)
        if not seeds:
            sys.exit(f"fuzz: no seeds under {args.slides}")
        seeds += make_conversions(seeds, runner, tmp)
        seeds.sort(key=lambda s: s.name)
        if args.only:
            seeds = [s for s in seeds if args.only in s.name]
        print(f"fuzz: {len(seeds)} seeds ({sum(s.folder for s in seeds)} series folders), "
              f"command: {runner.shown('MUTANT')}, mutants {args.start}..{args.start + args.count - 1} of --seed {args.seed}, "
              f"{args.jobs} jobs, timeout {args.timeout:g} s", flush=True)
        camp = Campaign(args, seeds, runner, tmp)
        start = time.monotonic()
        threads = [threading.Thread(target=camp.worker, args=(k,), daemon=True) for k in range(max(1, args.jobs))]
        prog = threading.Thread(target=camp.progress, args=(start,), daemon=True)
        for t in threads:
            t.start()
        prog.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.5)
        except KeyboardInterrupt:
            camp.stop = True
            print("fuzz: interrupted; waiting for the runs in flight", flush=True)
            for t in threads:
                t.join()
        camp.stop = True
        elapsed = time.monotonic() - start
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    table("seed", camp.by_seed, camp.seconds)
    table("mutation family", camp.by_family)
    if camp.signatures:
        print("distinct failures (by cause):")
        for sig, (n, saved, seedname, label, _) in sorted(camp.signatures.items(), key=lambda kv: -kv[1][0]):
            print(f"  {n:5d} x {sig}\n          e.g. {seedname}: {label}\n          saved: {saved}")
            own = [fr for fr in camp.gdb_frames.get(sig, []) if "Sources/" in fr or " from " in fr][:4]
            for fr in own:
                print(f"          gdb: {fr[:220]}")
        print()
    if camp.bad_json:
        print(f"note: {len(camp.bad_json)} runs exited 0 without valid JSON on stdout, e.g. {camp.bad_json[0][0]}")
    if camp.contained:
        shown = ", ".join(f"{n} {sig}" for sig, n in camp.contained.most_common())
        print(f"contained: {sum(camp.contained.values())} of the refusals were crashes inside OpenSlide, caught in the probe ({shown})")
    t = camp.totals
    n = camp.done
    bad = t["CRASH"] + t["HANG"] + t["UNEXPECTED"]
    print(f"fuzz: {n} mutants, {t['CRASH']} crashes, {t['HANG']} hangs, {t['UNEXPECTED']} unexpected, "
          f"{t['ok0']} readable, {t['ok4']} refused in {elapsed:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
