"""The Kubernetes manifests in deploy/k8s, offline: every object is valid against the Kubernetes schemas
(kubernetes-validate, strict: unknown fields fail), the KEDA ScaledObject (a CRD those schemas do not have) passes a
lighter structural check and scales on metrics a real router exports, every flag and L2S_* variable a manifest gives
`l2s` exists in that subcommand's --help, and the pieces agree with each other (grace periods cover preStop + drain,
probes and Services name real ports, ConfigMap and Secret keys exist)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import time
import unittest
import urllib.request

import yaml

import services
from services import REPO

try:
    import kubernetes_validate
except ImportError as missing:  # a checkout without scripts/setup.sh's packages must fail loudly, not skip
    raise AssertionError("kubernetes-validate is not installed: run scripts/setup.sh") from missing

K8S = REPO / "deploy" / "k8s"
# The oldest Kubernetes the manifests promise to work on: preStop `sleep` is on by default from 1.30.
KUBERNETES_VERSION = "1.30.0"


def load(path: pathlib.Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def secret() -> dict:
    """The Secret deploy/curve-secret.sh prints, made with the l2s under test."""
    done = subprocess.run([str(REPO / "deploy" / "curve-secret.sh")], capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, L2S=str(services.l2s_binary())))
    if done.returncode != 0:
        raise AssertionError(f"deploy/curve-secret.sh exited with {done.returncode}: {done.stderr}")
    return yaml.safe_load(done.stdout)


def objects() -> list[tuple[str, dict]]:
    found = [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) for doc in load(path)]
    return found + [("curve-secret.sh", secret())]


def help_text(command: str) -> str:
    done = subprocess.run([str(services.l2s_binary()), command, "--help"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise AssertionError(f"l2s {command} --help exited with {done.returncode}")
    return done.stdout


def containers(doc: dict) -> list[dict]:
    return doc["spec"]["template"]["spec"]["containers"] if doc["kind"] == "Deployment" else []


def flag_value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


class ManifestTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.objects = objects()
        cls.by_kind: dict[str, list[dict]] = {}
        for _, doc in cls.objects:
            cls.by_kind.setdefault(doc["kind"], []).append(doc)

    def test_every_builtin_object_is_valid_against_the_kubernetes_schemas_strictly(self) -> None:
        checked = 0
        for source, doc in self.objects:
            if doc["apiVersion"].startswith("keda.sh/"):
                continue
            with self.subTest(source=source, kind=doc["kind"], name=doc["metadata"]["name"]):
                try:
                    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
                except kubernetes_validate.ValidationError as error:
                    self.fail(f"{source}: {doc['kind']} {doc['metadata']['name']}: {error.message} at "
                              f"{'.'.join(map(str, error.path))}")
                checked += 1
        kinds = sorted(kind for kind in self.by_kind if kind != "ScaledObject")
        self.assertEqual(kinds, ["ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service"])
        self.assertGreaterEqual(checked, 10)

    def test_a_manifest_the_schemas_refuse_is_refused(self) -> None:
        # The check can fail: a misspelt field in a real Deployment is caught in strict mode.
        deployment = next(doc for doc in self.by_kind["Deployment"] if doc["metadata"]["name"] == "l2s-decoder")
        broken = yaml.safe_load(yaml.safe_dump(deployment))
        broken["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {"httpGet": {"path": "/ready"}}
        with self.assertRaises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)

    def test_every_flag_and_variable_given_to_l2s_exists_in_that_subcommands_help(self) -> None:
        seen = set()
        for source, doc in self.objects:
            for container in containers(doc):
                command, args = container["args"][0], container["args"][1:]
                text = help_text(command)
                for flag in (arg for arg in args if arg.startswith("--")):
                    with self.subTest(source=source, command=command, flag=flag):
                        self.assertRegex(text, rf"(?m)^  {re.escape(flag)}\b", f"l2s {command} --help has no {flag}")
                for variable in (env["name"] for env in container.get("env", [])):
                    with self.subTest(source=source, command=command, variable=variable):
                        self.assertIn(f"env {variable}", text, f"l2s {command} --help reads no {variable}")
                seen.add(command)
        self.assertEqual(seen, {"router", "encoder", "decoder"})

    def test_grace_periods_cover_prestop_and_drain_and_probes_use_the_metrics_listener(self) -> None:
        for doc in self.by_kind["Deployment"]:
            pod = doc["spec"]["template"]["spec"]
            for container in pod["containers"]:
                with self.subTest(deployment=doc["metadata"]["name"]):
                    args = container["args"]
                    drain = float(flag_value(args, "--drain-seconds"))
                    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
                    self.assertGreater(pod["terminationGracePeriodSeconds"], pre_stop + drain,
                                       "SIGKILL would cut the drain short")
                    metrics_port = int(flag_value(args, "--metrics").split(":")[1])
                    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
                    self.assertEqual(ports["metrics"], metrics_port)
                    paths = {probe: container[probe]["httpGet"]["path"] for probe in ("livenessProbe", "readinessProbe")}
                    self.assertEqual(paths, {"livenessProbe": "/health", "readinessProbe": "/ready"})
                    for probe in paths:
                        self.assertIn(container[probe]["httpGet"]["port"], ports)
                    self.assertTrue(pod["securityContext"]["runAsNonRoot"])

    def test_services_config_and_secret_references_resolve(self) -> None:
        config = self.by_kind["ConfigMap"][0]["data"]
        secret_keys = set(self.by_kind["Secret"][0]["stringData"])
        deployments = {doc["metadata"]["name"]: doc for doc in self.by_kind["Deployment"]}
        router = deployments["l2s-router"]["spec"]["template"]
        router_ports = {port["name"] for port in router["spec"]["containers"][0]["ports"]}
        for service in self.by_kind["Service"]:
            self.assertEqual(service["spec"]["selector"], router["metadata"]["labels"])
            for port in service["spec"]["ports"]:
                self.assertIn(port["targetPort"], router_ports)
        for name, doc in deployments.items():
            pod = doc["spec"]["template"]["spec"]
            for container in pod["containers"]:
                for env in container.get("env", []):
                    source = env.get("valueFrom", {})
                    if "configMapKeyRef" in source:
                        self.assertIn(source["configMapKeyRef"]["key"], config, name)
                    if "secretKeyRef" in source:
                        self.assertIn(source["secretKeyRef"]["key"], secret_keys, name)
            for volume in pod.get("volumes", []):
                for item in volume.get("secret", {}).get("items", []):
                    self.assertIn(item["key"], secret_keys, name)
        # Workers find the router through the Service that publishes it before it is ready.
        workers = next(s for s in self.by_kind["Service"] if s["metadata"]["name"] == "l2s-router-workers")
        self.assertTrue(workers["spec"]["publishNotReadyAddresses"])
        for name in ("l2s-encoder", "l2s-decoder"):
            args = deployments[name]["spec"]["template"]["spec"]["containers"][0]["args"]
            self.assertTrue(flag_value(args, "--router").startswith("tcp://l2s-router-workers:"), name)
        for budget in self.by_kind["PodDisruptionBudget"]:
            selector = budget["spec"]["selector"]["matchLabels"]
            self.assertTrue(any(doc["spec"]["selector"]["matchLabels"] == selector for doc in deployments.values()))


class ScaledObjectTests(unittest.TestCase):
    """KEDA's ScaledObject is a CRD kubernetes-validate has no schema for: checked here for the fields KEDA needs,
    the Deployment it scales, and metrics a running router really exports."""

    def test_the_autoscaler_targets_the_decoders_on_metrics_the_router_exports(self) -> None:
        scaled = [doc for path in K8S.glob("*.yaml") for doc in load(path) if doc["kind"] == "ScaledObject"]
        self.assertEqual(len(scaled), 1)
        spec = scaled[0]["spec"]
        self.assertEqual(scaled[0]["apiVersion"], "keda.sh/v1alpha1")
        self.assertEqual(set(spec) - {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
                                      "cooldownPeriod", "advanced", "triggers"}, set())
        self.assertEqual(spec["scaleTargetRef"], {"apiVersion": "apps/v1", "kind": "Deployment", "name": "l2s-decoder"})
        self.assertLessEqual(1, spec["minReplicaCount"])
        self.assertLessEqual(spec["minReplicaCount"], spec["maxReplicaCount"])
        # The HPA behaviour KEDA passes through is a real autoscaling/v2 field: validate it as one.
        hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "probe"},
               "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "l2s-decoder"},
                        "maxReplicas": spec["maxReplicaCount"],
                        "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]}}
        kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
        [trigger] = spec["triggers"]
        self.assertEqual(trigger["type"], "prometheus")
        self.assertEqual(set(trigger["metadata"]), {"serverAddress", "query", "threshold"})
        self.assertGreater(float(trigger["metadata"]["threshold"]), 0)
        self.assertRegex(trigger["metadata"]["serverAddress"], r"^https?://")
        wanted = set(re.findall(r"\bl2s_[a-z_]+", trigger["metadata"]["query"]))
        self.assertTrue(wanted)
        self.assertEqual(wanted - exported_by_a_router(), set(), "the query names metrics no router exports")


def exported_by_a_router() -> set[str]:
    """The metric families a real router serves on --metrics."""
    from test_metrics import free_address
    address = free_address()
    router = services.RouterProcess("--metrics", address)
    try:
        deadline = time.monotonic() + services.START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
                    text = response.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        router.stop()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
