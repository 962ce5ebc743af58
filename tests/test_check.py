"""``python -m respcore.datasets check ROOT`` on release-format fixtures."""
from __future__ import annotations

from conftest import make_icbhi
from respcore.datasets.__main__ import main


def test_check_icbhi(tmp_path, capsys):
    root = make_icbhi(tmp_path / "icbhi", split_names={"103_2b1_Pl_sc_Litt3200": "103_2b1_Pl_sc_Meditron"})
    assert main(["check", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"{root}: icbhi" in out
    assert "unknown age" in out and "pediatric" in out and "adult" in out
    assert "103_2b1_Pl_sc_Meditron -> 103_2b1_Pl_sc_Litt3200" in out
    assert "cycle end clipped to the audio: 1" in out


def test_check_sprsound(spr_root, capsys):
    assert main(["check", str(spr_root)]) == 0
    out = capsys.readouterr().out
    for split in ("[train] events", "[inter] records", "[intra] events", "[test2024] events"):
        assert split in out
    assert "[test2024] records: no record labels" in out
    assert "events sorted by start time: 1" in out


def test_check_not_a_dataset(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 1
    assert "is neither ICBHI 2017" in capsys.readouterr().err
