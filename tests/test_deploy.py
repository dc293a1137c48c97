"""The deployment files are valid for the tools that read them, and keep their promises: data on
volumes where the programs really write, probes on the ops endpoint, non-root and read-only.

Validators: docker-compose (`config -q`), kubernetes-validate (Kubernetes OpenAPI schemas, the
pip package bundles them: no network), systemd-analyze (`verify`).  Without docker-compose or
systemd-analyze on the machine those two checks skip, saying so; `.ci/validate-deploy` installs
both and sets REQUIRE_DEPLOY_VALIDATORS=1, which turns a missing validator into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from daemon.settings import load
from tests.conftest import REPO

K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31.0"


def validator(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("REQUIRE_DEPLOY_VALIDATORS"):
            pytest.fail(f"{name} is required here (.ci/validate-deploy installs it)")
        pytest.skip(f"{name} is not installed on this machine; .ci/validate-deploy installs it")
    return path


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def manifests() -> dict[str, dict[str, Any]]:
    docs = [d for p in sorted(K8S.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text())]
    return {doc["kind"]: doc for doc in docs}


@pytest.mark.parametrize("profile", [[], ["--profile", "ui"]], ids=["default", "ui"])
def test_compose_file_is_valid_for_docker_compose(profile: list[str]) -> None:
    """`docker-compose config -q` accepts the file, with and without the Kafka UI profile."""
    command = [validator("docker-compose"), "-f", str(REPO / "docker-compose.yml"), *profile]
    done = subprocess.run(
        [*command, "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_compose_keeps_kafka_and_newsd_data_on_volumes_where_they_write() -> None:
    """Kafka's log.dirs is set explicitly to the named volume's mount point (the image's default
    is /tmp), newsd's state dir is a volume, newsd runs as 10001 on a read-only root with a
    /readyz health check, and the UI is an opt-in profile."""
    services = compose()["services"]
    kafka, newsd = services["kafka"], services["newsd"]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert f"kafka-data:{log_dirs}" in kafka["volumes"]
    assert f"newsd-state:{newsd['environment']['NEWSD_STATE__DIR']}" in newsd["volumes"]
    assert set(compose()["volumes"]) == {"kafka-data", "newsd-state"}
    assert newsd["read_only"] is True and newsd["user"] == "10001:10001"
    assert "/readyz" in " ".join(newsd["healthcheck"]["test"])
    assert services["kafka-ui"]["profiles"] == ["ui"]


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifests_match_the_api_schemas(path: Path) -> None:
    """Every manifest validates strictly (no unknown fields) against the Kubernetes OpenAPI
    schemas of a supported version."""
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kubernetes_manifests_hang_together(tmp_path: Path) -> None:
    """Probes hit /healthz and /readyz on the declared port; non-root, read-only root, resources
    set; Service and PDB select the pods; the mounted config loads as newsd settings and names
    its secrets as files from the Secret volume."""
    docs = manifests()
    pod = docs["StatefulSet"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    port = container["ports"][0]["name"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert {"requests", "limits"} <= set(container["resources"])
    labels = pod["metadata"]["labels"]
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    assert docs["StatefulSet"]["spec"]["serviceName"] == docs["Service"]["metadata"]["name"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    config = tmp_path / "newsd.toml"
    config.write_text(docs["ConfigMap"]["data"]["newsd.toml"])
    settings = load(config)
    assert str(settings.state.dir) == mounts["state"]
    assert str(settings.kafka.sasl_password_file).startswith(mounts["kafka-secrets"])
    assert settings.extract.workers <= int(container["resources"]["limits"]["cpu"])


def test_systemd_unit_verifies_cleanly(tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts the unit without a single warning (an unknown or
    misspelt key is a warning); ExecStart points at a stand-in executable, since newsd is not
    installed under /opt here."""
    tool = validator("systemd-analyze")
    unit = (REPO / "deploy" / "systemd" / "newsd.service").read_text()
    assert "ExecStart=/opt/newsd/bin/newsd run" in unit
    stand_in = tmp_path / "newsd"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    copy = tmp_path / "newsd.service"
    copy.write_text(unit.replace("/opt/newsd/bin/newsd", str(stand_in)))
    done = subprocess.run([tool, "verify", str(copy)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_systemd_unit_runs_unprivileged_and_hardened() -> None:
    """Non-root user, its own state directory, restart on failure (not on exit 2, a config
    error), and the hardening options."""
    lines = set((REPO / "deploy" / "systemd" / "newsd.service").read_text().splitlines())
    assert {"User=newsd", "StateDirectory=newsd", "Restart=on-failure"} <= lines
    assert {"RestartPreventExitStatus=2", "NoNewPrivileges=yes", "ProtectSystem=strict"} <= lines


def test_image_runs_as_non_root_with_state_on_a_volume() -> None:
    """The Dockerfile's last USER is a numeric non-root id (what runAsNonRoot can check), the
    state dir is a volume, and the health check asks /readyz."""
    text = (REPO / "deploy" / "Dockerfile").read_text()
    user = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")][-1]
    assert user.split(":")[0].isdigit() and user.split(":")[0] != "0"
    assert 'VOLUME ["/var/lib/newsd"]' in text and "/readyz" in text
