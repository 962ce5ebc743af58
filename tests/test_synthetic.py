"""The built-in synthetic corpus: counts, determinism, ground truth, real loaders, learnable classes."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from respcore.datasets import synthetic
from respcore.datasets.synthetic import calibration as cal
from respcore.datasets.synthetic import make_synthetic, target_counts
from respcore.datasets.synthetic.design import (COMPONENT_RANGES, NOISE_BANDS_HZ, RecordingPlan, band_truth,
                                                component_windows, render)
from respcore.datasets.synthetic.examples import read_items
from respcore.datasets.synthetic.plan import plan_icbhi, plan_sprsound
from respcore.features import MelConfig, log_mel

SMOKE_MEL = MelConfig(cycle_seconds=2.0)


def corpus(tmp_path_factory: pytest.TempPathFactory, flavor: str, size: str | int = "smoke") -> Path:
    """A corpus shared by every test module of the session (make_synthetic reuses a complete one)."""
    root = tmp_path_factory.getbasetemp() / f"synthetic-{flavor}-{size}"
    return make_synthetic(root, flavor, size, seed=0, mel=SMOKE_MEL).path


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_real_sizes_reproduce_the_published_tables() -> None:
    assert target_counts("icbhi", 6898) == cal.ICBHI_CYCLES
    assert target_counts("sprsound", 9089) == cal.SPRSOUND_EVENTS


@pytest.mark.parametrize("flavor,n", [("icbhi", 200), ("icbhi", 1000), ("sprsound", 200), ("sprsound", 57)])
def test_small_sizes_keep_every_class_and_the_total(flavor: str, n: int) -> None:
    counts = target_counts(flavor, n)
    assert sum(sum(c.values()) for c in counts.values()) == n
    assert all(v >= 1 for v in counts["train"].values())
    assert counts.get("inter", {}).get("Stridor", 0) == 0  # absent from the real inter-test set too


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flavor"):
        make_synthetic(tmp_path / "a", "esc50")
    with pytest.raises(ValueError, match="size"):
        make_synthetic(tmp_path / "a", "icbhi", "huge")
    with pytest.raises(ValueError, match="too small"):
        make_synthetic(tmp_path / "a", "icbhi", 10)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "mine.txt").write_text("user data")
    with pytest.raises(ValueError, match="not empty"):
        make_synthetic(tmp_path / "b", "icbhi", 40)


def test_deterministic_from_seed_and_reused_when_complete(tmp_path: Path) -> None:
    a = make_synthetic(tmp_path / "a", "icbhi", 40, seed=3)
    b = make_synthetic(tmp_path / "b", "icbhi", 40, seed=3)
    c = make_synthetic(tmp_path / "c", "icbhi", 40, seed=4)
    da, db, dc = _digest(a.path), _digest(b.path), _digest(c.path)
    assert da == db
    assert {k: v for k, v in da.items() if k.endswith(".wav")} != {k: v for k, v in dc.items() if k.endswith(".wav")}
    path, truth = make_synthetic(tmp_path / "a", "icbhi", 40, seed=3)  # unpackable; reused, not rewritten
    assert path == a.path and truth["class_counts"] == a.truth["class_counts"] and _digest(path) == da
    other = make_synthetic(tmp_path / "a", "icbhi", 40, seed=3, mel=MelConfig(n_mels=32))
    assert max(other.truth["nuisance_bands"] + other.truth["informative_bands"]) == 31
    with pytest.raises(ValueError, match="another corpus"):
        make_synthetic(tmp_path / "a", "icbhi", 40, seed=5)
    next(a.path.glob("*.wav")).unlink()
    with pytest.raises(ValueError, match="incomplete"):
        make_synthetic(tmp_path / "a", "icbhi", 40, seed=3)


@pytest.mark.parametrize("flavor", ["icbhi", "sprsound"])
def test_parallel_generation_writes_the_same_bytes(tmp_path: Path, flavor: str) -> None:
    one = make_synthetic(tmp_path / "one", flavor, 60, seed=2)
    two = make_synthetic(tmp_path / "two", flavor, 60, seed=2, workers=2)
    assert _digest(one.path) == _digest(two.path)
    assert one.truth == two.truth


@pytest.mark.parametrize("flavor", ["icbhi", "sprsound"])
@pytest.mark.parametrize("mel", [MelConfig(), MelConfig(n_mels=32), MelConfig(n_mels=128, f_max=4000.0),
                                 MelConfig(sample_rate=8000, n_fft=512, hop_length=256, f_min=100.0, f_max=3900.0)],
                         ids=["default", "32", "128-4k", "8k"])
def test_band_truth_matches_the_design(flavor: str, mel: MelConfig) -> None:
    truth = band_truth(mel, flavor)
    inf, nui = set(truth["informative_bands"]), set(truth["nuisance_bands"])
    assert inf | nui == set(range(mel.n_mels)) and not inf & nui
    assert set(truth["noise_bands"]) <= nui and truth["noise_bands"], "the dedicated noise bands must show"
    edges = mel.band_edges_hz().numpy()
    centres = edges[1:-1]
    groups = ("adult", "pediatric") if flavor == "icbhi" else ("pediatric",)
    ranges = [w for c in COMPONENT_RANGES for g in groups for w in component_windows(c, g)
              if flavor == "icbhi" and c != "stridor" or flavor == "sprsound"]
    for b in range(mel.n_mels):
        inside = any(lo <= centres[b] <= hi for lo, hi in ranges)
        touches = any(edges[b] < hi and edges[b + 2] > lo for lo, hi in ranges)
        if inside:
            assert b in inf, f"band {b} ({centres[b]:.0f} Hz) lies in a class range but is not informative"
        if b in nui:
            assert not touches, f"nuisance band {b} overlaps a class range"
    assert set(truth["class_bands"]["normal" if flavor == "icbhi" else "Normal"]) == set()


@pytest.mark.parametrize("flavor,expected", [("icbhi", 30), ("sprsound", 21)])
def test_default_mel_leaves_band_selection_a_clear_target(flavor: str, expected: int) -> None:
    """For the default MelConfig about a third of the bands carry evidence (chance precision of a band
    selection ~0.3-0.5, not 0.8), in separate groups with wide noise-band gaps between them."""
    mel = MelConfig()
    truth = band_truth(mel, flavor)
    inf = truth["informative_bands"]
    assert len(inf) == expected and 20 <= len(inf) <= 30
    runs = np.split(np.array(inf), np.flatnonzero(np.diff(inf) > 1) + 1)
    assert len(runs) == 3 and all(len(r) <= 12 for r in runs)
    assert len(truth["noise_bands"]) >= 0.8 * len(truth["nuisance_bands"]), "the gaps must be noise bands"
    from respcore.profiles import get_profile

    assert band_truth(get_profile("cpu").mel(), flavor)["informative_bands"] == inf  # 2 s cycles, same bands


def test_noise_bands_stay_clear_of_every_class_window() -> None:
    guard = 2.0 * 16000 / 1024  # the default STFT main lobe
    windows = [w for c in COMPONENT_RANGES for g in ("adult", "pediatric") for w in component_windows(c, g)]
    for lo, hi in NOISE_BANDS_HZ:
        assert all(hi + guard <= a or lo - guard >= b for a, b in windows), f"noise band {lo}-{hi} Hz hits a class window"
    with pytest.raises(ValueError, match="class sound"):
        component_windows("squawk", "adult")


def test_children_sound_higher() -> None:
    """The same wheeze (same seed) peaks PEDIATRIC_SHIFT higher in a child's recording than in an adult's."""
    peaks = {}
    for age in (40.0, 5.0):
        plan = RecordingPlan("x", "train", "1", age, "F", "d", 8000, 2.2, np.array([[0.1, 2.1]]), ["wheeze"],
                             [("wheeze", 0.2, 2.0)])
        wave = render(plan, np.random.default_rng(1), {"freqs_hz": [20.0, 8000.0], "gain_db": [0.0, 0.0]})
        assert wave.shape == (17600,) and np.abs(wave).max() <= 1.0
        freqs = np.fft.rfftfreq(wave.size, 1 / 8000)
        low = (component_windows("wheeze", "adult")[0][0], component_windows("wheeze", "pediatric")[0][1])
        spec = np.abs(np.fft.rfft(wave)) ** 2 * ((freqs > low[0]) & (freqs < low[1]))  # both f0 windows
        peaks[age] = freqs[np.argmax(spec)]
    assert 1.1 < peaks[5.0] / peaks[40.0] < 1.35
    lo, hi = component_windows("wheeze", "adult")[0]
    assert lo <= peaks[40.0] <= hi


def test_icbhi_round_trip_through_the_real_loader(tmp_path_factory: pytest.TempPathFactory) -> None:
    from respcore.datasets import ICBHI

    root = corpus(tmp_path_factory, "icbhi")
    truth = json.loads((root / "ground_truth.json").read_text())
    assert truth["flavor"] == "icbhi" and truth["class_counts"] == target_counts("icbhi", 200)
    for split in ("train", "test"):
        ds = ICBHI(root, split, mel=SMOKE_MEL, strict=True)
        assert ds.counts == truth["class_counts"][split]
        assert set(ds.metadata["age_group"]) <= {"pediatric", "adult"}


def test_sprsound_round_trip_through_the_real_loader(tmp_path_factory: pytest.TempPathFactory) -> None:
    from respcore.datasets import SPRSound

    root = corpus(tmp_path_factory, "sprsound", 80)
    truth = json.loads((root / "ground_truth.json").read_text())
    for split in ("train", "inter", "intra"):
        assert SPRSound(root, "1-2", split, mel=SMOKE_MEL, strict=True).counts == truth["class_counts"][split]
        assert SPRSound(root, "2-2", split, mel=SMOKE_MEL, strict=True).counts == truth["record_counts"][split]
    meta = SPRSound(root, "1-1", "all", mel=SMOKE_MEL).metadata
    assert set(meta["age_group"]) == {"pediatric"}
    train, intra = (set(meta.loc[meta["split"] == s, "patient"]) for s in ("train", "intra"))
    assert intra <= train, "intra-test patients must be training patients"


def _smoke_features(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.Tensor, np.ndarray, np.ndarray, dict]:
    root = corpus(tmp_path_factory, "icbhi")
    items = synthetic.corpus_items(root)
    waves = [w.repeat(int(np.ceil(SMOKE_MEL.cycle_samples / len(w))))[: SMOKE_MEL.cycle_samples]
             for w in read_items(items, SMOKE_MEL.sample_rate)]  # circular padding, as the loaders do
    x = log_mel(torch.stack(waves), SMOKE_MEL)[:, 0]  # (N, F, T)
    return x, items["label"].to_numpy(), items["split"].to_numpy(), json.loads((root / "ground_truth.json").read_text())


def _balanced_accuracy(features: torch.Tensor, labels: np.ndarray, train: np.ndarray) -> float:
    """Logistic regression trained briefly on the train rows, scored on the others."""
    classes = sorted(set(labels))
    y = torch.tensor([classes.index(v) for v in labels])
    tr = torch.tensor(train)
    f = (features - features[tr].mean(0)) / (features[tr].std(0) + 1e-6)
    torch.manual_seed(0)
    lin = torch.nn.Linear(f.shape[1], len(classes))
    opt = torch.optim.LBFGS(lin.parameters(), lr=0.5, max_iter=60)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(f[tr]), y[tr]) + 1e-2 * lin.weight.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    pred = lin(f[~tr]).argmax(1)
    return float(np.mean([(pred[y[~tr] == c] == c).float().mean() for c in range(len(classes))]))


@pytest.fixture
def one_thread():
    """Tiny torch ops on a busy 2-core machine run 100x faster on one thread; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_classes_are_learnable_and_only_from_the_informative_bands(tmp_path_factory: pytest.TempPathFactory,
                                                                    one_thread: None) -> None:
    x, labels, split, truth = _smoke_features(tmp_path_factory)
    feats = torch.cat([x.mean(-1), x.std(-1)], 1)  # (N, 2F) band means and spreads
    train = split == "train"
    inf, nui = truth["informative_bands"], truth["nuisance_bands"]
    n_bands = x.shape[1]
    pick = lambda bands: feats[:, bands + [b + n_bands for b in bands]]  # noqa: E731
    chance = 0.25
    scores = [_balanced_accuracy(f, labels, train) for f in (feats, pick(inf), pick(nui))]
    print("balanced accuracy: all bands %.3f, informative %.3f, nuisance %.3f" % tuple(scores))
    assert scores[0] > chance + 0.2 and scores[1] > chance + 0.2
    assert scores[2] < chance + 0.12, "class evidence leaked into the nuisance bands"


def test_examples_per_class(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = corpus(tmp_path_factory, "icbhi")
    start = time.perf_counter()
    items = synthetic.examples(root, per_class=1, mel=SMOKE_MEL)
    assert [i["label"] for i in items] == sorted({i["label"] for i in items}, key=[i["label"] for i in items].index)
    assert {i["label"] for i in items} == {"normal", "crackle", "wheeze", "both"}
    for item in items:
        assert item["waveform"].ndim == 1 and np.isfinite(item["waveform"]).all()
        assert item["log_mel"].shape[0] == SMOKE_MEL.n_mels and torch.isfinite(item["log_mel"]).all()
    assert time.perf_counter() - start < 30


def test_examples_from_a_feature_set() -> None:
    import pandas as pd

    from respcore.datasets import FeatureSet

    y = torch.tensor([0, 1, 1, 2, 0, 2])
    meta = pd.DataFrame({"patient": list("aabbcc"), "age": [3.0] * 6, "age_group": ["pediatric"] * 6,
                         "recording": [f"r{i}" for i in range(6)], "label": ["n", "c", "c", "w", "n", "w"]})
    fs = FeatureSet(torch.randn(6, 1, 64, 10), y, ("n", "c", "w"), meta, MelConfig())
    items = synthetic.examples(fs, per_class=2)
    assert [i["label"] for i in items] == ["n", "n", "c", "c", "w", "w"]
    assert all(i["waveform"] is None and i["log_mel"].shape == (64, 10) for i in items)
    assert {i["recording"] for i in items[:2]} == {"r0", "r4"}


@pytest.mark.parametrize("flavor,mel", [("icbhi", MelConfig()), ("icbhi", MelConfig(n_mels=32, f_max=3000.0)),
                                        ("sprsound", MelConfig(sample_rate=8000, n_fft=512, hop_length=256,
                                                               f_max=3900.0))], ids=["icbhi", "icbhi-32", "spr-8k"])
def test_class_sounds_reach_only_the_informative_bands(flavor: str, mel: MelConfig, one_thread: None) -> None:
    """Render the same recordings with and without their class sounds (nuisances identical): the log-Mel
    difference is nil in every nuisance band and large in the bands of each cycle's class."""
    rng = np.random.default_rng(0)
    counts = target_counts(flavor, 60)
    plans = plan_icbhi(rng, counts, True)[0] if flavor == "icbhi" else plan_sprsound(rng, counts, True)
    truth = band_truth(mel, flavor)
    nuisance, flat = truth["nuisance_bands"], {"freqs_hz": [20.0, 8000.0], "gain_db": [3.0, -3.0]}
    worst_nuisance, evidence = 0.0, []
    for i, plan in enumerate([p for p in plans if p.components][:6]):
        quiet = RecordingPlan(**{**plan.__dict__, "components": []})
        with_sounds, without = (torch.from_numpy(render(p, np.random.default_rng(i), flat)).float()
                                for p in (plan, quiet))
        if plan.sample_rate != mel.sample_rate:
            import torchaudio

            with_sounds, without = (torchaudio.functional.resample(w, plan.sample_rate, mel.sample_rate)
                                    for w in (with_sounds, without))
        for (start, end), label in zip(plan.breaths, plan.labels):
            if label in (None, "normal", "Normal"):
                continue
            a, b = int(start * mel.sample_rate), int(end * mel.sample_rate)
            diff = (log_mel(with_sounds[None, a:b], mel) - log_mel(without[None, a:b], mel))[0, 0].mean(-1)  # (F,)
            worst_nuisance = max(worst_nuisance, float(diff[nuisance].abs().max()))
            evidence.append(float(diff[truth["class_bands"][label]].max()))
    assert evidence, "no adventitious cycle rendered"
    assert worst_nuisance < 0.05, f"class sounds changed a nuisance band by {worst_nuisance:.3f} dB"
    assert np.median(evidence) > 3.0, f"class sounds too faint in their bands: {np.median(evidence):.2f} dB"
