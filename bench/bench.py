#!/usr/bin/env python3
"""bench.py -- fsguard against its peers, on the same trees, in one run.

Generates the workloads (a device: DEV/usr and DEV/bak in QuecPython's
layout, plus an SFV and a SHA256SUMS of the same files), runs every
contender on each several times with a warm page cache, and reports medians:
wall time as a ratio to a bare read of the same files (bench/bareread.c, the
I/O limit), peak resident memory, and bytes written (write_bytes from
/proc/PID/io: pages sent towards storage), each measured by bench/measure.c.
Writes RESULTS.md and a PNG chart (gnuplot), refreshes the README's table,
and checks the targets of issue 7, saying which are met and which missed.

    bench.py --fsguard F --measure M --bareread B --work DIR --out DIR [--quick]
"""
import argparse
import binascii
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
import zlib

KB, MB = 1024, 1024 * 1024


def qpy_crc(data):
    """QuecPython's hash: zlib's crc32 started from 0xFFFFFFFF."""
    return binascii.crc32(data, 0xFFFFFFFF)


class Workload:
    def __init__(self, name, title, files, damage=0.0, runs=5):
        self.name, self.title, self.files = name, title, files  # files: [(relpath, size)]
        self.damage, self.runs = damage, runs
        self.damaged = []          # (relpath, original bytes or None)

    @property
    def total(self):
        return sum(s for _, s in self.files)


def tree_small():
    return [("d%02d/f%04d.bin" % (i % 100, i), 4 * KB) for i in range(10000)]


def tree_big():
    return [("big/f%02d.bin" % i, 64 * MB) for i in range(16)]


def tree_manifest():
    return [("m%03d/e%05d.txt" % (i % 1000, i), 64) for i in range(100000)]


def build_device(root, files, seed):
    """DEV/usr and DEV/bak with the same files, both checksum.json, the
    switch; and, beside them, the peers' check files."""
    if os.path.isdir(root):
        shutil.rmtree(root)
    usr, bak = os.path.join(root, "usr"), os.path.join(root, "bak")
    rnd = random.Random(seed)
    table, sfv, sums = [], [], []
    for rel, size in files:
        data = rnd.randbytes(size)
        for base in (usr, os.path.join(bak, "usr")):
            p = os.path.join(base, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as fh:
                fh.write(data)
        table.append({"name": "/usr/" + rel, "crc32": hex(qpy_crc(data))})
        sfv.append("%s %08X" % (os.path.join(usr, rel), zlib.crc32(data)))
        sums.append("%s  %s" % (hashlib.sha256(data).hexdigest(), os.path.join(usr, rel)))
    text = "[\n" + ",\n".join(json.dumps(e, separators=(",", ":")) for e in table) + "\n]\n"
    for base in (usr, bak):
        with open(os.path.join(base, "checksum.json"), "w") as fh:
            fh.write(text)
    with open(os.path.join(bak, "backup_restore.json"), "w") as fh:
        fh.write('{"enable": 1}\n')
    with open(os.path.join(root, "files.sfv"), "w") as fh:
        fh.write("\n".join(sfv) + "\n")
    with open(os.path.join(root, "SHA256SUMS"), "w") as fh:
        fh.write("\n".join(sums) + "\n")
    with open(os.path.join(root, "list"), "w") as fh:
        fh.write("\n".join(rel for rel, _ in files) + "\n")
    with open(os.path.join(root, "usr.checksum.json"), "w") as fh:
        fh.write(text)
    subprocess.run(["sync"], check=True)


def pick_damage(w, seed):
    """1% of the files (at least one): half of them lose a byte flip, half
    are deleted."""
    n = max(1, round(len(w.files) * w.damage))
    rnd = random.Random(seed)
    return sorted(rnd.sample([rel for rel, _ in w.files], n))


def apply_damage(root, picks):
    """Damages the picked user files (the backup copies stay good) and puts
    the user checksum.json back as it was; returns the bytes of the files
    a repair must rewrite."""
    usr = os.path.join(root, "usr")
    shutil.copyfile(os.path.join(root, "usr.checksum.json"), os.path.join(usr, "checksum.json"))
    need = 0
    for i, rel in enumerate(picks):
        p = os.path.join(usr, rel)
        good = os.path.join(root, "bak", "usr", rel)
        need += os.path.getsize(good)
        if i % 2 == 0:
            shutil.copyfile(good, p)
            with open(p, "r+b") as fh:
                fh.seek(os.path.getsize(p) // 2)
                b = fh.read(1)
                fh.seek(-1, 1)
                fh.write(bytes([b[0] ^ 0x40]))
        elif os.path.exists(p):
            os.remove(p)
    return need


def restore_clean(root, picks):
    usr = os.path.join(root, "usr")
    for rel in picks:
        shutil.copyfile(os.path.join(root, "bak", "usr", rel), os.path.join(usr, rel))
    shutil.copyfile(os.path.join(root, "usr.checksum.json"), os.path.join(usr, "checksum.json"))


def measure(args, cmd, cwd=None):
    out = subprocess.run([args.measure] + cmd, cwd=cwd, check=True, capture_output=True,
                         text=True).stdout.split()
    return {"wall": float(out[0]), "rss_kib": int(out[1]), "write_bytes": int(out[2]),
            "wchar": int(out[3]), "exit": int(out[4])}


def contenders(args, root, damaged):
    usr, bak = os.path.join(root, "usr"), os.path.join(root, "bak")
    c = [
        ("bare read", [args.bareread, usr, os.path.join(root, "list")], {0}),
        ("fsguard verify", [args.fsguard, "verify", "--root", root], {1} if damaged else {0}),
        ("fsguard boot", [args.fsguard, "boot", "--root", root], {1} if damaged else {0}),
        ("rhash -c", ["rhash", "--skip-ok", "-c", os.path.join(root, "files.sfv")],
         {1} if damaged else {0}),
        ("sha256sum -c", ["sha256sum", "--quiet", "-c", os.path.join(root, "SHA256SUMS")],
         {1} if damaged else {0}),
        ("rsync --checksum", ["rsync", "-a", "--checksum", os.path.join(bak, "usr") + "/",
                              usr + "/"], {0}),
    ]
    return c


def run_workload(args, w, results):
    root = os.path.join(args.work, w.name.split("+")[0])
    picks = pick_damage(w, 7) if w.damage else []
    # Warm the page cache: every contender then reads the same cached files.
    subprocess.run([args.bareread, os.path.join(root, "usr"), os.path.join(root, "list")],
                   check=True, capture_output=True)
    for name, cmd, ok_codes in contenders(args, root, bool(picks)):
        samples = []
        for i in range(w.runs + 1):
            need = apply_damage(root, picks) if picks else 0
            subprocess.run(["sync"], check=True)
            m = measure(args, cmd)
            if m["exit"] not in ok_codes:
                sys.exit("bench: %s on %s exited %d (expected %s)" %
                         (name, w.name, m["exit"], sorted(ok_codes)))
            m["repair_bytes"] = need
            if i > 0:   # the first run only warms up (page cache, atimes)
                samples.append(m)
        if picks:
            restore_clean(root, picks)
        med = {k: statistics.median(s[k] for s in samples)
               for k in ("wall", "rss_kib", "write_bytes", "wchar")}
        med["min_wall"] = min(s["wall"] for s in samples)
        med["runs"] = len(samples)
        med["repair_bytes"] = samples[0]["repair_bytes"]
        results.setdefault(w.name, {})[name] = med
        print("  %-18s %-16s %9.4f s  %7.1f MiB  %12d B written" %
              (w.name, name, med["wall"], med["rss_kib"] / 1024, med["write_bytes"]),
              flush=True)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    fs = subprocess.run(["stat", "-f", "-c", "%T", "."], capture_output=True, text=True).stdout
    return "%s, %d cores, %.0f GiB RAM, Linux %s, %s file system" % (
        cpu, os.cpu_count(), mem, platform.release(), fs.strip() or "?")


def versions():
    def first(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"
    return {"rhash": first(["rhash", "--version"]),
            "sha256sum": first(["sha256sum", "--version"]),
            "rsync": first(["rsync", "--version"])}


def report(args, workloads, results, checks):
    names = ["bare read", "fsguard verify", "fsguard boot", "rhash -c", "sha256sum -c",
             "rsync --checksum"]
    lines = ["| workload | " + " | ".join(names) + " |",
             "| --- |" + " --- |" * len(names)]
    for w in workloads:
        r = results[w.name]
        base = r["bare read"]["wall"]
        cells = []
        for n in names:
            m = r[n]
            cells.append("%.3f s (%.2f×)<br>%.1f MiB, %s written" % (
                m["wall"], m["wall"] / base, m["rss_kib"] / 1024, human(m["write_bytes"])))
        lines.append("| %s | %s |" % (w.title, " | ".join(cells)))
    v = versions()
    table = "\n".join(lines)
    text = ("Measured %s on %s.\n\nMedians of %s runs each, warm page cache; "
            "time as a ratio to the bare read (×), peak RSS, bytes written (write_bytes). "
            "Peers: %s; %s; %s.\n\n%s\n\nTargets:\n\n%s\n" % (
                time.strftime("%Y-%m-%d"), machine(),
                "/".join(sorted({str(w.runs) for w in workloads})),
                v["rhash"], v["sha256sum"], v["rsync"], table,
                "\n".join("- %s %s" % ("met:" if ok else "MISSED:", what)
                          for ok, what in checks)))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "RESULTS.md"), "w") as fh:
        fh.write("# Benchmark results\n\n" + text)
    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump({"machine": machine(), "results": results}, fh, indent=1)
    chart(args, workloads, results, names)
    return text


def human(n):
    for unit, div in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= div:
            return "%.1f %s" % (n / div, unit)
    return "%d B" % n


def chart(args, workloads, results, names):
    if shutil.which("gnuplot") is None:
        print("bench: gnuplot not found: no chart")
        return
    data = os.path.join(args.work, "chart.dat")
    with open(data, "w") as fh:
        fh.write("workload " + " ".join('"%s"' % n for n in names) + "\n")
        for w in workloads:
            r = results[w.name]
            base = r["bare read"]["wall"]
            fh.write('"%s" ' % w.title.replace("<br>", " ") +
                     " ".join("%.4f" % (r[n]["wall"] / base) for n in names) + "\n")
    png = os.path.join(args.out, "chart.png")
    script = """
set terminal pngcairo size 1200,560 font ",10"
set output '%s'
set title "Wall time as a multiple of a bare read of the same files (lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set yrange [0.5:*]
set grid ytics
set ylabel "× bare read (log scale)"
set key outside right top
set xtics noenhance rotate by -12
set key noenhance
plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)
""" % (png, len(names) + 1, data)
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def check_targets(workloads, results):
    checks = []
    def r(w, n):
        return results[w][n]
    for w, limit in (("small", 1.3), ("big", 1.5)):
        ratio = r(w, "fsguard verify")["wall"] / r(w, "bare read")["wall"]
        checks.append((ratio <= limit, "clean verify of the %s tree within %.1f× the bare read "
                       "(%.2f×)" % (w, limit, ratio)))
    for w in [x.name for x in workloads]:
        for peer in ("rhash -c", "rsync --checksum"):
            for mine in ("fsguard verify", "fsguard boot"):
                f = r(w, peer)["wall"] / r(w, mine)["wall"]
                checks.append((f >= 3.0, "%s at least 3× faster than %s on %s (%.1f×)" %
                               (mine, peer, w, f)))
    for w in [x.name for x in workloads if not x.damage]:
        b = r(w, "fsguard boot")["write_bytes"]
        checks.append((b == 0, "a clean boot of %s writes 0 bytes (%d)" % (w, b)))
    for w in [x for x in workloads if x.damage]:
        m = r(w.name, "fsguard boot")
        table = os.path.getsize(os.path.join(ARGS.work, w.name.split("+")[0], "usr.checksum.json"))
        # wchar: the bytes fsguard handed to write(), its report on stdout
        # included (at most a line per file); write_bytes also counts the
        # file system's own metadata pages, which are not fsguard's writes.
        report_slack = 256 * (len(pick_damage(w, 7)) + 4)
        ok = m["repair_bytes"] <= m["wchar"] <= m["repair_bytes"] + table + report_slack
        checks.append((ok, "a repair of %s writes only the damaged files plus at most one "
                       "table (%d bytes written by fsguard, %d bytes of damaged files, table %d)" %
                       (w.name, m["wchar"], m["repair_bytes"], table)))
    rss = {w.name: max(r(w.name, "fsguard verify")["rss_kib"], r(w.name, "fsguard boot")["rss_kib"])
           for w in workloads}
    checks.append((abs(rss["big"] - rss["small"]) < 8 * 1024,
                   "peak memory independent of file size (%.1f MiB with 64 MiB files, %.1f MiB "
                   "with 4 KiB ones)" % (rss["big"] / 1024, rss["small"] / 1024)))
    checks.append((rss["manifest"] < 32 * 1024,
                   "peak memory under 32 MiB with a 100,000-entry table (%.1f MiB)" %
                   (rss["manifest"] / 1024)))
    return checks


def refresh_readme(args, text):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    with open(path) as fh:
        s = fh.read()
    if begin not in s or end not in s:
        return
    body = "%s\n%s\n![fsguard against its peers](bench/results/chart.png)\n%s" % (begin, text, end)
    s = s[:s.index(begin)] + body + s[s.index(end) + len(end):]
    with open(path, "w") as fh:
        fh.write(s)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--fsguard", required=True)
    p.add_argument("--measure", required=True)
    p.add_argument("--bareread", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    p.add_argument("--no-readme", action="store_true")
    ARGS = args = p.parse_args()
    args.work = os.path.abspath(args.work)
    args.out = os.path.abspath(args.out)
    for tool in ("rhash", "rsync", "sha256sum"):
        if shutil.which(tool) is None:
            sys.exit("bench: %s not found (make bench installs it)" % tool)
    os.makedirs(args.work, exist_ok=True)
    runs = 1 if args.quick else 5
    big_runs = 1 if args.quick else 3
    workloads = [
        Workload("small", "10,000 × 4 KiB", tree_small(), runs=runs),
        Workload("small+damaged", "10,000 × 4 KiB, 1% damaged", tree_small(), 0.01, runs),
        Workload("big", "16 × 64 MiB", tree_big(), runs=big_runs),
        Workload("big+damaged", "16 × 64 MiB, 1% damaged", tree_big(), 0.01, big_runs),
        Workload("manifest", "100,000-entry table", tree_manifest(), runs=big_runs),
    ]
    t0 = time.time()
    for name, files in (("small", tree_small()), ("big", tree_big()),
                        ("manifest", tree_manifest())):
        print("bench: generating %s (%d files, %s)" %
              (name, len(files), human(sum(s for _, s in files))), flush=True)
        build_device(os.path.join(args.work, name), files, 1)
    print("bench: workloads ready in %.0f s; measuring" % (time.time() - t0), flush=True)
    results = {}
    for w in workloads:
        run_workload(args, w, results)
    checks = check_targets(workloads, results)
    text = report(args, workloads, results, checks)
    if not args.no_readme:
        refresh_readme(args, text)
    print("\n" + text)
    print("bench: done in %.0f s; %s" % (time.time() - t0, os.path.join(args.out, "RESULTS.md")))
    missed = [what for ok, what in checks if not ok]
    if missed:
        print("bench: %d target(s) missed (see above); the figures stand as measured" % len(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
