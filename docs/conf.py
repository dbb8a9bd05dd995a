"""Sphinx configuration for sa_sequencing.

Build (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Cross-references to the Python, SQLAlchemy and Alembic docs (intersphinx) need network
access, so they are only switched on with ``SA_SEQUENCING_DOCS_INTERSPHINX=1``; without
it the mapping is empty and the build works offline.
"""

from __future__ import annotations

import os
import sys
import warnings

DOCS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.abspath(os.path.join(DOCS_DIR, "..")))

try:
    from sa_sequencing import __version__ as _version
except ImportError:  # package not importable yet
    _version = "0.0.0"

# -- Project information -----------------------------------------------------

project = "sa_sequencing"
author = "sa_sequencing developers"
copyright = "sa_sequencing developers"
release = _version
version = ".".join(_version.split(".")[:2])

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    # cli.rst: the reference of ``sa-sequencing``, rendered from build_parser()
    "sphinxarg.ext",
]

language = "en"
root_doc = "index"
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
nitpicky = False

# -- autodoc -----------------------------------------------------------------

autodoc_typehints = "description"
autodoc_member_order = "bysource"

# autodoc reads every attribute of the declarative mixins (SequenceMixin, ...); SQLAlchemy
# warns when a @declared_attr is read outside a mapping. That is expected here.
warnings.filterwarnings("ignore", message="Unmanaged access of declarative attribute")

# -- intersphinx -------------------------------------------------------------

if os.environ.get("SA_SEQUENCING_DOCS_INTERSPHINX") == "1":
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "sqlalchemy": ("https://docs.sqlalchemy.org/en/20/", None),
        "alembic": ("https://alembic.sqlalchemy.org/en/latest/", None),
    }
else:
    intersphinx_mapping = {}

# -- HTML output -------------------------------------------------------------

html_theme = "alabaster"
html_title = f"sa_sequencing {release}"
