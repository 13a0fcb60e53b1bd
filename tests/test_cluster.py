"""Issue 15, item 2: `--engine ray`. On a real local Ray cluster (2 CPUs, started here) the
outputs equal the local engine's, the journal on the driver works the same (resume), and a
worker killed mid-batch has its file retried. Local mode never imports Ray, and without Ray
`--engine ray` says how to get it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photoforge.app.batch import BatchReport, Job
from photoforge.cli import main
from photoforge.engine.progress import Progress
from photoforge.app.journal import Journal
from tests.conftest import ROOT
from tests.test_journal import made, make_folder, outputs, states

ADJUST = ["--saturation", "20", "--contrast", "12", "--curve", "0,0 64,80 255,255"]


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.mark.ray
def test_ray_outputs_equal_local_and_resume_works_the_same(ray_cluster, tmp_path, capsys):
    make_folder(tmp_path / "in", 6, shape=(60, 90))
    code, _ = run_cli(capsys, "adjust", tmp_path / "in", "-o", tmp_path / "local", *ADJUST)
    assert code == 0
    code, err = run_cli(capsys, "adjust", tmp_path / "in", "-o", tmp_path / "ray", *ADJUST, "--engine", "ray")
    assert code == 0, err
    assert "notice: Ray: 2 workers of 1 CPU on a cluster of 2 CPUs" in err
    assert "6 of 6 images done, 0 failed" in err and len(made(err)) == 6
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")
    assert set(states(tmp_path / "ray").values()) == {"done"}
    # the same journal: resume on Ray after a damaged output redoes just that one
    damaged = tmp_path / "ray" / "in" / "p03.png"
    damaged.write_bytes(damaged.read_bytes()[:100])
    code, err = run_cli(capsys, "adjust", tmp_path / "in", "-o", tmp_path / "ray", *ADJUST, "--engine", "ray",
                        "--resume")
    assert code == 0, err
    assert made(err) == [f"{tmp_path / 'in' / 'p03.png'} → {damaged}"]
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local")


def killing_process(mark: Path):
    """A per-file process (as the CLI builds one) that SIGKILLs its own worker process the
    first time it meets p02, and every time it meets p04. A closure, so Ray pickles it by value."""
    from photoforge.core.image import ImageData

    def process(image, progress, job):
        if job.source.name == "p04.png" or (job.source.name == "p02.png" and not mark.exists()):
            mark.touch()
            os.kill(os.getpid(), 9)
        return ImageData(255 - image.pixels)

    return process


@pytest.mark.ray
def test_a_worker_killed_mid_batch_has_its_file_retried(ray_cluster, tmp_path):
    from photoforge.app.cluster import run_on_ray

    paths = make_folder(tmp_path / "in", 6, shape=(40, 40))
    jobs = [Job(p, tmp_path / "out" / p.name) for p in paths]
    process = killing_process(tmp_path / "killed-once")
    report, said = BatchReport(len(jobs)), []
    with Journal(tmp_path / "out") as journal:
        journal.plan(jobs, {}, resume=False)
        run_on_ray(jobs, process, address=None, threads=None, retries=1, progress=Progress(),
                   on_file=lambda n, job: None, say=said.append, report=report, journal=journal)
    assert (tmp_path / "killed-once").exists()  # a worker really died on p02
    assert sorted(j.source.name for j in report.done) == ["p00.png", "p01.png", "p02.png", "p03.png", "p05.png"]
    ((job, reason),) = report.failures  # p04 kills every worker that tries it: given up, said why
    assert job.source.name == "p04.png" and "the worker died 2 times while working on it" in reason
    from photoforge.core.imageio import load_image

    for p in paths:
        if p.name != "p04.png":
            assert np.array_equal(load_image(tmp_path / "out" / p.name).pixels, 255 - load_image(p).pixels)
    assert states(tmp_path / "out") == {**{p.name: "done" for p in paths}, "p04.png": "failed"}


def test_local_mode_never_imports_ray(tmp_path):
    make_folder(tmp_path / "in", 2)
    code = ("import sys\nfrom photoforge.cli import main\n"
            f"code = main(['adjust', {str(tmp_path / 'in')!r}, '-o', {str(tmp_path / 'out')!r}, '--contrast', '5'])\n"
            "print(code, 'ray' in sys.modules, 'photoforge.app.cluster' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["0", "False", "False"], out.stderr


def test_without_ray_the_ray_engine_says_how_to_get_it_before_any_work(tmp_path):
    make_folder(tmp_path / "in", 2)
    code = ("import sys\nsys.modules['ray'] = None  # as if not installed\nfrom photoforge.cli import main\n"
            f"sys.exit(main(['adjust', {str(tmp_path / 'in')!r}, '-o', {str(tmp_path / 'out')!r}, "
            "'--engine', 'ray']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2
    assert "error: --engine ray needs Ray, which is not installed here: pip install 'photoforge[cluster]'" \
        in out.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.png"))
