"""Front end: MelConfig geometry, batched log-Mel, and band selection that really removes bands."""
import pytest
import torch

from respcore import MelConfig, log_mel, select_bands
from respcore.datasets.base import FeatureSet, age_group
from respcore.features import validate_bands
from respcore.fileio import read_json, stable_hash, write_json
from respcore.profiles import PROFILES, get_profile


def test_default_config_gives_64_by_251_for_8_seconds():
    cfg = MelConfig()
    assert cfg.shape == (64, 251)
    x = log_mel(torch.randn(3, cfg.cycle_samples), cfg)
    assert x.shape == (3, 1, 64, 251)
    assert torch.isfinite(x).all()


def test_log_mel_is_batched_consistently():
    cfg = MelConfig(cycle_seconds=1.0)
    wav = torch.randn(5, cfg.cycle_samples)
    whole = log_mel(wav, cfg)
    chunked = log_mel(wav, cfg, batch_size=2)
    assert torch.allclose(whole, chunked, atol=1e-4)
    assert torch.allclose(log_mel(wav[:, None], cfg), whole)


def test_log_mel_puts_a_tone_in_the_right_band():
    cfg = MelConfig(cycle_seconds=1.0)
    t = torch.arange(cfg.cycle_samples) / cfg.sample_rate
    tone = torch.sin(2 * torch.pi * 500.0 * t)[None]
    spec = log_mel(tone, cfg)[0, 0].mean(-1)  # (F,)
    centers = cfg.band_centers_hz()
    assert abs(centers[spec.argmax()].item() - 500.0) < 60.0


def test_nyquist_and_range_are_checked():
    with pytest.raises(ValueError, match="Nyquist"):
        MelConfig(sample_rate=8000, f_max=5000)
    with pytest.raises(ValueError):
        MelConfig(f_min=3000, f_max=2000)
    assert MelConfig(sample_rate=8000, f_max=4000).shape[0] == 64


def test_select_bands_removes_exactly_the_bands_asked():
    x = torch.arange(2 * 1 * 8 * 3, dtype=torch.float32).reshape(2, 1, 8, 3)
    kept = [0, 3, 7]
    y = select_bands(x, kept)
    assert y.shape == (2, 1, 3, 3)
    for i, b in enumerate(kept):
        assert torch.equal(y[:, :, i], x[:, :, b])


@pytest.mark.parametrize("bands, msg", [([], "empty"), ([1, 1], "duplicate"), ([0, 64], "outside"),
                                        ([-1, 2], "outside"), ([3, 1], "sorted")])
def test_invalid_band_selections_raise(bands, msg):
    with pytest.raises(ValueError, match=msg):
        validate_bands(bands, 64)


def test_featureset_band_selection_uses_original_indices():
    cfg = MelConfig(cycle_seconds=0.5)
    import pandas as pd
    x = torch.arange(8, dtype=torch.float32).view(1, 1, 8, 1).repeat(4, 1, 1, 3)  # band b holds value b
    meta = pd.DataFrame({"patient": list("aabb"), "age": [3.0, 3.0, 40.0, None], "age_group": ["pediatric"] * 2
                         + ["adult", None], "recording": list("wxyz"), "label": ["n"] * 4})
    fs = FeatureSet(x=x, y=torch.zeros(4, dtype=torch.long), classes=("n",), meta=meta,
                    mel=MelConfig(n_mels=8, cycle_seconds=cfg.cycle_seconds))
    a = fs.with_bands([1, 3, 5, 7])
    b = a.with_bands([3, 7])
    assert b.kept_bands == (3, 7) and b.x[0, 0, :, 0].tolist() == [3.0, 7.0]
    with pytest.raises(ValueError, match="already removed"):
        b.with_bands([2])
    assert len(fs.subset([0, 2])) == 2 and list(fs.subset([3]).groups) == ["b"]


def test_age_group_boundaries():
    assert age_group(0.25) == "pediatric" and age_group(17.9) == "pediatric"
    assert age_group(18.0) == "adult" and age_group(None) is None and age_group(float("nan")) is None


def test_profiles_and_their_front_ends():
    assert set(PROFILES) == {"smoke", "cpu", "paper"}
    assert get_profile("paper").mel().shape == (64, 251)
    assert get_profile("cpu").mel().n_frames < 251
    with pytest.raises(ValueError, match="unknown profile"):
        get_profile("fast")


def test_json_is_atomic_and_hash_is_order_free(tmp_path):
    p = write_json(tmp_path / "a" / "r.json", {"b": 1, "a": [1, 2]})
    assert read_json(p) == {"a": [1, 2], "b": 1}
    assert list(tmp_path.joinpath("a").iterdir()) == [p]  # no temporary left behind
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})


@pytest.mark.parametrize("front", ["mel", "linear", "gammatone"])
def test_each_front_maps_its_bands_to_hz_and_a_tone_lands_in_its_band(front):
    from respcore.features import hz_overlap, kept_ranges_hz

    mel = MelConfig(cycle_seconds=1.0, front=front)
    ranges = mel.band_ranges_hz()  # (64, 2)
    assert ranges.shape == (64, 2) and ranges[0, 0] == pytest.approx(50) and ranges[-1, 1] == pytest.approx(2000)
    assert torch.allclose(ranges[1:, 0], ranges[:-1, 1]), "the ranges tile f_min..f_max"
    centres = mel.band_centers_hz()
    assert ((ranges[:, 0] < centres) & (centres < ranges[:, 1])).all()
    scale = {"mel": lambda f: 2595 * torch.log10(1 + f / 700), "linear": lambda f: f,
             "gammatone": lambda f: 21.4 * torch.log10(1 + 0.00437 * f)}[front]
    steps = torch.diff(scale(centres))
    assert torch.allclose(steps, steps.mean().expand_as(steps), rtol=1e-6), f"{front}: centres evenly spaced on its scale"
    t = torch.arange(mel.cycle_samples) / mel.sample_rate
    for f in (180.0, 700.0, 1500.0):
        x = log_mel(torch.sin(2 * torch.pi * f * t)[None], mel)[0, 0].mean(-1)  # (64,)
        lo, hi = ranges[int(x.argmax())].tolist()
        assert lo - 0.6 * (hi - lo) <= f <= hi + 0.6 * (hi - lo), f"{front}: a {f} Hz tone peaks in band [{lo}, {hi}]"
    kept = kept_ranges_hz(mel, [0, 1, 2, 40])
    assert len(kept) == 2 and kept[0] == (pytest.approx(50), pytest.approx(float(ranges[2, 1])))
    assert hz_overlap(kept, kept) == pytest.approx(1.0) and hz_overlap(kept[:1], kept[1:]) == 0.0


def test_the_default_front_keeps_the_cache_keys_it_had():
    assert MelConfig().fingerprint() == MelConfig(front="mel").fingerprint() == "87232de1f55b"
    assert MelConfig(front="linear").fingerprint() != MelConfig().fingerprint()
    with pytest.raises(ValueError, match="unknown front"):
        MelConfig(front="cqt")
