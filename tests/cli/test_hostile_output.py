"""Outputs under attack: an output that is an input, device nodes, full disks, size limits, killed writers and
signals. Each case: the exit code, one ``error:`` line without a traceback, no partial output, no stray
temporary file, the input unchanged."""

from __future__ import annotations

import fcntl
import hashlib
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewclf.cli import main

CLI = [sys.executable, "-c", "import sys; from reviewclf.cli import main; sys.exit(main())"]
REVIEWS = "".join(f"{i},the food was great and the staff were lovely {i}\n" for i in range(2000))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def reviews(tmp_path: Path) -> Path:
    source = tmp_path / "in.csv"
    source.write_text("id,text\n" + REVIEWS)
    return source


def test_an_output_that_is_an_input_is_refused_also_through_a_link(demo_bundle: Path, reviews: Path) -> None:
    before = digest(reviews)
    link = reviews.with_name("link.csv")
    link.symlink_to(reviews.name)
    for out in (reviews, link):
        result = CliRunner().invoke(main, ["predict", str(demo_bundle), str(reviews), "-o", str(out)])
        assert result.exit_code == 1
        assert "is also an input" in one_error_line(result.stderr)
    assert digest(reviews) == before
    assert temporaries(reviews.parent) == []


def test_a_link_as_output_keeps_the_link_and_replaces_the_file_it_names(demo_bundle: Path, reviews: Path) -> None:
    target = reviews.with_name("real.csv")
    target.write_text("old\n")
    link = reviews.with_name("out.csv")
    link.symlink_to(target.name)
    result = CliRunner().invoke(main, ["predict", str(demo_bundle), str(reviews), "-o", str(link)])
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and target.read_text().startswith("id,label,probability")


def test_a_character_device_is_written_not_replaced(demo_bundle: Path, reviews: Path) -> None:
    result = CliRunner().invoke(main, ["predict", str(demo_bundle), str(reviews), "-o", os.devnull,
                                       "--output-format", "csv"])
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_fifo_is_written_directly(demo_bundle: Path, reviews: Path) -> None:
    fifo = reviews.with_name("pipe")
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    command = [*CLI, "predict", str(demo_bundle), str(reviews), "-o", str(fifo), "--output-format", "csv"]
    process = subprocess.run(command, capture_output=True, text=True, timeout=120)
    reader.join(timeout=60)
    assert process.returncode == 0, process.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received[0].decode().count("\n") == 2001
    assert temporaries(reviews.parent) == []


def test_stdout_on_a_full_disk_is_an_error(demo_bundle: Path, reviews: Path) -> None:
    with open("/dev/full", "w") as full:
        process = subprocess.run([*CLI, "predict", str(demo_bundle), str(reviews)], stdout=full,
                                 stderr=subprocess.PIPE, text=True, timeout=120)
    assert process.returncode == 1
    assert one_error_line(process.stderr) == "error: stdout: cannot write (No space left on device)"


def test_a_reader_that_stops_early_is_not_an_error(demo_bundle: Path, reviews: Path) -> None:
    predict = subprocess.Popen([*CLI, "predict", str(demo_bundle), str(reviews)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert predict.stdout is not None
    predict.stdout.readline()
    predict.stdout.close()
    _, stderr = predict.communicate(timeout=120)
    assert predict.returncode == 0 and stderr == b""


def test_a_file_size_limit_mid_write_is_one_line_and_keeps_the_old_output(demo_bundle: Path,
                                                                          reviews: Path) -> None:
    out = reviews.with_name("out.csv")
    out.write_text("previous results\n")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    process = subprocess.run([*CLI, "predict", str(demo_bundle), str(reviews), "-o", str(out)],
                             capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert process.returncode == 1
    assert one_error_line(process.stderr) == f"error: {out}: cannot write (File too large)"
    assert out.read_text() == "previous results\n"
    assert temporaries(reviews.parent) == []


def test_a_killed_writers_leftover_is_swept_and_a_live_writers_is_kept(demo_bundle: Path, reviews: Path) -> None:
    folder = reviews.parent
    dead = folder / ".out.csv.0123456789ab.tmp"
    dead.write_text("half")
    alive = folder / ".out.csv.ba9876543210.tmp"
    alive.write_text("being written")
    other = folder / ".out.csv.notours"
    other.write_text("someone else's")
    with open(alive) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = CliRunner().invoke(main, ["predict", str(demo_bundle), str(reviews), "-o",
                                           str(folder / "out.csv")])
    assert result.exit_code == 0, result.stderr
    assert temporaries(folder) == [alive.name, other.name]


def test_sigterm_while_predicting_cleans_up_and_exits_143(demo_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    process = subprocess.Popen([*CLI, "predict", str(demo_bundle), "-o", str(out)], stdin=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(b"good food\n" * 5000)
    process.stdin.flush()
    for _ in range(600):
        if temporaries(tmp_path):
            break
        threading.Event().wait(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert one_error_line(stderr.decode()) == "error: stopped by SIGTERM"
    assert list(tmp_path.iterdir()) == []


def test_sigterm_while_export_writes_leaves_no_bundle(demo_run: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewclf.export import bundle_writer

    real_write = bundle_writer.write_file

    def write_then_terminate(folder: Path, name: str, data: bytes) -> None:
        real_write(folder, name, data)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(bundle_writer, "write_file", write_then_terminate)
    result = CliRunner().invoke(main, ["export", str(demo_run), "-o", str(tmp_path / "bundle")])
    assert result.exit_code == 128 + signal.SIGTERM
    assert result.stderr.splitlines()[-1] == "error: stopped by SIGTERM"  # after export's progress lines
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_a_bundle_beside_an_old_crashs_leftovers(demo_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    for leftover in (".bundle.old", ".bundle.0123456789ab.old", ".bundle.0123456789ab"):
        (tmp_path / leftover).mkdir()
        (tmp_path / leftover / "manifest.json").write_text("{}")
    out.mkdir()
    (out / "manifest.json").write_text('{"format": "reviewclf-bundle"}')
    result = CliRunner().invoke(main, ["export", str(demo_run), "-o", str(out), "--force"])
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    assert (out / "model.onnx").is_file()


def test_sigterm_while_train_writes_leaves_no_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewclf.training import plots

    def terminate(*args: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(plots, "plot_curves", terminate)
    result = CliRunner().invoke(main, ["train", "--epochs", "1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 128 + signal.SIGTERM
    assert result.stderr.splitlines()[-1] == "error: stopped by SIGTERM"
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_train_refuses_an_output_that_is_a_file_before_training(tmp_path: Path) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    result = CliRunner().invoke(main, ["train", "--epochs", "1", "--out", str(existing)])
    assert result.exit_code == 1
    assert one_error_line(result.stderr) == f"error: {existing} exists and is not a directory; give the run " \
                                            "directory another name"
    assert existing.read_text() == "mine"


def test_predict_writes_nothing_under_home(demo_bundle: Path, reviews: Path, tmp_path: Path) -> None:
    """ONNX Runtime's telemetry is off: no device id file, no warning without a writable HOME."""
    home = tmp_path / "home"
    home.mkdir()
    environment = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    process = subprocess.run([*CLI, "predict", str(demo_bundle), str(reviews), "-o", str(tmp_path / "o.csv")],
                             capture_output=True, text=True, timeout=120, env={**environment, "HOME": str(home)})
    assert process.returncode == 0 and process.stderr == ""
    assert list(home.iterdir()) == []


def test_ctrl_c_during_the_onnx_capture_is_one_line_and_leaves_nothing(demo_run: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewclf.export.graph import ProbabilityModel

    def interrupted(self: ProbabilityModel, input_ids: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(ProbabilityModel, "forward", interrupted)
    result = CliRunner().invoke(main, ["export", str(demo_run), "-o", str(tmp_path / "bundle")])
    assert result.exit_code == 130
    assert result.stderr.splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in result.stderr and "TorchExportError" not in result.stderr
    assert list(tmp_path.iterdir()) == []
