"""The `lepot` command line.

    lepot fit CONFIG.yaml              fit a potential (also under mpirun -np N)
    lepot eval MODEL DATA [DATA ...]   error table of a model (file or shipped name) on any data;
                                       --uncertainty, --output FILE.extxyz: its uncertainties and LPR there;
                                       --forces-uncertainty: with the force uncertainty σ_F too
    lepot select MODEL POOL --output F choose the pool structures to label next (D-optimal, posterior)
    lepot compare A B DATA             GFRE / GFRD between two models' bases on data
    lepot lammps-plugin                build the LAMMPS plugin if needed; print its path (last line)
    lepot demo                         the main job on shipped example data (see README)
"""

import argparse
import logging
import sys
from importlib.metadata import version


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lepot", description="lepot: LE-basis ACE/SOAP interatomic potentials")
    parser.add_argument("--version", action="version", version=f"lepot {version('lepot')}")
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="fit a potential from a YAML config")
    fit.add_argument("config", help="YAML config (see examples/fit_Si.yaml)")
    fit.add_argument("--quiet", action="store_true", help="no progress bars or log messages")

    evaluate = commands.add_parser("eval", help="print the error table of a model on data files")
    evaluate.add_argument("model", help="parameter file, or the name of a shipped potential")
    evaluate.add_argument("data", nargs="+", help="structure files or globs readable by ase.io")
    evaluate.add_argument("--energy-key", default=None, help="atoms.info key of the energy (default: calculator)")
    evaluate.add_argument("--forces-key", default=None, help="atoms.arrays key of the forces (default: calculator)")
    evaluate.add_argument("--stress-key", default=None, help="atoms.info key of the stress (default: calculator)")
    evaluate.add_argument("--uncertainty", action="store_true",
                          help="also print how well the model's uncertainties are calibrated on the data")
    evaluate.add_argument("--output", default=None,
                          help="write the structures with their uncertainties and LPR to this extxyz file")
    evaluate.add_argument("--forces-uncertainty", action="store_true",
                          help="also the force uncertainty σ_F (needs descriptor gradients: slower) and its calibration")

    select = commands.add_parser("select", help="choose the structures of a pool to label next (docs/uncertainty.md)")
    select.add_argument("model", help="parameter file with an uncertainty block, or a shipped potential's name")
    select.add_argument("pool", nargs="+", help="candidate structure files or globs readable by ase.io")
    select.add_argument("--count", type=int, default=20, help="how many structures to choose (default 20)")
    select.add_argument("--output", required=True, help="extxyz file to write the chosen structures to")
    select.add_argument("--criterion", default=None,
                        help="energy: most reduction of the predictive variance of the pool's energies (default); "
                             "variance: of all its rows; information: D-optimal (lepot.fitting.selection.CRITERIA)")

    compare = commands.add_parser("compare", help="GFRE and GFRD between the bases of two parameter files on data")
    compare.add_argument("model_a", help="parameter file or shipped potential's name")
    compare.add_argument("model_b", help="parameter file or shipped potential's name")
    compare.add_argument("data", nargs="+", help="structure files or globs readable by ase.io")
    compare.add_argument("--seed", type=int, default=0, help="seed of the random split of the environments")

    commands.add_parser("lammps-plugin", help="build the LAMMPS pair_style lepot plugin if needed and print its path")

    demo = commands.add_parser("demo", help="run the main job on shipped example data and print a summary")
    demo.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: OMP_NUM_THREADS)")

    args = parser.parse_args(argv)
    quiet = getattr(args, "quiet", False)
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(name)s: %(message)s")
    try:
        if args.command == "fit":
            from .fit import fit as run_fit

            run_fit(args.config, progress=not quiet)
        elif args.command == "eval":
            from .evaluate import run_eval

            print(run_eval(args.model, args.data, args.energy_key, args.forces_key, args.stress_key, args.uncertainty,
                           args.output, args.forces_uncertainty))
        elif args.command == "select":
            from .selection import run_select

            selection_options = {"criterion": args.criterion} if args.criterion else {}
            print(run_select(args.model, args.pool, args.count, args.output, **selection_options))
        elif args.command == "compare":
            from .feature_comparison import run_compare

            print(run_compare(args.model_a, args.model_b, args.data, args.seed))
        elif args.command == "lammps-plugin":
            from lepot.lammps_plugin import main as plugin_main

            plugin_main()
        elif args.command == "demo":
            from .demo import run_demo

            run_demo(args.threads)
    except (ValueError, RuntimeError) as error:  # bad input (config, data, parameter file) or a failed build
        print(f"lepot {args.command}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
