"""The sinc filterbank reuses its taps without autograd, and only while nothing changed."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from diarefine.models.segmentation import SincFilterbank  # noqa: E402


def _bank() -> SincFilterbank:
    bank = SincFilterbank(8, 31)
    with torch.no_grad():
        bank.low_hz_.copy_(torch.linspace(30.0, 3000.0, 4)[:, None])
        bank.band_hz_.copy_(torch.linspace(100.0, 900.0, 4)[:, None])
    return bank


def test_cached_taps_equal_fresh_ones_and_follow_parameter_changes() -> None:
    bank = _bank()
    fresh = bank._build()
    with torch.inference_mode():
        first = bank.filters()
        assert bank.filters() is first  # reused
    torch.testing.assert_close(first, fresh, rtol=0, atol=0)
    with torch.no_grad():
        bank.low_hz_.add_(100.0)  # in place: version changes
        moved = bank.filters()
    assert moved is not first
    torch.testing.assert_close(moved, bank._build(), rtol=0, atol=0)
    assert not torch.allclose(moved, first)
    bank.load_state_dict(_bank().state_dict())  # loading copies in place, too
    with torch.no_grad():
        torch.testing.assert_close(bank.filters(), fresh, rtol=0, atol=0)
    bank.band_hz_ = torch.nn.Parameter(bank.band_hz_.detach() * 2)  # reassigned
    with torch.no_grad():
        torch.testing.assert_close(bank.filters(), bank._build(), rtol=0, atol=0)
        assert not torch.allclose(bank.filters(), fresh)


def test_taps_keep_their_gradient_when_autograd_is_on() -> None:
    bank = _bank()
    with torch.no_grad():
        bank.filters()  # fills the cache
    taps = bank.filters()
    assert taps.requires_grad
    taps.sum().backward()
    assert bank.low_hz_.grad is not None and bank.low_hz_.grad.abs().sum() > 0
