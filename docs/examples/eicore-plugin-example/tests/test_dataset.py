"""``triggers-csv``: rows into samples, and bad files refused with the file and line named."""

from __future__ import annotations

from pathlib import Path

import pytest
from eicore_plugin_example.dataset import TriggersCSV, TriggersCSVConfig

from eicore import DataError


def load(tmp_path: Path, text: str) -> list:  # type: ignore[type-arg]
    path = tmp_path / "samples.csv"
    path.write_text(text, encoding="utf-8")
    return TriggersCSV(TriggersCSVConfig(path=str(path))).load()


def test_rows_become_samples(tmp_path: Path) -> None:
    first, second = load(
        tmp_path,
        "image,question,triggers,emotion\n"
        "angry/1.png,Why is he angry?,a broken vase; a slammed door ,angry\n"
        'sad/2.png,"Why is she sad, here?",rain;,\n',
    )
    assert first.id == "angry/1.png" and first.split == "csv"
    assert first.triggers == ("a broken vase", "a slammed door")
    assert first.emotion == "angry"
    assert second.question == "Why is she sad, here?"
    assert second.triggers == ("rain",) and second.emotion is None


def test_a_missing_column_names_the_file_and_the_column(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"samples\.csv, line 1: missing column\(s\) triggers"):
        load(tmp_path, "image,question\na.png,Why?\n")


def test_an_incomplete_row_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"samples\.csv, line 3: needs an image"):
        load(tmp_path, "image,question,triggers\na.png,Why?,rain\nb.png,Why?,\n")


def test_a_repeated_id_names_both_lines(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"line 3: id 'a.png' is already on line 2"):
        load(tmp_path, "image,question,triggers\na.png,Why?,rain\na.png,Why not?,sun\n")


def test_no_path_is_refused_before_anything_is_read() -> None:
    with pytest.raises(DataError, match="needs data.path"):
        TriggersCSV(TriggersCSVConfig())
