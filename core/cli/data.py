"""``python -m core data ...``: list, download and verify datasets.

`main(argv)` is the entry point; ``core/cli/__init__.py`` passes it the arguments after
``data``. It returns the process exit code: 0 on success, 1 if a check or download failed,
2 for usage errors (argparse's convention).
"""

from __future__ import annotations

import argparse
import sys

from core.data.dataset import DownloadError
from core.data.download import download
from core.data.files import FileCheck
from core.data.paths import cache_dir, data_dir_origin
from core.data.registry import DATASETS, verify

__all__ = ["main", "build_parser"]

_DATA_DIR_HELP = ("data directory (default: $MAESI_DATA if set, else $XDG_DATA_HOME/maesi/data, i.e. "
                  "~/.local/share/maesi/data); its layout is that of shared/data, e.g. DIR/mnist/*.gz")


def build_parser(prog: str = "python -m core data") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="List, download and verify maesi's datasets.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ls = sub.add_parser("list", help="list the datasets and whether each is present in the data dir",
                        description="List the datasets: kind, input shape, and whether the data dir has them.")
    ls.add_argument("--data-dir", metavar="DIR", help=_DATA_DIR_HELP)

    dl = sub.add_parser("download", help="download datasets into the data dir (needs internet)",
                        description="Download a dataset's canonical files into the data dir, resuming partial "
                                    "downloads and checking the published checksums.")
    dl.add_argument("names", nargs="+", metavar="NAME", choices=[*DATASETS, "all"],
                    help=f"dataset(s) to download: {', '.join(DATASETS)}, or 'all' (those with a public source)")
    dl.add_argument("--data-dir", metavar="DIR", help=_DATA_DIR_HELP)
    dl.add_argument("--base-url", metavar="URL",
                    help="fetch from this mirror instead of the canonical hosts; a file's URL is then "
                         "URL/<its path in the data dir>, e.g. URL/mnist/train-images-idx3-ubyte.gz")
    dl.add_argument("--quiet", action="store_true", help="no progress bars or status lines")

    vf = sub.add_parser("verify", help="check a dataset's files against the known checksums",
                        description="Check the files a dataset would load from against the known checksums "
                                    "(sha256, published md5, or md5 of the uncompressed content).")
    vf.add_argument("names", nargs="+", metavar="NAME", choices=[*DATASETS, "all"],
                    help=f"dataset(s) to verify: {', '.join(DATASETS)}, or 'all' (those present)")
    vf.add_argument("--data-dir", metavar="DIR", help=_DATA_DIR_HELP)
    return p


def _print_checks(checks: list[FileCheck]) -> bool:
    for c in checks:
        print(f"  {c.status:<10} {c.path}  ({c.detail})")
    return not any(c.failed for c in checks)


def _cmd_list(args) -> int:
    root, origin = data_dir_origin(args.data_dir)
    print(f"data dir:  {root} ({origin}){'' if root.is_dir() else '  [does not exist]'}")
    print(f"cache dir: {cache_dir()}")
    print(f"{'name':<14} {'kind':<8} {'shape':<14} {'present':<9} description")
    for spec in DATASETS.values():
        layout = spec.find_layout(root)
        present = "bundled" if not spec.needs_data_dir else ("yes" if layout else "no")
        shape = "x".join(map(str, spec.sample_shape))
        extra = f" [from {layout.label}]" if layout and spec.needs_data_dir and len(spec.layouts) > 1 else ""
        print(f"{spec.name:<14} {spec.kind:<8} {shape:<14} {present:<9} {spec.description}{extra}")
    return 0


def _cmd_download(args) -> int:
    names = [n for n in DATASETS if DATASETS[n].download_layout] if "all" in args.names else args.names
    ok = True
    for name in names:
        print(f"{name}:")
        try:
            ok &= _print_checks(download(name, args.data_dir, progress=not args.quiet, base_url=args.base_url))
        except DownloadError as e:
            print(f"  error: {e}", file=sys.stderr)
            ok = False
    return 0 if ok else 1


def _cmd_verify(args) -> int:
    root = data_dir_origin(args.data_dir)[0]
    if "all" in args.names:
        names = [n for n, s in DATASETS.items() if s.needs_data_dir and s.is_present(root)]
        if not names:
            print(f"no datasets present in {root}")
    else:
        names = args.names
    ok = True
    for name in names:
        if not DATASETS[name].needs_data_dir:
            print(f"{name}: bundled with scikit-learn; nothing to verify")
            continue
        print(f"{name}:")
        ok &= _print_checks(verify(name, root))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m core data`` with `argv` (the arguments after ``data``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2): report, don't exit the caller
        return int(e.code or 0)
    return {"list": _cmd_list, "download": _cmd_download, "verify": _cmd_verify}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
