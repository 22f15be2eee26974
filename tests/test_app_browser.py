"""End to end: the workbench served on loopback, driven in Debian's headless chromium through Playwright.

A user's first visit: load an example, type a prompt, run, hear and see the result; rerank with 3 candidates;
mark an exclude span (typed, and by two clicks on the picture) and run again;
re-run the first run from the history. The final page is saved as a
screenshot (the test's tmp folder, and /tmp/app_screenshot.png) for a person to look at; with reranking,
the page with its candidates is saved there too (candidates.png).
"""

import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000  # a run on a busy 2-core machine (training in the background) can take a while

pytestmark = pytest.mark.heavy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def rerank_skip_reason() -> str | None:
    from tests.test_app import give_debug_model_a_judge

    return give_debug_model_a_judge()


@pytest.fixture(scope="module")
def app_url(rerank_skip_reason) -> Iterator[str]:
    """The page served in this process (so the debug separator with its judge is the one the page uses)."""
    from app.app import build_demo

    demo = build_demo("debug")
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                            quiet=True)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test_deps.sh (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def run_and_wait(page, run_number: int) -> None:
    """Click Separate and wait for that run to top the history table (newest first).

    Waiting on the row count is not enough: the empty table already shows one blank row.
    """
    from playwright.sync_api import expect

    page.locator("#run").click()
    expect(history_cell(page, 0, 0)).to_have_text(re.compile(rf"^\s*{run_number}\s*$"), timeout=TIMEOUT_MS)


def history_cell(page, row: int, col: int):
    """A rendered cell of the history table (Gradio draws rows as role=row divs; its <table> only sizes columns)."""
    return page.locator(f'#history [data-testid="cell-{row}-{col}"]')


def set_candidates(page, k: int) -> None:
    """Move the candidates slider to k with the keyboard (native range events, which Gradio always sees).

    Each press is checked: on a busy machine a press can land while Gradio re-renders the slider after the one
    before, and is lost (seen once in a full `make test`: 2 where 3 was asked for).
    """
    from playwright.sync_api import expect

    slider = page.locator("#candidates input[type=range]")
    slider.press("Home")
    for _ in range(4 * k):
        value = int(slider.input_value())
        if value == k:
            break
        slider.press("ArrowRight" if value < k else "ArrowLeft")
        page.wait_for_timeout(150)
    expect(slider).to_have_value(str(k))
    expect(page.locator("#candidates input[type=number]")).to_have_value(str(k))


def test_workbench_in_chromium(app_url, browser, rerank_skip_reason, tmp_path):
    """The walk-through; on failure the page as it was is saved (tmp folder and /tmp/app_failure.png)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        walk_through(page, app_url, rerank_skip_reason, tmp_path)
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        shutil.copyfile(tmp_path / "failure.png", "/tmp/app_failure.png")
        raise
    finally:
        page.close()
    if rerank_skip_reason:
        pytest.skip(f"ran all but the candidates step: {rerank_skip_reason}")


def walk_through(page, app_url: str, rerank_skip_reason: str | None, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_url)

    # 1. one-click example, then our own prompt
    page.locator("#example-piano_and_dog").click()
    expect(page.locator("#overview img")).to_be_visible()
    expect(page.locator("#input-info")).to_contain_text("piano_and_dog.flac")
    prompt = page.locator("#prompt textarea")
    expect(prompt).to_have_value("piano")
    prompt.fill("  ")
    page.locator("#run").click()
    expect(page.get_by_text("the prompt is empty")).to_be_visible()  # a readable message, not a traceback
    assert "Traceback" not in page.content()
    prompt.fill("dog barking")
    run_and_wait(page, 1)
    expect(page.locator("#timing")).to_contain_text("s in all")
    expect(page.locator("#target")).not_to_contain_text("Empty")
    expect(page.locator("#comparison img")).to_be_visible()
    assert page.locator("#comparison img").evaluate("img => img.naturalWidth") == 1200
    expect(page.locator("#dl-target-mp3")).to_be_visible()

    # 2. three reranking candidates, each listed with a score, the reranker's pick marked
    if rerank_skip_reason is None:
        page.get_by_text("Advanced (API defaults)").click()
        set_candidates(page, 3)
        run_and_wait(page, 2)
        expect(history_cell(page, 0, 3)).to_contain_text("3 candidates")
        labels = page.locator("#candidates-panel .candidate:visible")
        expect(labels).to_have_count(3)
        for i in range(3):
            expect(page.locator(f"#cand-label-{i}")).to_contain_text("score")
        expect(page.locator("#candidates-panel")).to_contain_text("★ best score")
        page.locator("#cand-use-1").click()
        expect(page.locator("#cand-label-1")).to_contain_text("in use")
        page.screenshot(path=str(tmp_path / "candidates.png"), full_page=True)
        set_candidates(page, 1)
    runs = 2 if rerank_skip_reason is None else 1

    # 3. an exclude span, typed; then one drawn by two clicks on the picture
    page.locator("#span-start input").fill("2")
    page.locator("#span-end input").fill("4")
    page.locator("#span-kind").get_by_text("exclude").click()
    expect(page.locator("#span-kind").get_by_label("exclude")).to_be_checked()
    page.locator("#add-span").click()
    expect(page.locator("#spans")).to_contain_text("4")
    img = page.locator("#overview img")
    box = img.bounding_box()
    img.click(position={"x": box["width"] * 0.70, "y": box["height"] * 0.5})  # ~5.5 s: the start...
    expect(page.locator("#span-start input")).to_have_value(re.compile(r"^5\.\d+$"))
    expect(page.locator("#span-end input")).to_have_value("")  # ...and the end is awaited
    img.click(position={"x": box["width"] * 0.85, "y": box["height"] * 0.5})  # ~6.8 s: the end
    expect(page.locator("#span-end input")).to_have_value(re.compile(r"^6\.\d+$"))
    run_and_wait(page, runs + 1)
    expect(history_cell(page, 0, 4)).to_have_text(re.compile(r"^\s*-2-4\s*$"))

    # 4. re-run the first run from the history: its settings (no spans) come back and it runs again
    page.locator("#history-pick input").click()
    page.get_by_role("option", name=re.compile(r"^#1 ")).click()
    expect(page.locator("#history-pick input")).to_have_value(re.compile(r"^#1 "))
    page.locator("#rerun").click()
    expect(history_cell(page, 0, 0)).to_have_text(re.compile(rf"^\s*{runs + 2}\s*$"))
    expect(history_cell(page, 0, 2)).to_have_text(re.compile(r"^\s*dog barking\s*$"))
    expect(history_cell(page, 0, 4)).to_have_text(re.compile(r"^\s*—\s*$"))  # run 1 had no spans

    page.locator("#run").scroll_into_view_if_needed()
    shot = tmp_path / "workbench.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, "/tmp/app_screenshot.png")
    assert shot.stat().st_size > 10_000
    assert not errors, f"errors in the page: {errors}"
