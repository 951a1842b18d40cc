"""The documentation: the Sphinx site builds strictly, its Python examples run, and README.md
stays a front page (at most 200 lines) whose relative links all lead somewhere."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
README = REPO / "README.md"
README_MAX_LINES = 200

# A ```python block right after this comment is not run here; the comment says what runs it.
NOT_RUN_HERE = "<!-- tests/test_docs.py does not run this block"
# The only such block: it needs an exported ONNX model (tests/export/test_export.py runs it).
EXPECTED_NOT_RUN = {"deployment.md": 1}

FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")


def fenced_blocks(text: str):
    """``(info string, first line number of the code, code, preceding non-blank line)`` of
    every fenced code block, in order (line numbers start at 1)."""
    lines = text.splitlines()
    blocks, index, previous = [], 0, ""
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            if lines[index].strip():
                previous = lines[index].strip()
            index += 1
            continue
        fence, info = match.group(1), match.group(2).strip()
        end = index + 1
        while end < len(lines) and not (lines[end].startswith(fence[0] * len(fence))
                                        and not lines[end].strip(fence[0]).strip()):
            end += 1
        blocks.append((info, index + 2, "\n".join(lines[index + 1:end]) + "\n", previous))
        previous, index = "", end + 1
    return blocks


def python_blocks(path: Path):
    """``(run, [(line, code), ...])``: the ```python blocks of a page, and those not run here."""
    run, not_run = [], []
    for info, line, code, previous in fenced_blocks(path.read_text()):
        if info.split()[:1] == ["python"]:
            (not_run if previous.startswith(NOT_RUN_HERE) else run).append((line, code))
    return run, not_run


def pages():
    return sorted(DOCS.glob("*.md")) + [README]


def pages_with_examples():
    return [p for p in pages() if python_blocks(p)[0]]


def without_code(text: str) -> str:
    """``text`` without fenced blocks and inline code spans (links inside them are not links)."""
    kept, inside = [], None
    for line in text.splitlines():
        match = FENCE.match(line)
        if inside is None and match:
            inside = match.group(1)
        elif inside is not None and line.startswith(inside[0] * len(inside)) \
                and not line.strip(inside[0]).strip():
            inside = None
        elif inside is None:
            kept.append(line)
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", "\n".join(kept))


def github_slug(heading: str) -> str:
    """The anchor GitHub (and MyST) give a heading: lower case, punctuation dropped, spaces → -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", without_code_blocks(path.read_text()), re.M)
    return {github_slug(h) for h in headings}


def without_code_blocks(text: str) -> str:
    skip = set()
    for _, line, code, _ in fenced_blocks(text):
        skip.update(range(line - 1, line + code.count("\n") + 1))   # 1-based fence..close lines
    return "\n".join(l for n, l in enumerate(text.splitlines(), 1) if n not in skip)


# --- the site -------------------------------------------------------------------------------

@pytest.mark.slow
def test_site_builds_strictly(tmp_path):
    missing = [module for module in ("sphinx", "myst_parser", "furo") if importlib.util.find_spec(module) is None]
    assert not missing, f"{', '.join(missing)} missing: the docs extra, pip install -e '.[docs]' (make test installs it)"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html",
         str(DOCS), str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    built = {p.stem for p in (tmp_path / "site").glob("*.html")}
    assert {p.stem for p in DOCS.glob("*.md")} <= built


# --- the examples ---------------------------------------------------------------------------

# Runs one page's blocks in order in one namespace, from the repository root; line numbers in
# tracebacks are the page's own.
RUNNER = """
import json, sys
page, blocks = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
for line, code in blocks:
    exec(compile("\\n" * (line - 1) + code, page, "exec"), namespace)
"""


def test_the_examples_are_found():
    api = DOCS / "api.md"
    run, not_run = python_blocks(api)
    assert len(run) >= 5 and not not_run
    assert api in pages_with_examples()


def test_only_the_known_blocks_are_not_run_here():
    not_run = {p.name: len(python_blocks(p)[1]) for p in pages() if python_blocks(p)[1]}
    assert not_run == EXPECTED_NOT_RUN
    # ... and tests/export/test_export.py does run the deployment example.
    assert 'joinpath("docs", "deployment.md")' in (REPO / "tests" / "export" / "test_export.py").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("page", pages_with_examples(), ids=lambda p: p.name)
def test_python_examples_run(page):
    blocks, _ = python_blocks(page)
    proc = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps([str(page), blocks]),
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{page.name}:\n{proc.stderr[-8000:]}"


# --- README.md ------------------------------------------------------------------------------

def readme_links():
    """Every link target of README.md outside code: inline links and images, and the targets
    of reference definitions; plus the reference labels used and defined."""
    text = without_code(README.read_text())
    definitions = dict(re.findall(r"^\[([^\]]+)\]:\s*(\S+)", text, re.M))
    inline = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    used = set(re.findall(r"\]\[([^\]]+)\]", text))
    return inline + list(definitions.values()), used, set(definitions)


def test_readme_is_a_front_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move text to docs/"


def test_readme_relative_links_point_to_existing_files_and_headings():
    targets, used, defined = readme_links()
    assert used <= defined, f"reference links without a definition: {used - defined}"
    relative = [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]
    assert len(relative) >= 10   # the docs pages, the figure, the figures' sources
    broken = []
    for target in relative:
        path, _, anchor = target.partition("#")
        file = README if not path else (REPO / path)
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading with that anchor in {path or 'README.md'}")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    targets, _, _ = readme_links()
    linked = {t.partition("#")[0] for t in targets}
    assert {f"docs/{p.name}" for p in DOCS.glob("*.md")} <= linked


def test_github_slugs():
    assert github_slug("The demo: `make demo`") == "the-demo-make-demo"
    assert github_slug("Results on the synthetic shift (3 seeds)") == "results-on-the-synthetic-shift-3-seeds"
    assert github_slug("Training at scale: GPUs, machines, precision") == \
        "training-at-scale-gpus-machines-precision"
