"""Command line of the compat runner (``compat-tests/run``)."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from . import scenarios  # noqa: F401  (registers every scenario)
from .scenario import REGISTRY, TARGET, Context, Options, Scenario
from .servers import IMPLS
from .toolchain import Toolchain
from .util import ScenarioFailure, stop_all_processes


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="compat-tests/run",
        description="Runs the official RocketMQ clients and mqadmin against our servers and the Java "
                    "reference. Prints PASS/FAIL per scenario and finally 'N passed, N failed'.")
    p.add_argument("patterns", nargs="*",
                   help="select scenarios: a tag (namesrv, clients, mqadmin, java, go), a glob, or a "
                        "substring of the name; several are OR-ed; none = all")
    p.add_argument("--ns", choices=IMPLS, default="ours",
                   help="nameserver under test (default: ours). With --ns java the mqadmin diff compares "
                        "Java with Java: a self-test of the harness")
    p.add_argument("--broker", choices=IMPLS, default="java",
                   help="broker the client scenarios use (default: java)")
    p.add_argument("--ns-addr", metavar="HOST:PORT",
                   help="use an already running nameserver as the one under test instead of starting one")
    p.add_argument("--core-broker", choices=IMPLS, default="ours",
                   help="broker of the broker-core scenarios (broker/*; default: ours). 'java' runs them "
                        "against the Java reference broker: a check of the scenarios themselves")
    p.add_argument("--core-ns", choices=IMPLS, default="ours",
                   help="nameserver of the broker-core scenarios (default: ours)")
    p.add_argument("--list", action="store_true", help="list the selected scenarios and exit")
    p.add_argument("--serve", action="store_true",
                   help="only start the target cluster (--ns/--broker), print its addresses and wait for "
                        "Ctrl-C; for poking at it by hand")
    p.add_argument("--keep", action="store_true", help="keep the temporary run directory even if all pass")
    p.add_argument("--no-cargo", action="store_true",
                   help="do not run cargo build; use the binaries already in target/release")
    p.add_argument("-v", "--verbose", action="store_true", help="print timings and progress")
    return p.parse_args(argv)


def select(patterns: list[str]) -> list[Scenario]:
    if not patterns:
        return list(REGISTRY)
    return [s for s in REGISTRY if any(s.matches(p) for p in patterns)]


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt()


def serve(ctx: Context, run_dir: Path) -> int:
    try:
        c = ctx.cluster(TARGET)
        print(f"namesrv ({c.spec.ns}) {c.namesrv.addr}\nbroker ({c.spec.broker}) {c.broker.addr}\n"
              f"files and logs under {c.dir}\nCtrl-C to stop", flush=True)
        while True:
            time.sleep(3600)
    except ScenarioFailure as e:
        print(f"cannot start: {e.reason}\n{e.detail}", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        ctx.stop_all()
        stop_all_processes()
        print(f"logs kept in {run_dir}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    selected = select(args.patterns)
    if args.list:
        for s in selected:
            print(f"{s.name}  [{', '.join(s.tags)}]")
        return 0
    if not selected:
        print(f"no scenario matches {args.patterns}; try --list", file=sys.stderr)
        print("0 passed, 1 failed")
        return 2

    run_dir = Path(tempfile.mkdtemp(prefix="rocketmq-compat-"))
    signal.signal(signal.SIGTERM, _on_sigterm)
    # Also when started in the background, where a shell leaves SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    options = Options(ns=args.ns, broker=args.broker, ns_addr=args.ns_addr, verbose=args.verbose,
                      core_ns=args.core_ns, core_broker=args.core_broker)
    ctx = Context(options, Toolchain(run_dir, cargo_build=not args.no_cargo), run_dir)
    if args.serve:
        return serve(ctx, run_dir)
    # Stop each cluster right after the last selected scenario that uses it.
    last_use: dict[str, int] = {}
    for i, s in enumerate(selected):
        for key in s.clusters:
            last_use[key] = i

    passed = failed = 0
    tails_shown: set[str] = set()
    started = time.monotonic()
    interrupted = False
    print(f"compat: {len(selected)} scenarios, namesrv under test={args.ns}"
          f"{' at ' + args.ns_addr if args.ns_addr else ''}, client broker={args.broker}, "
          f"core namesrv/broker={args.core_ns}/{args.core_broker}, "
          f"logs in {run_dir}", flush=True)
    try:
        for i, s in enumerate(selected):
            ctx.current = s.name
            t0 = time.monotonic()
            try:
                s.fn(ctx)
                passed += 1
                print(f"PASS {s.name}", flush=True)
            except ScenarioFailure as e:
                failed += 1
                print(f"FAIL {s.name}: {e.reason}", flush=True)
                if e.detail:
                    print(e.detail, flush=True)
                for key in s.clusters:
                    c = ctx.clusters.get(key)
                    if c is not None and key not in tails_shown:
                        tails_shown.add(key)
                        print(f"    server logs of cluster {key} ({c.spec.describe()}):", flush=True)
                        print(c.log_tails(), flush=True)
            except Exception as e:  # a harness bug must not hide the other results
                failed += 1
                print(f"FAIL {s.name}: harness error {type(e).__name__}: {e}", flush=True)
                print("    " + traceback.format_exc().replace("\n", "\n    "), flush=True)
            if args.verbose:
                print(f"    ({time.monotonic() - t0:.1f} s)", flush=True)
            done = [key for key, last in last_use.items() if last == i]
            threads = [threading.Thread(target=ctx.stop_cluster, args=(k,)) for k in done]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted; stopping servers", flush=True)
    finally:
        ctx.stop_all()
        stop_all_processes()

    if args.verbose:
        print(f"total {time.monotonic() - started:.1f} s", flush=True)
    if failed or interrupted or args.keep:
        print(f"logs kept in {run_dir}", flush=True)
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    not_run = len(selected) - passed - failed
    if interrupted and not_run:
        failed += not_run
    print(f"{passed} passed, {failed} failed", flush=True)
    if interrupted:
        return 130
    return 1 if failed else 0
