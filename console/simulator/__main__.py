"""``python -m console.simulator`` / ``powerstore-simulator``: run the PowerStore REST simulator."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from console.simulator.config import SimulatorConfig
from console.simulator.server import LOG_LEVELS, ServerError, ServerSettings, serve
from console.simulator.tls import CertificateError, default_cert_dir

PROG = "powerstore-simulator"
EXIT_USAGE = 2
EXIT_FAILURE = 1


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


def _number(minimum: float, maximum: float | None = None) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
            bounds = f"from {minimum:g} to {maximum:g}" if maximum is not None else f"at least {minimum:g}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Serve a simulated Dell PowerStore REST API (for demos, training and tests).",
    )
    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    net.add_argument(
        "--port",
        type=_whole(0, 65535),
        default=8443,
        help="TCP port; 0 picks a free one (default: %(default)s)",
    )
    net.add_argument("--no-tls", action="store_true", help="serve plain HTTP instead of HTTPS")
    net.add_argument(
        "--cert-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where the private CA and server certificate live (default: {default_cert_dir()})",
    )

    sim = parser.add_argument_group("simulated array")
    sim.add_argument(
        "--volumes", type=_whole(0), default=defaults.volumes, metavar="N", help="volumes in the seed data"
    )
    sim.add_argument(
        "--job-seconds",
        type=_number(0),
        default=defaults.job_seconds,
        metavar="S",
        help="typical duration of an asynchronous job (default: %(default)s)",
    )
    sim.add_argument(
        "--idle-timeout",
        type=_whole(1),
        default=defaults.idle_timeout,
        metavar="S",
        help="seconds before an unused session expires (default: %(default)s)",
    )
    sim.add_argument(
        "--state",
        type=Path,
        default=None,
        metavar="FILE",
        help="keep resources and jobs in FILE across restarts",
    )
    sim.add_argument(
        "--seed", type=int, default=defaults.seed, metavar="N", help="makes seed data reproducible"
    )

    test = parser.add_argument_group("testing")
    test.add_argument(
        "--fault-rate",
        type=_number(0, 1),
        default=defaults.fault_rate,
        metavar="F",
        help="share of API requests answered 503 or dropped, 0 to 1 (default: %(default)s)",
    )
    test.add_argument(
        "--latency-ms",
        type=_number(0),
        default=defaults.latency_ms,
        metavar="MS",
        help="delay added to every API request (default: %(default)s)",
    )
    test.add_argument(
        "--control", action="store_true", help="serve the test-only control endpoint /__control/"
    )

    logs = parser.add_argument_group("logging")
    logs.add_argument("--log-level", choices=LOG_LEVELS, default="warning", help="(default: %(default)s)")
    logs.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> tuple[SimulatorConfig, ServerSettings]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.state is not None and args.state.is_dir():
        parser.error(f"argument --state: {args.state} is a directory, not a file")
    if args.cert_dir is not None and args.cert_dir.exists() and not args.cert_dir.is_dir():
        parser.error(f"argument --cert-dir: {args.cert_dir} exists and is not a directory")
    config = SimulatorConfig(
        volumes=args.volumes,
        job_seconds=args.job_seconds,
        idle_timeout=args.idle_timeout,
        seed=args.seed,
        state_file=args.state,
        fault_rate=args.fault_rate,
        latency_ms=args.latency_ms,
        control=args.control,
    )
    settings = ServerSettings(
        host=args.host,
        port=args.port,
        tls=not args.no_tls,
        cert_dir=args.cert_dir,
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return config, settings


def main(argv: Sequence[str] | None = None) -> int:
    config, settings = parse_args(argv)
    try:
        serve(config, settings)
    except CertificateError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except ServerError as exc:
        _error(str(exc))
        return EXIT_FAILURE
    return 0


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
