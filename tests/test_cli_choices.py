"""The choice verbs refuse, with one line, a table that has already been through the same choice."""
from pathlib import Path

import pytest

from ganpaint.cli import main

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "scenes"


@pytest.mark.parametrize("verb, key", [("choose-levels", "realism_levels"), ("choose-brushes", "mean_brushes"),
                                       ("choose-fills", "fills")])
def test_a_choice_is_not_made_twice_on_the_shipped_table(verb, key, capsys):
    before = (SHIPPED / "concepts.json").read_bytes()
    with pytest.raises(SystemExit) as e:
        main([verb, "--model", str(SHIPPED)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"meta.{key}" in err and "re-run dissect first" in err and "Traceback" not in err
    assert (SHIPPED / "concepts.json").read_bytes() == before
