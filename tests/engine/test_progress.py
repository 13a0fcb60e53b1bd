import pytest

from photoforge.engine.progress import Aborted, Progress


def test_sub_progress_maps_into_parent_range_and_shares_cancel():
    seen = []
    parent = Progress(lambda f, m: seen.append(round(f, 3)))
    child = parent.sub(0.5, 0.7)
    child.set(0.5)
    assert seen == [0.6]
    child.cancel()
    assert parent.cancelled
    with pytest.raises(Aborted):
        parent.sub(0.0, 0.1).check_aborted()


def test_fraction_is_clamped():
    p = Progress()
    p.set(1.7)
    assert p.fraction == 1.0
    p.set(-3)
    assert p.fraction == 0.0
