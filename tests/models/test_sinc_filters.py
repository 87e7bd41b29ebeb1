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


def test_sinc_of_chunks_into_a_kept_buffer_equals_a_fresh_result() -> None:
    from diarefine.models.segmentation import SincNet

    net = SincNet().eval()
    with torch.no_grad():
        net.wav_norm1d.weight.copy_(torch.tensor([1.7]))
        net.wav_norm1d.bias.copy_(torch.tensor([0.3]))
    recording = torch.randn(16000 * 4) * 0.1
    buffer = torch.empty(0)
    with torch.inference_mode():
        for count in (5, 2, 5, 7, 3):  # grows, fits, fits again, grows, fits
            fresh = net.sinc_of_chunks(recording, 4000, count, 16000)
            kept = net.sinc_of_chunks(recording, 4000, count, 16000, out=buffer)
            grew = kept.numel() > buffer.numel()
            assert (kept.data_ptr() == buffer.data_ptr()) != grew
            assert torch.equal(kept, fresh)
            if grew:
                buffer = kept  # as a caller keeps the larger result for the next call
            # the shared convolution equals each normalised chunk convolved on its own
            chunks = torch.stack([recording[c * 4000: c * 4000 + 16000]
                                  for c in range(count)])[:, None]
            alone = net.conv1d[0](net.wav_norm1d(chunks))
            torch.testing.assert_close(kept, alone, atol=1e-4, rtol=1e-4)
        assert buffer.shape[0] == 7
