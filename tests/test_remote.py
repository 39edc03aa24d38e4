"""Object storage: s3:// runs read from a real S3-compatible server (moto's standalone
server, started on loopback by these tests) through fsspec/s3fs, staged into a bounded
local cache; nothing written to the bucket; one-line errors for what users get wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import forensics

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_runs"
BUCKET = "forensics-runs"
BIG_CHECKPOINT_BYTES = 1024 * 1024
CACHE_LIMIT = 256 * 1024  # holds the run's curves, logs and small checkpoints, not the big one


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 with two sample runs (one with a checkpoint bigger than
    the cache limit), and an IAM key; requests are authenticated once it is set up."""
    import numpy as np
    from moto import settings
    from safetensors.numpy import save_file

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    setup = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    setup_keys = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
    client = boto3.client("s3", **setup, **setup_keys)
    client.create_bucket(Bucket=BUCKET)
    big = tmp_path_factory.mktemp("big") / "model_step25.safetensors"
    rng = np.random.default_rng(0)
    save_file({"fc.weight": rng.standard_normal(BIG_CHECKPOINT_BYTES // 4).astype(np.float32)}, str(big))
    for name in ("tbx_lr_too_high", "torch_healthy"):
        for p in sorted((SAMPLES / name).rglob("*")):
            if p.is_file():
                client.upload_file(str(p), BUCKET, f"sweep/{name}/{p.relative_to(SAMPLES / name).as_posix()}")
    client.upload_file(str(big), BUCKET, "sweep/tbx_lr_too_high/ckpt/model_step25.safetensors")
    iam = boto3.client("iam", **setup, **setup_keys)
    iam.create_user(UserName="analyst")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="analyst", PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="analyst")["AccessKey"]
    old = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # from here on, only the analyst's key is accepted
    try:
        yield {
            "endpoint": endpoint,
            "key": key["AccessKeyId"],
            "secret": key["SecretAccessKey"],
            "client": boto3.client(
                "s3", **setup, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
            ),
        }
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = old
        server.stop()


def _env(s3: dict, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FORENSICS_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        AWS_ENDPOINT_URL=s3["endpoint"],
        AWS_ACCESS_KEY_ID=s3["key"],
        AWS_SECRET_ACCESS_KEY=s3["secret"],
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        FORENSICS_CACHE_DIR=str(tmp_path / "cache"),
        FORENSICS_CACHE_BYTES=str(CACHE_LIMIT),
    )
    env.update(extra)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args], capture_output=True, text=True, timeout=120, env=env
    )


def _bucket_state(s3: dict) -> list[tuple[str, str, int]]:
    objects = s3["client"].list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return sorted((o["Key"], o["ETag"], o["Size"]) for o in objects)


def test_a_run_in_s3_gets_the_verdict_it_gets_locally_and_the_bucket_is_untouched(s3, tmp_path):
    before = _bucket_state(s3)
    url = f"s3://{BUCKET}/sweep/tbx_lr_too_high"
    r = run(_env(s3, tmp_path), "analyze", url, "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    local = forensics.analyze(SAMPLES / "tbx_lr_too_high")
    assert report["run_dir"] == url
    assert (report["verdict"]["cause"], report["verdict"]["detail"]) == (local.verdict.cause, local.verdict.detail)
    assert report["first_nonfinite_step"] == local.first_nonfinite_step
    big = next(s for s in report["sources"] if s["path"] == "ckpt/model_step25.safetensors")
    assert big["status"] == "skipped" and "cache limit" in big["note"]
    read = {s["path"] for s in report["sources"] if s["status"] == "ok"}
    assert {"tensorboard/events.out.tfevents.1795621892.vm", "ckpt/model_step20.safetensors"} <= read
    staged = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert staged <= CACHE_LIMIT
    assert _bucket_state(s3) == before


@pytest.fixture
def s3_env(s3, tmp_path, monkeypatch):
    """The environment of :func:`_env`, in this process (the API tests)."""
    for k in list(os.environ):
        if k.startswith(("AWS_", "FORENSICS_")):
            monkeypatch.delenv(k)
    for k, v in _env(s3, tmp_path).items():
        if k.startswith(("AWS_", "FORENSICS_")):
            monkeypatch.setenv(k, v)
    return tmp_path / "cache"


def test_a_sweep_in_s3_is_analysed_run_by_run(s3_env):
    sweep = forensics.analyze_many(f"s3://{BUCKET}/sweep/", jobs=1)
    rows = [r.row() for r in sweep.results]
    assert [r["run"] for r in rows] == ["tbx_lr_too_high", "torch_healthy"]
    assert [r.name for r in sweep.diverged] == ["tbx_lr_too_high"]
    assert rows[1]["cause"] == "healthy" and rows[1]["path"] == f"s3://{BUCKET}/sweep/torch_healthy"


def test_the_cache_is_reused_and_stays_within_its_limit_over_several_runs(s3_env, monkeypatch):
    limit = 120 * 1024  # one run at a time fits: the other is evicted
    monkeypatch.setenv("FORENSICS_CACHE_BYTES", str(limit))
    for name in ("torch_healthy", "tbx_lr_too_high", "torch_healthy"):
        report = forensics.analyze(f"s3://{BUCKET}/sweep/{name}")
        assert report.readable
        size = sum(p.stat().st_size for p in s3_env.rglob("*") if p.is_file())
        assert size <= limit, size
    staged = [p for p in s3_env.iterdir() if p.is_dir()]
    assert len(staged) == 1  # tbx_lr_too_high was evicted when torch_healthy came back


def test_a_missing_bucket_is_one_line_and_exit_2(s3, tmp_path):
    r = run(_env(s3, tmp_path), "analyze", "s3://no-such-bucket-here/run")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "no such bucket" in r.stderr


def test_bad_credentials_are_one_line_and_exit_2(s3, tmp_path):
    env = _env(s3, tmp_path, AWS_ACCESS_KEY_ID="AKIAWRONGWRONGWRONG", AWS_SECRET_ACCESS_KEY="wrong")
    r = run(env, "analyze", f"s3://{BUCKET}/sweep/torch_healthy")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "access denied" in r.stderr


def test_unsupported_schemes_are_one_line(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "forensics", "analyze", "https://example.com/run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "not supported" in r.stderr
