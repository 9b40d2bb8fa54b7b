"""The ``eicore view`` and ``eicore agreement`` commands."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from eicore.datasets.samples import DataError
from eicore.viewer.agreement import agreement, ratings_files, read_ratings, write_agreement
from eicore.viewer.judge_review import LABELS_FILE, label_agreement, label_agreement_text
from eicore.viewer.review import REVIEWS, check_reviewer
from eicore.viewer.runs import ViewerError
from eicore.viewer.server import ViewerServer, judge_review_site, report_site, review_site

DEFAULT_PORT = 8765


def _port(text: str) -> int:
    """A TCP port number for ``--port`` (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0-65535; 0 picks a free one)")
    return port


def view(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="eicore view",
        description="Serve the viewer of run directories (or review an annotate run) on "
        "127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="run directories (review: one)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--image-root", type=Path, help="default: the runs' data.image_root")
    parser.add_argument("--review", action="store_true", help="review an `eicore annotate` run")
    parser.add_argument(
        "--judge-review",
        action="store_true",
        help="label each answer's triggers matched/missed, to check the run's judges",
    )
    parser.add_argument("--reviewer", help="your name: reviews/<reviewer>/ holds your files")
    args = parser.parse_args(argv)
    if args.review and (len(args.dirs) != 1 or not args.reviewer):
        parser.error("--review needs exactly one annotate run directory and --reviewer NAME")
    if args.judge_review and (len(args.dirs) != 1 or not args.reviewer or args.review):
        parser.error("--judge-review needs exactly one run directory and --reviewer NAME")
    try:
        if args.judge_review:
            site = judge_review_site(args.dirs[0], check_reviewer(args.reviewer), args.image_root)
        elif args.review:
            site = review_site(args.dirs[0], check_reviewer(args.reviewer), args.image_root)
        else:
            site = report_site(args.dirs, args.image_root)
    except (ViewerError, DataError, OSError) as exc:
        print(f"eicore view: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        server = ViewerServer(site, args.port)
    except OSError as exc:
        print(
            f"eicore view: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}; "
            "choose another --port (0 picks a free one)",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    what = "viewer"
    if args.review or args.judge_review:
        task = "judge review" if args.judge_review else "review"
        what = f"{task} of {args.dirs[0]} as {args.reviewer}"
    print(f"eicore view: {what} at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def agreement_command(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="eicore agreement",
        description="Krippendorff's alpha of reviewers' 0-5 ratings over the images at least "
        "two of them rated; writes agreement.md and agreement.json. For a run directory with "
        "judge-review labels: judge-human and human-human agreement per trigger (kappa, alpha).",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        help="annotate run directories, reviewer folders or ratings.jsonl files",
    )
    parser.add_argument("--out", type=Path, help="default: the first path's reviews/ folder")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    labelled = [p for p in args.paths if p.is_dir() and any(p.glob(f"{REVIEWS}/*/{LABELS_FILE}"))]
    if labelled:
        try:
            found = [label_agreement(p) for p in labelled]
        except (ViewerError, DataError) as exc:
            print(f"eicore agreement: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        for path, labels in zip(labelled, found, strict=True):
            text = label_agreement_text(labels)
            print(json.dumps(labels, indent=2) if args.json else f"{path}\n{text}")
        if len(labelled) == len(args.paths):
            return
        args.paths = [p for p in args.paths if p not in labelled]
    try:
        files = ratings_files(args.paths)
        result = agreement(read_ratings(files))
    except (ViewerError, DataError) as exc:
        print(f"eicore agreement: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    first = args.paths[0]
    out = args.out or (first / REVIEWS if (first / REVIEWS).is_dir() else files[0].parent.parent)
    md, js = write_agreement(out, result)
    print(json.dumps(asdict(result), indent=2) if args.json else md.read_text(encoding="utf-8"))
    print(f"written: {md}, {js}", file=sys.stderr)
