"""The `lepot` command line. Subcommands:

    lepot demo [--data FILE]     the main job on the shipped example data (see README)
"""

import argparse
import sys
from importlib.metadata import version


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lepot", description="lepot: LE-basis ACE/SOAP interatomic potentials")
    parser.add_argument("--version", action="version", version=f"lepot {version('lepot')}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the main job on shipped example data and print a summary")
    demo.add_argument("--data", default=None, help="extxyz file to use (default: the shipped Mo sample)")
    demo.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: OMP_NUM_THREADS)")

    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.data, args.threads)
    return 2


if __name__ == "__main__":
    sys.exit(main())
