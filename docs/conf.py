"""Sphinx configuration of the fada-tf documentation (``make docs``; the pages are Markdown).

Why this generator: Sphinx + MyST-Parser (Markdown pages) + the Furo theme +
``sphinx.ext.autodoc`` (the API reference is generated from the docstrings). MkDocs 1.x is
no longer maintained in 2026 and Material for MkDocs is in maintenance mode, while Sphinx is
actively maintained, and its strict build (``python -m sphinx -W --keep-going -n``, nitpicky)
fails on a broken link between pages, a missing heading anchor, a missing cross-reference or
a module autodoc cannot import — ``tests/test_docs.py`` runs that build in CI.

The build is offline: no intersphinx inventories are fetched, so references to TensorFlow,
Keras and numpy types in signatures cannot resolve and are listed in ``nitpick_ignore_regex``.
"""

import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # autodoc imports TensorFlow

import fada_tf  # noqa: E402

project = "fada-tf"
author = "fada-tf contributors"
copyright = "fada-tf contributors; Apache-2.0"
release = version = fada_tf.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: `[text](page.md#section-title)` links resolve to the headings of every page (h1-h4).
myst_heading_anchors = 4

# autodoc (every `automodule` in reference.md lists its `:members:`): members in source order;
# docstrings are reStructuredText with Google-style "Args:" sections (napoleon).
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Keras' own docstrings (e.g. of an overridden ``from_config``) are not fada-tf's to show.
autodoc_inherit_docstrings = False
# The export modules import the ONNX tools of the `export` extra; the site needs only the
# `docs` extra (and the package), so they are stood in for while autodoc imports.
autodoc_mock_imports = ["onnx", "tf2onnx", "onnxruntime"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False

nitpicky = True
nitpick_ignore_regex = [
    # Third-party types in signatures (no inventories are fetched: the build is offline).
    ("py:.*", r"(keras|tf|tensorflow|np|numpy|onnx|ort|onnxruntime|click|PIL)(\..*)?"),
    ("py:.*", r"(Path|pathlib\.Path|Callable|Iterable|Sequence|Any|Literal)"),
    # The schema's choices (``Backbone = Literal["resnet101", ...]``) as autodoc splits them.
    ("py:.*", r"typing\.Literal\[.*"),
]

html_theme = "furo"
html_title = f"fada-tf {release}"
html_static_path = []


# Shapes written as Python unpacking in docstrings, e.g. "(N, *size, K)", are not emphasis:
# escape such a "*" so that docutils does not look for the emphasis' end.
_UNPACKING_STAR = re.compile(r"(?<=[(, ])\*(?=\w+[,)])")


def _escape_unpacking(app, what, name, obj, options, lines):
    lines[:] = [_UNPACKING_STAR.sub(r"\\*", line) for line in lines]


def setup(app):
    app.connect("autodoc-process-docstring", _escape_unpacking)
