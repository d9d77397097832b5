"""phm synth: arguments, errors without tracebacks, determinism."""

import hashlib

import pytest

from phm.cli import main


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--persons", "0"], "--persons must be a positive whole number", 2),
        (["--persons", "-5"], "--persons must be a positive whole number", 2),
        (["--persons", "1000000"], "at most 900,000 persons", 2),
        (["--icb", "QXX"], "unknown ICB code 'QXX'", 3),
        (["--start", "2022/4"], "--start must be a month as YYYY-MM", 2),
        (["--format", "xlsx"], "--format must be parquet or csv", 2),
    ],
)
def test_bad_arguments_give_one_clear_line(tmp_path, capsys, args, message, code):
    rc = main(["synth", "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert rc == code
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_refuses_non_empty_output_without_force(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["synth", "--out", str(tmp_path), "--persons", "100"]) == 4
    assert "is not empty" in capsys.readouterr().err
    # --force never deletes a directory that phm did not write
    assert main(["synth", "--out", str(tmp_path), "--persons", "100", "--force"]) == 4
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_unwritable_output(tmp_path, capsys):
    target = tmp_path / "ro"
    target.mkdir()
    target.chmod(0o500)
    try:
        rc = main(["synth", "--out", str(target / "sub"), "--persons", "100"])
    finally:
        target.chmod(0o700)
    err = capsys.readouterr().err
    import os

    if os.geteuid() == 0:  # root can write anywhere; check a path under a file instead
        (tmp_path / "afile").write_text("x")
        rc = main(["synth", "--out", str(tmp_path / "afile" / "sub"), "--persons", "100"])
        err = capsys.readouterr().err
    assert rc == 4
    assert "cannot write to" in err
    assert "Traceback" not in err


def test_same_seed_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        assert main(["synth", "--out", str(d), "--persons", "3000", "--seed", "11"]) == 0
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) > 15
    for rel in files:
        assert _sha(a / rel) == _sha(b / rel), rel
    assert main(["synth", "--out", str(a), "--persons", "3000", "--seed", "12", "--force"]) == 0
    assert _sha(a / "apc_episodes.parquet") != _sha(b / "apc_episodes.parquet")


def test_help_on_every_command(capsys):
    for cmd in (["--help"], ["synth", "--help"], ["demo", "--help"], ["refdata", "--help"],
                ["refdata", "list", "--help"], ["refdata", "icbs", "--help"]):
        assert main(cmd) == 0
    assert "Usage" in capsys.readouterr().out
