"""docs/api.rst documents every public name of ``sa_sequencing`` and every public
method of the manager and of ``Sequencing``, each parameter included: a method added
to the code without its entry fails here (the Sphinx build alone would not notice)."""

from __future__ import annotations

import inspect
import re

import pytest
from recipe_support import RECIPES

import sa_sequencing
from sa_sequencing import SequenceManager
from sa_sequencing import Sequencing

API = (RECIPES.parent / "api.rst").read_text()


def public_methods(cls: type) -> list[str]:
    return sorted(
        name
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_")
        and callable(value)
        and not isinstance(inspect.getattr_static(cls, name), property)
    )


def entry(method: str) -> str:
    """The text of ``.. automethod:: method`` up to the next directive of its level."""
    found = re.search(
        rf"^   \.\. automethod:: {method}\n(.*?)(?=^   \.\. |^\S|\Z)", API, re.M | re.S
    )
    assert found, f"docs/api.rst has no '.. automethod:: {method}'"
    return found.group(1)


def test_every_top_level_name_is_in_the_reference():
    missing = [
        name
        for name in sa_sequencing.__all__
        if name != "__version__" and not re.search(rf"^\.\. auto\w+:: {name}$", API, re.M)
    ]
    assert missing == []


@pytest.mark.parametrize("cls", [SequenceManager, Sequencing], ids=lambda c: c.__name__)
def test_every_method_has_an_entry_with_each_parameter(cls):
    for method in public_methods(cls):
        text = entry(method)
        params = [p for p in inspect.signature(getattr(cls, method)).parameters if p != "self"]
        undocumented = [p for p in params if f":param {p}:" not in text]
        assert undocumented == [], f"{cls.__name__}.{method}: document {undocumented}"


def test_the_async_manager_has_every_method_of_the_manager():
    # api.rst documents AsyncSequenceManager with :members:, pointing to the manager
    # for the parameters; that holds only while the two have the same methods.
    assert set(public_methods(sa_sequencing.AsyncSequenceManager)) - {"sync_manager"} == set(
        public_methods(SequenceManager)
    )
    assert re.search(r"^\.\. autoclass:: AsyncSequenceManager\n   :members:$", API, re.M)


def test_the_reference_names_no_internal_module():
    # the package's modules are moving: the reference uses top-level paths only
    assert re.findall(r"sa_sequencing\.(?!sqlite\b|cli\b)[a-z_]+\.", API) == []
