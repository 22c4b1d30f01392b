"""python -m course {release,check,bench}: the instructor's course commands."""
import argparse
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"] and "--train" in argv:  # accuracy benchmark: course/bench_train.py
        from course.bench_train import main as bench_train_main

        return bench_train_main([a for a in argv[1:] if a != "--train"])
    if argv[:1] == ["bench"]:  # the benchmark parses its own options (--only, --repeats ...)
        from course.bench import main as bench_main

        return bench_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m course",
        description="Build and check the course (run from anywhere; the course root is this repository).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser(
        "release", help="rebuild release/ (student notebooks) from source/ with nbgrader"
    )
    release.add_argument("chapters", nargs="*", help="chapter names or numbers (default: all)")

    check = commands.add_parser(
        "check",
        help="execute every source notebook (all tests pass) and release notebook (tests fail "
        "cleanly); check release is in sync, leaks no solution or hidden test, and is stored clean",
    )
    check.add_argument("chapters", nargs="*", help="chapter names or numbers (default: all)")
    check.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default 2)")

    commands.add_parser(
        "bench", help="print speed benchmarks side by side (python -m course bench --help); "
        "--train: train every model and report accuracy (python -m course bench --train --help)"
    )

    args = parser.parse_args(argv)
    if args.command == "release":
        from course.release import release

        release(args.chapters)
        return 0
    from course.check import main as check_main

    return check_main(args.chapters, jobs=args.jobs)


if __name__ == "__main__":
    sys.exit(main())
