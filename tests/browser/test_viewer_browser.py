"""The viewer in headless Chromium: a generated report.html (filters, a sample expanded, recalled
triggers marked, two runs side by side), `eicore view --review` (edit, delete and add
triggers, rate, save, and the saved file on disk) and `eicore view --judge-review` (label each
trigger of an answer matched or missed, save, reopen)."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eicore_test_support import CLI, read_json, read_jsonl
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from eicore.testing.runs import synthetic_images
from eicore.viewer import write_report
from eicore.viewer.runs import load_records

N = 8


def wait_ready(browser: WebDriver) -> None:
    WebDriverWait(browser, 15).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") is not None
    )
    body = browser.find_element(By.TAG_NAME, "body")
    assert body.get_attribute("data-ready") == "true", browser.find_element(By.ID, "status").text


def rows(browser: WebDriver) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, "tr.sample-row")


def count_text(browser: WebDriver) -> str:
    return browser.find_element(By.ID, "count").text


def type_into(field: WebElement, text: str) -> None:
    field.clear()
    field.send_keys(text)


def test_report_filters_expands_and_marks_recalled_triggers(
    cli: CLI, eibench_dir: Path, tmp_path: Path, browser: WebDriver, artifacts: Path
) -> None:
    images = tmp_path / "images"
    synthetic_images(eibench_dir, images, limit=N)
    common = ["judge=keyword", "metrics=[]", f"data.root={eibench_dir}", f"data.limit={N}",
              f"data.image_root={images}", f"run.root={tmp_path / 'runs'}"]  # fmt: skip
    cli.run("model=echo-vision", *common)
    cli.run("model=echo", "strategy=cfsa", *common)
    direct, cfsa = (next((tmp_path / "runs").glob(f"*__{s}__*")) for s in ("direct", "cfsa"))
    assert (direct / "report.html").is_file() and (cfsa / "report.html").is_file()
    report = write_report(tmp_path, [direct, cfsa])
    browser.get(report.as_uri())
    wait_ready(browser)
    assert len(rows(browser)) == 2 * N and count_text(browser) == f"{2 * N} of {2 * N} answers"

    # filter by model: only the CFSA run's answers
    Select(browser.find_element(By.ID, "f-model")).select_by_value("echo")
    assert {r.find_elements(By.TAG_NAME, "td")[2].text for r in rows(browser)} == {
        "echo / cfsa / basic"
    }
    Select(browser.find_element(By.ID, "f-model")).select_by_value("")

    # filter by score: the answers that recalled something, by the records' own numbers
    records = {"direct": load_records(direct), "cfsa": load_records(cfsa)}
    recalled = [(run, r) for run, rs in records.items() for r in rs if r.judgments[0].recalled]
    assert recalled, "the echo answers should recall some triggers"
    type_into(browser.find_element(By.ID, "f-min"), "1")
    assert len(rows(browser)) == len(recalled)
    assert count_text(browser) == f"{len(recalled)} of {2 * N} answers"
    Select(browser.find_element(By.ID, "f-status")).select_by_value("failed")
    assert rows(browser) == [] and count_text(browser) == f"0 of {2 * N} answers"
    Select(browser.find_element(By.ID, "f-status")).select_by_value("")

    # expand a CFSA sample: its recalled triggers are marked, the direct run sits beside it
    run, record = next((run, r) for run, r in recalled if run == "cfsa")
    row = browser.find_element(
        By.CSS_SELECTOR, f'tr.sample-row[data-id="{record.sample.id}"][data-run="1"]'
    )
    row.click()
    detail = browser.find_element(By.CSS_SELECTOR, "tr.sample-detail")
    columns = detail.find_elements(By.CSS_SELECTOR, ".run-column")
    assert [c.find_element(By.TAG_NAME, "h3").text for c in columns] == [
        "echo / cfsa / basic",
        "echo-vision / direct / basic",
    ]
    marked = columns[0].find_elements(By.CSS_SELECTOR, "li.trigger.recalled")
    assert [int(li.get_attribute("data-index")) for li in marked] == list(
        record.judgments[0].matched
    )
    assert all(li.find_element(By.CSS_SELECTOR, ".by").text == "✓ keyword" for li in marked)
    triggers = columns[0].find_elements(By.CSS_SELECTOR, "li.trigger")
    assert [li.find_element(By.CSS_SELECTOR, ".text").text for li in triggers] == list(
        record.sample.triggers
    )
    other = next(r for r in records["direct"] if r.sample.id == record.sample.id)
    assert len(columns[1].find_elements(By.CSS_SELECTOR, "li.trigger.recalled")) == len(
        other.judgments[0].matched
    )
    # every CFSA call is in the trace; the thumbnail is the real (synthetic) image
    columns[0].find_element(By.CSS_SELECTOR, "details.trace > summary").click()
    calls = columns[0].find_elements(By.CSS_SELECTOR, "details.call")
    assert len(calls) == len(record.response.trace) == 11
    assert "round 6 · summarizer" in calls[-1].text
    thumb = detail.find_element(By.CSS_SELECTOR, "img.thumb")
    assert browser.execute_script("return arguments[0].naturalWidth", thumb) == 16
    browser.save_screenshot(str(artifacts / "report.png"))

    # a second click folds it away
    row.click()
    assert browser.find_elements(By.CSS_SELECTOR, "tr.sample-detail") == []


@pytest.fixture
def serve_review(cli: CLI) -> Iterator[Callable[..., str]]:
    """Start `eicore view --review` (or another task's flag) in a subprocess; returns its URL."""
    started: list[subprocess.Popen[str]] = []

    def start(run_dir: Path, reviewer: str, task: str = "--review") -> str:
        command = [sys.executable, "-c", "from eicore.commands.cli import main; main()", "view",
                   str(run_dir), task, "--reviewer", reviewer, "--port", "0"]  # fmt: skip
        proc = subprocess.Popen(command, cwd=cli.cwd, env=cli.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        started.append(proc)
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout=60)
        line = proc.stdout.readline() if ready else ""
        assert "http://127.0.0.1:" in line, f"eicore view did not start: {line}"
        return line.split(" at ")[1].split()[0]

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


def test_review_edits_triggers_rates_and_saves(
    cli: CLI,
    tmp_path: Path,
    make_image: Callable[..., Path],
    browser: WebDriver,
    artifacts: Path,
    serve_review: Callable[[Path, str], str],
) -> None:
    folder = tmp_path / "imgs"
    make_image(folder / "anger" / "a.jpg", format="JPEG", size=(64, 48))
    make_image(folder / "joy" / "b.png", color=(240, 220, 40), size=(64, 48))
    cli("annotate", "model=echo", f"data.image_root={folder}", f"run.root={tmp_path / 'ann'}",
        "run.progress=false")  # fmt: skip
    (run_dir,) = (tmp_path / "ann").iterdir()
    machine = read_json(run_dir / "basic_ground_truth.json")["anger/a.jpg"].splitlines()
    machine = [line.split(". ", 1)[1] for line in machine]

    browser.get(serve_review(run_dir, "alice"))
    wait_ready(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "input[type=radio]:checked") == []
    assert all(not b.is_enabled() for b in browser.find_elements(By.CSS_SELECTOR, "button.save"))
    item = browser.find_element(By.CSS_SELECTOR, '.review-item[data-image="anger/a.jpg"]')
    image = item.find_element(By.CSS_SELECTOR, "img.sample-image")  # full size, from /image/
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script("return arguments[0].naturalWidth", image) == 64
    )
    with Image.open(folder / "anger" / "a.jpg") as original:
        assert original.size == (64, 48)

    fields = item.find_elements(By.CSS_SELECTOR, "input.trigger-input")
    assert [f.get_attribute("value") for f in fields] == machine
    type_into(fields[0], "a raised fist")  # edit
    item.find_elements(By.CSS_SELECTOR, "button.delete-trigger")[1].click()  # delete the second
    item.find_element(By.CSS_SELECTOR, "button.add-trigger").click()  # add one
    item.find_elements(By.CSS_SELECTOR, "input.trigger-input")[-1].send_keys("a broken vase")
    save = item.find_element(By.CSS_SELECTOR, "button.save")
    assert not save.is_enabled()  # no rating yet
    item.find_element(By.CSS_SELECTOR, "input[type=radio][value='4']").click()
    save.click()
    status = item.find_element(By.CSS_SELECTOR, ".save-status")
    WebDriverWait(browser, 10).until(lambda d: "ok" in status.get_attribute("class").split())
    browser.save_screenshot(str(artifacts / "review.png"))

    expected = ["a raised fist", *machine[2:], "a broken vase"]
    saved = read_json(run_dir / "reviews" / "alice" / "basic_ground_truth.json")
    assert saved == {"anger/a.jpg": "\n".join(f"{n}. {t}" for n, t in enumerate(expected, 1))}
    assert read_jsonl(run_dir / "reviews" / "alice" / "ratings.jsonl") == [
        {"image": "anger/a.jpg", "reviewer": "alice", "rating": 4}
    ]
    assert json.loads((run_dir / "reviews" / "alice" / "user.jsonl").read_text()) == json.loads(
        (run_dir / "user.jsonl").read_text().splitlines()[0]
    )

    # reopening shows alice's work, and only hers: the other image is still unrated
    browser.refresh()
    wait_ready(browser)
    assert browser.find_element(By.ID, "reviewed-count").text == "1 of 2 reviewed"
    checked = browser.find_elements(By.CSS_SELECTOR, "input[type=radio]:checked")
    assert [c.get_attribute("value") for c in checked] == ["4"]
    item = browser.find_element(By.CSS_SELECTOR, '.review-item[data-image="anger/a.jpg"]')
    values = [
        f.get_attribute("value") for f in item.find_elements(By.CSS_SELECTOR, "input.trigger-input")
    ]
    assert values == expected


def test_judge_review_labels_triggers_and_round_trips(
    cli: CLI,
    tmp_path: Path,
    eibench_dir: Path,
    browser: WebDriver,
    artifacts: Path,
    serve_review: Callable[..., str],
) -> None:
    cli.run("model=echo", "judge=keyword", "metrics=[trigger_recall]", f"data.root={eibench_dir}",
            f"run.root={tmp_path / 'runs'}", "data.limit=3")  # fmt: skip
    (run_dir,) = (tmp_path / "runs").iterdir()
    records = load_records(run_dir)
    first = records[0]
    browser.get(serve_review(run_dir, "carol", "--judge-review"))
    wait_ready(browser)
    # nothing preselected, nothing savable, the judges' verdicts not shown
    assert browser.find_elements(By.CSS_SELECTOR, "input[type=radio]:checked") == []
    assert all(not b.is_enabled() for b in browser.find_elements(By.CSS_SELECTOR, "button.save"))
    assert browser.find_element(By.ID, "reviewed-count").text == "0 of 3 labelled"
    item = browser.find_element(By.CSS_SELECTOR, f'.judge-item[data-sample="{first.sample.id}"]')
    assert first.response is not None
    assert item.find_element(By.CSS_SELECTOR, "pre.answer").text == first.response.text.strip()
    rows = item.find_elements(By.CSS_SELECTOR, "li.label-trigger")
    assert [r.find_element(By.CSS_SELECTOR, ".text").text for r in rows] == list(
        first.sample.triggers
    )
    chosen = ["matched" if i % 2 == 0 else "missed" for i in range(len(rows))]
    save = item.find_element(By.CSS_SELECTOR, "button.save")
    for row, label in zip(rows[:-1], chosen, strict=False):
        row.find_element(By.CSS_SELECTOR, f"input.label-{label}").click()
    assert not save.is_enabled()  # one trigger still unlabelled
    rows[-1].find_element(By.CSS_SELECTOR, f"input.label-{chosen[-1]}").click()
    save.click()
    status = item.find_element(By.CSS_SELECTOR, ".save-status")
    WebDriverWait(browser, 10).until(lambda d: "ok" in status.get_attribute("class").split())
    browser.save_screenshot(str(artifacts / "judge-review.png"))
    saved = read_jsonl(run_dir / "reviews" / "carol" / "judge_labels.jsonl")
    assert saved == [{"sample": first.sample.id, "reviewer": "carol", "labels": chosen}]

    # reopening shows carol's labels; another reviewer starts from nothing
    browser.refresh()
    wait_ready(browser)
    assert browser.find_element(By.ID, "reviewed-count").text == "1 of 3 labelled"
    item = browser.find_element(By.CSS_SELECTOR, f'.judge-item[data-sample="{first.sample.id}"]')
    checked = item.find_elements(By.CSS_SELECTOR, "input[type=radio]:checked")
    assert [c.get_attribute("value") for c in checked] == chosen
    browser.get(serve_review(run_dir, "dave", "--judge-review"))
    wait_ready(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "input[type=radio]:checked") == []
