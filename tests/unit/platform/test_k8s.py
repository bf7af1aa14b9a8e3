"""deploy/k8s/ stays valid and consistent with the code, offline.

The example overlay is rendered with ``kubectl kustomize`` (kustomize v5 is built into kubectl; no
cluster is asked) or, without kubectl, by loading each kustomization's ``resources`` here (no patches
then). Core resources are validated against the Kubernetes schemas ``kubernetes-validate`` ships;
the Strimzi and CloudNativePG resources, which it has no schema for, against the shapes their
operators document (below). Then the manifests are checked against the code: topics, ports, roles,
probes, the grace period, Secrets and every variable the services read.
"""

from __future__ import annotations

import copy
import importlib
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.consumer import EventConsumer
from shared.contracts.topics import SERVICES, all_topics
from shared.db import role_for, schema_for
from shared.settings import OperatorSettings

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "k8s"
OVERLAY = K8S / "overlays" / "example"
SECRETS_EXAMPLE = K8S / "base" / "secrets.example.yaml"
K8S_README = (K8S / "README.md").read_text(encoding="utf-8")
#: the oldest Kubernetes still commonly run by académies' providers, and the newest schemas shipped
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
#: a variable the Deployments define only to splice it into DATABASE_URL
SPLICED = "CERTIBUS_DATABASE_PASSWORD"
Manifest = dict[str, Any]


# -- rendering -------------------------------------------------------------------------------------


def load_yaml(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def load_kustomization(directory: Path) -> list[Manifest]:
    """The fallback without kubectl: the ``resources`` of the kustomization, recursively, and its
    ``namespace``; patches, images and labels are not applied."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    manifests: list[Manifest] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        manifests += load_kustomization(path) if path.is_dir() else load_yaml(path)
    if namespace := kustomization.get("namespace"):
        for manifest in manifests:
            if manifest["kind"] != "Namespace":
                manifest.setdefault("metadata", {})["namespace"] = namespace
    return manifests


def kustomize(directory: Path) -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return load_kustomization(directory)
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {directory}: {done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@cache
def _rendered() -> tuple[Manifest, ...]:
    return tuple(kustomize(OVERLAY))


def rendered() -> list[Manifest]:
    return copy.deepcopy(list(_rendered()))


def of_kind(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def config_maps() -> dict[str, dict[str, str]]:
    return {name: m.get("data", {}) for name, m in of_kind(rendered(), "ConfigMap").items()}


def deployment(service: str) -> Manifest:
    return of_kind(rendered(), "Deployment")[f"certibus-{service}"]


def container(workload: Manifest) -> Manifest:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


# -- the files and the Kubernetes schemas ----------------------------------------------------------


@pytest.mark.parametrize("kustomization", kustomizations(), ids=lambda p: str(p.parent.relative_to(K8S)))
def test_every_resource_a_kustomization_names_exists(kustomization: Path):
    spec = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
    assert spec["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and spec["kind"] == "Kustomization"
    missing = [r for r in spec.get("resources", []) if not (kustomization.parent / r).exists()]
    assert not missing, f"{kustomization}: resources that do not exist: {missing}"
    listed = {(kustomization.parent / r).resolve() for r in spec.get("resources", [])}
    unlisted = [
        p.name
        for p in kustomization.parent.glob("*.yaml")
        if p.name != "kustomization.yaml"
        and not p.name.endswith(".example.yaml")
        and p.resolve() not in listed
    ]
    assert not unlisted, f"{kustomization}: manifests no kustomization applies: {unlisted}"


#: the API groups of the operators' custom resources
OPERATOR_GROUPS = ("kafka.strimzi.io", "postgresql.cnpg.io")


def is_operator_resource(manifest: Manifest) -> bool:
    return manifest["apiVersion"].split("/")[0] in OPERATOR_GROUPS


def core_schema_errors(manifests: list[Manifest]) -> list[str]:
    """Every core resource against each Kubernetes version's schema (strict: unknown fields fail)."""
    errors = []
    for version in K8S_VERSIONS:
        for manifest in manifests:
            if is_operator_resource(manifest):
                continue  # no schema in kubernetes-validate: see the operators' shapes below
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = "/".join(str(p) for p in exc.absolute_path)
                errors.append(
                    f"{version} {manifest['kind']}/{manifest['metadata']['name']} {path}: {exc.message}"
                )
            except kubernetes_validate.SchemaNotFoundError as exc:
                errors.append(f"{version}: {exc.message}")
    return errors


def test_the_overlay_renders_every_kind_certibus_needs():
    kinds = {m["kind"] for m in rendered()}
    assert {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Job",
        "PersistentVolumeClaim",
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "Cluster",
    } <= kinds
    assert {m["metadata"].get("namespace") for m in rendered() if m["kind"] != "Namespace"} == {"certibus"}


def test_every_core_resource_validates_against_the_kubernetes_schemas():
    assert not core_schema_errors(rendered())


def test_the_secrets_example_validates_and_holds_only_placeholders():
    manifests = load_yaml(SECRETS_EXAMPLE)
    assert manifests and all(m["kind"] == "Secret" for m in manifests)
    assert not core_schema_errors(manifests)
    for manifest in manifests:
        for key, value in manifest["stringData"].items():
            if key != "username":
                assert "change-me" in value, f"{manifest['metadata']['name']}/{key} is not a placeholder"


def test_a_broken_manifest_fails_the_validation():
    """The validation above can fail: a probe without its port and a misspelt field are caught."""
    broken = deployment("export")
    del container(broken)["readinessProbe"]["httpGet"]["port"]
    misspelt = deployment("scheduler")
    misspelt["spec"]["template"]["spec"]["terminationGracePeriod"] = 45
    errors = core_schema_errors([broken, misspelt])
    assert any("readinessProbe/httpGet" in e and "port" in e for e in errors), errors
    assert any("terminationGracePeriod" in e for e in errors), errors


# -- the operators' resources (no schema in kubernetes-validate) -------------------------------------

_CLUSTER_LABEL = {
    "type": "object",
    "required": ["labels"],
    "properties": {
        "labels": {"type": "object", "required": ["strimzi.io/cluster"]},
    },
}
_K8S_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"}
#: a KafkaTopic's or KafkaUser's metadata: a Kubernetes name and the cluster it belongs to
_NAMED_IN_THE_CLUSTER = _CLUSTER_LABEL | {"properties": {**_CLUSTER_LABEL["properties"], "name": _K8S_NAME}}
#: the operations a Strimzi ACL rule may name (KafkaUser spec.authorization.acls[].operations)
KAFKA_ACL_OPERATIONS = [
    "Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
    "AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All",
]  # fmt: skip
#: Strimzi's documented shapes (kafka.strimzi.io/v1beta2, Strimzi >= 0.46: KRaft and node pools only)
OPERATOR_SHAPES: dict[tuple[str, str], dict[str, Any]] = {
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): {
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "metadata": _CLUSTER_LABEL,
            "spec": {
                "type": "object",
                "required": ["replicas", "roles", "storage"],
                "additionalProperties": False,
                "properties": {
                    "replicas": {"type": "integer", "minimum": 1},
                    "roles": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"enum": ["controller", "broker"]},
                    },
                    "storage": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {"enum": ["jbod", "persistent-claim", "ephemeral"]},
                            "volumes": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id", "type"],
                                    "properties": {
                                        "id": {"type": "integer", "minimum": 0},
                                        "type": {"enum": ["persistent-claim", "ephemeral"]},
                                        "size": {"type": "string"},
                                        "deleteClaim": {"type": "boolean"},
                                        "kraftMetadata": {"enum": ["shared"]},
                                    },
                                },
                            },
                        },
                    },
                    "resources": {"type": "object"},
                    "jvmOptions": {"type": "object"},
                    "template": {"type": "object"},
                },
            },
        },
    },
    ("kafka.strimzi.io/v1beta2", "Kafka"): {
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "metadata": {
                "type": "object",
                "required": ["annotations"],
                "properties": {
                    "annotations": {
                        "type": "object",
                        "required": ["strimzi.io/node-pools", "strimzi.io/kraft"],
                        "properties": {
                            "strimzi.io/node-pools": {"const": "enabled"},
                            "strimzi.io/kraft": {"const": "enabled"},
                        },
                    }
                },
            },
            "spec": {
                "type": "object",
                "required": ["kafka"],
                "not": {"required": ["zookeeper"]},  # KRaft only
                "properties": {
                    "kafka": {
                        "type": "object",
                        "required": ["listeners"],
                        "not": {"anyOf": [{"required": ["replicas"]}, {"required": ["storage"]}]},
                        "additionalProperties": False,
                        "properties": {
                            "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
                            "metadataVersion": {"type": "string", "pattern": r"^\d+\.\d+-IV\d+$"},
                            "listeners": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["name", "port", "type", "tls"],
                                    "properties": {
                                        "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
                                        "port": {"type": "integer", "minimum": 9092},
                                        "type": {
                                            "enum": [
                                                "internal",
                                                "route",
                                                "loadbalancer",
                                                "nodeport",
                                                "ingress",
                                                "cluster-ip",
                                            ]
                                        },
                                        "tls": {"type": "boolean"},
                                        "authentication": {
                                            "type": "object",
                                            "required": ["type"],
                                            "properties": {
                                                "type": {"enum": ["scram-sha-512", "tls", "oauth", "custom"]}
                                            },
                                        },
                                        "networkPolicyPeers": {"type": "array"},
                                    },
                                },
                            },
                            "config": {"type": "object"},
                            "authorization": {"type": "object"},
                            "rack": {"type": "object"},
                            "resources": {"type": "object"},
                            "jvmOptions": {"type": "object"},
                            "metricsConfig": {"type": "object"},
                            "logging": {"type": "object"},
                            "template": {"type": "object"},
                        },
                    },
                    "entityOperator": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "topicOperator": {"type": "object"},
                            "userOperator": {"type": "object"},
                            "template": {"type": "object"},
                        },
                    },
                },
            },
        },
    },
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): {
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "metadata": _NAMED_IN_THE_CLUSTER,
            "spec": {
                "type": "object",
                "required": ["partitions", "replicas"],
                "additionalProperties": False,
                "properties": {
                    "topicName": {"type": "string"},
                    "partitions": {"type": "integer", "minimum": 1},
                    "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                    "config": {"type": "object"},
                },
            },
        },
    },
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): {
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "metadata": _NAMED_IN_THE_CLUSTER,
            "spec": {
                "type": "object",
                "required": ["authentication", "authorization"],
                "additionalProperties": False,
                "properties": {
                    "authentication": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {"type": {"enum": ["scram-sha-512", "tls", "tls-external"]}},
                    },
                    "authorization": {
                        "type": "object",
                        "required": ["type", "acls"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "simple"},
                            "acls": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["resource", "operations"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "resource": {
                                            "type": "object",
                                            "required": ["type"],
                                            "additionalProperties": False,
                                            "properties": {
                                                "type": {
                                                    "enum": ["topic", "group", "cluster", "transactionalId"]
                                                },
                                                "name": {"type": "string"},
                                                "patternType": {"enum": ["literal", "prefix"]},
                                            },
                                        },
                                        "operations": {
                                            "type": "array",
                                            "minItems": 1,
                                            "uniqueItems": True,
                                            "items": {"enum": KAFKA_ACL_OPERATIONS},
                                        },
                                        "host": {"type": "string"},
                                        "type": {"enum": ["allow", "deny"]},
                                    },
                                },
                            },
                        },
                    },
                    "quotas": {"type": "object"},
                    "template": {"type": "object"},
                },
            },
        },
    },
    # CloudNativePG (postgresql.cnpg.io/v1)
    ("postgresql.cnpg.io/v1", "Cluster"): {
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["instances", "storage"],
                "properties": {
                    "instances": {"type": "integer", "minimum": 1},
                    "imageName": {"type": "string"},
                    "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]},
                    "enableSuperuserAccess": {"type": "boolean"},
                    "superuserSecret": {
                        "type": "object",
                        "required": ["name"],
                        "additionalProperties": False,
                        "properties": {"name": {"type": "string"}},
                    },
                    "bootstrap": {
                        "type": "object",
                        "properties": {
                            "initdb": {
                                "type": "object",
                                "required": ["database", "owner"],
                                "properties": {"database": {"type": "string"}, "owner": {"type": "string"}},
                            }
                        },
                    },
                    "postgresql": {
                        "type": "object",
                        "properties": {
                            "parameters": {"type": "object", "additionalProperties": {"type": "string"}}
                        },
                    },
                    "storage": {
                        "type": "object",
                        "required": ["size"],
                        "properties": {"size": {"type": "string"}, "storageClass": {"type": "string"}},
                    },
                    "resources": {"type": "object"},
                },
            }
        },
    },
}


def operator_shape_errors(manifests: list[Manifest]) -> list[str]:
    errors = []
    for manifest in manifests:
        shape = OPERATOR_SHAPES.get((manifest["apiVersion"], manifest["kind"]))
        if shape is None:
            errors.append(f"{manifest['apiVersion']} {manifest['kind']}: not a documented shape")
            continue
        for error in jsonschema.Draft202012Validator(shape).iter_errors(manifest):
            path = "/".join(str(p) for p in error.absolute_path)
            errors.append(f"{manifest['kind']}/{manifest['metadata']['name']} {path}: {error.message}")
    return errors


def test_the_operator_resources_have_the_shapes_strimzi_and_cloudnativepg_document():
    manifests = rendered()
    custom = [m for m in manifests if is_operator_resource(m)]
    assert {(m["apiVersion"], m["kind"]) for m in custom} == set(OPERATOR_SHAPES)
    assert not operator_shape_errors(custom)


def test_a_broken_operator_resource_fails_its_shape():
    manifests = rendered()
    topic = of_kind(manifests, "KafkaTopic")["certibus.export"]
    topic["spec"]["partition"] = topic["spec"].pop("partitions")
    pool = of_kind(manifests, "KafkaNodePool")["dual-role"]
    pool["spec"]["roles"] = ["broker", "zookeeper"]
    kafka = of_kind(manifests, "Kafka")["certibus"]
    kafka["spec"]["zookeeper"] = {"replicas": 3}
    cluster = of_kind(manifests, "Cluster")["certibus-postgres"]
    del cluster["spec"]["instances"]
    errors = "\n".join(operator_shape_errors([topic, pool, kafka, cluster]))
    for expected in ("partitions", "zookeeper", "instances", "roles/1"):
        assert expected in errors, errors


# -- the manifests against the code -----------------------------------------------------------------


def test_a_kafka_topic_for_every_topic_the_code_creates_with_its_partitions():
    shared = config_maps()["certibus-config"]
    expected = {
        t.name: t
        for t in all_topics(
            int(shared["TOPIC_PARTITIONS"]),
            int(shared["TOPIC_RETENTION_DAYS"]),
            int(shared["TOPIC_REPLICATION_FACTOR"]),
        )
    }
    topics = {
        m["spec"].get("topicName", m["metadata"]["name"]): m
        for m in of_kind(rendered(), "KafkaTopic").values()
    }
    assert set(topics) == set(expected)
    assert any(name.endswith(".dlq") for name in topics)
    for name, spec in expected.items():
        topic = topics[name]["spec"]
        assert (topic["partitions"], topic["replicas"]) == (spec.partitions, spec.replication_factor), name
        assert {k: str(v) for k, v in topic["config"].items()} == spec.config(), name


def test_kafka_is_the_one_the_services_connect_to_and_loses_no_acknowledged_write():
    manifests = rendered()
    (kafka,) = of_kind(manifests, "Kafka").values()
    name = kafka["metadata"]["name"]
    pools = of_kind(manifests, "KafkaNodePool").values()
    assert {p["metadata"]["labels"]["strimzi.io/cluster"] for p in pools} == {name}
    assert {
        t["metadata"]["labels"]["strimzi.io/cluster"] for t in of_kind(manifests, "KafkaTopic").values()
    } == {name}
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    assert controllers % 2 == 1, "a KRaft quorum has an odd number of controllers"
    config = kafka["spec"]["kafka"]["config"]
    replication = int(config_maps()["certibus-config"]["TOPIC_REPLICATION_FACTOR"])
    assert 1 < int(config["min.insync.replicas"]) < replication <= brokers
    assert str(config["auto.create.topics.enable"]).lower() == "false"
    # one listener, TLS with SCRAM-SHA-512 (no plain door), the one the services' bootstrap names
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] is True and listener["authentication"] == {"type": "scram-sha-512"}
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple"}
    assert "userOperator" in kafka["spec"]["entityOperator"]  # it makes the KafkaUsers' Secrets
    shared = config_maps()["certibus-config"]
    assert shared["KAFKA_BOOTSTRAP_SERVERS"] == f"{name}-kafka-bootstrap:{listener['port']}"
    assert (shared["KAFKA_SECURITY_PROTOCOL"], shared["KAFKA_SASL_MECHANISM"]) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
    )
    # the version deploy/local's Maven broker and docker-compose run
    pom = (REPO / "deploy" / "local" / "kafka" / "pom.xml").read_text(encoding="utf-8")
    assert kafka["spec"]["kafka"]["version"] == re.search(r"<kafka.version>([^<]+)<", pom).group(1)
    peers = listener["networkPolicyPeers"]
    assert peers == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "certibus"}}}]
    for kind in ("Deployment", "Job"):
        for workload in of_kind(manifests, kind).values():
            assert workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "certibus"


def env_of(workload: Manifest) -> dict[str, Any]:
    """The variables a workload's container gets: envFrom ConfigMaps' data, then ``env`` entries (a
    value, or the (kind, name, key) reference of a Secret or ConfigMap key)."""
    maps = config_maps()
    spec = container(workload)
    env: dict[str, Any] = {}
    for source in spec.get("envFrom", []):
        env |= maps[source["configMapRef"]["name"]]
    for entry in spec.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ((kind, ref),) = entry["valueFrom"].items()
            env[entry["name"]] = (kind, ref["name"], ref["key"])
    return env


def secret_keys() -> dict[str, set[str]]:
    return {m["metadata"]["name"]: set(m["stringData"]) for m in load_yaml(SECRETS_EXAMPLE)}


def secret_refs(manifests: list[Manifest]) -> Iterator[tuple[str, str, str]]:
    for kind in ("Deployment", "Job"):
        for workload in of_kind(manifests, kind).values():
            for value in env_of(workload).values():
                if isinstance(value, tuple) and value[0] == "secretKeyRef":
                    yield workload["metadata"]["name"], value[1], value[2]


def test_every_secret_a_workload_or_an_operator_reads_is_in_the_secrets_example():
    manifests = rendered()
    known = secret_keys()
    # the Secrets Strimzi's user operator makes, one per KafkaUser (its SCRAM password)
    known |= {user: {"password"} for user in of_kind(manifests, "KafkaUser")}
    missing = [ref for ref in secret_refs(manifests) if ref[2] not in known.get(ref[1], set())]
    assert not missing, f"secret keys referenced but not in secrets.example.yaml: {missing}"
    (cluster,) = of_kind(manifests, "Cluster").values()
    assert {"username", "password"} <= known[cluster["spec"]["superuserSecret"]["name"]]
    unused = (
        set(known) - {ref[1] for ref in secret_refs(manifests)} - {cluster["spec"]["superuserSecret"]["name"]}
    )
    assert not unused, f"secrets nothing reads: {unused}"


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of an env value."""
    return re.sub(r"\$\(([A-Z0-9_]+)\)", lambda m: env[m.group(1)], value)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_connects_as_its_own_role_with_the_password_the_provisioning_job_sets(service):
    manifests = rendered()
    env = env_of(deployment(service))
    (cluster,) = of_kind(manifests, "Cluster").values()
    password_ref = env[SPLICED]
    url = expand(env["DATABASE_URL"], {SPLICED: "pw"})
    user, password, host, port, database = re.fullmatch(
        r"postgresql://([^:]+):([^@]+)@([^:/]+):(\d+)/(\w+)", url
    ).groups()
    assert (user, password) == (role_for(service), "pw")
    assert (host, port) == (f"{cluster['metadata']['name']}-rw", "5432")
    assert database == cluster["spec"]["bootstrap"]["initdb"]["database"]
    assert "DATABASE_SCHEMA" not in env or env["DATABASE_SCHEMA"] == schema_for(service)
    provision = env_of(of_kind(manifests, "Job")["certibus-provision"])
    assert provision[f"CERTIBUS_DB_PASSWORD_{service.upper()}"] == password_ref
    admin = expand(provision["DATABASE_ADMIN_URL"], {"CERTIBUS_PG_SUPERUSER_PASSWORD": "pw"})
    assert admin == f"postgresql://postgres:pw@{host}:5432/{database}"
    assert provision["CERTIBUS_PG_SUPERUSER_PASSWORD"][1] == cluster["spec"]["superuserSecret"]["name"]


def test_the_jobs_provision_and_create_topics_with_the_operators_command():
    jobs = of_kind(rendered(), "Job")
    assert "python -m shared.provision" in " ".join(container(jobs["certibus-provision"])["command"])
    assert "DATABASE_ADMIN_URL" in (REPO / "shared" / "provision.py").read_text(encoding="utf-8")
    topics = " ".join(container(jobs["certibus-topics"])["command"])
    assert "certibus topics create" in topics and "certibus topics describe" in topics
    assert 'certibus = "shared.cli:main"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")
    kafka_env = {k for k in env_of(jobs["certibus-topics"]) if k.startswith(("KAFKA_", "TOPIC_"))}
    assert {
        "KAFKA_BOOTSTRAP_SERVERS",
        "TOPIC_PARTITIONS",
        "TOPIC_RETENTION_DAYS",
        "TOPIC_REPLICATION_FACTOR",
    } <= kafka_env


def optional_variables() -> set[str]:
    section = K8S_README.split("### Left at their defaults", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))


def settings_fields(service: str) -> set[str]:
    definition = importlib.import_module(f"services.{service}.app").definition
    return {name.upper() for name in definition.settings_class.model_fields}


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_the_service_reads_is_set_or_documented_as_left_at_its_default(service):
    env = set(env_of(deployment(service)))
    optional = optional_variables()
    fields = settings_fields(service)
    missing = fields - env - optional
    assert not missing, f"{service}: set these in deploy/k8s or list them in its README: {sorted(missing)}"
    # the certibus command run in the pod reads OperatorSettings (SCHEDULER_URL…): allowed
    unknown = env - fields - {n.upper() for n in OperatorSettings.model_fields} - {SPLICED}
    assert not unknown, f"{service}: variables the code does not read: {sorted(unknown)}"
    assert not {"REBUILD_READ_MODELS", "REBUILD_SINCE"} & env, "replay mode on a Deployment"


def test_the_documented_defaults_are_real_variables():
    every = set().union(*(settings_fields(s) for s in SERVICES))
    assert optional_variables(), "deploy/k8s/README.md lost its 'Left at their defaults' list"
    assert not optional_variables() - every, f"not read by any service: {optional_variables() - every}"


def test_every_variable_check_can_fail():
    """Dropping a variable from the ConfigMap makes it missing; a stray one is unknown."""
    env = set(env_of(deployment("finalisation"))) - {"FINALISATION_OVERDUE_DAYS"}
    assert "FINALISATION_OVERDUE_DAYS" in settings_fields("finalisation") - env - optional_variables()
    assert "FINALISATION_OVERDUE_DAY" not in settings_fields("finalisation")


@pytest.mark.parametrize("service", SERVICES)
def test_the_rendered_environment_starts_the_service_in_production(service, monkeypatch, tmp_path):
    """The settings class accepts what the manifests give, ENVIRONMENT=production included: no
    development secret, a sign-in, values of the right types (secrets: long random values)."""
    env: dict[str, str] = {}
    for name, value in env_of(deployment(service)).items():
        if isinstance(value, tuple):
            kind, ref, key = value
            value = (
                config_maps()[ref][key]
                if kind == "configMapKeyRef"
                else next(
                    (
                        m["stringData"][key]
                        for m in load_yaml(SECRETS_EXAMPLE)
                        if m["metadata"]["name"] == ref
                    ),
                    "change-me: a password Strimzi's user operator generates",
                )
            )
            if value.startswith("change-me"):
                value = secrets.token_hex(32)
        env[name] = expand(value, env)
    assert env["ENVIRONMENT"] == "production"
    for name in list(env) + [f.upper() for f in OperatorSettings.model_fields]:
        monkeypatch.delenv(name, raising=False)
    # the CA file is the Secret the pod mounts; here, a stand-in at a path of this machine
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    assert env["KAFKA_SSL_CAFILE"].startswith(kafka_ca_mount(deployment(service)))
    env["KAFKA_SSL_CAFILE"] = str(ca_file)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = importlib.import_module(f"services.{service}.app").definition.settings_class()
    assert settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_sasl_password is not None
    assert settings.http_port == deployment_port(service)
    assert settings.api_tokens()


def kafka_ca_mount(workload: Manifest) -> str:
    """Where the workload mounts Strimzi's cluster CA (the ``ca.crt`` of ``<cluster>-cluster-ca-cert``)."""
    pod = workload["spec"]["template"]["spec"]
    (volume,) = [
        v for v in pod["volumes"] if v.get("secret", {}).get("secretName", "").endswith("-cluster-ca-cert")
    ]
    assert volume["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    (mount,) = [m for m in container(workload)["volumeMounts"] if m["name"] == volume["name"]]
    assert mount.get("readOnly") is True
    return mount["mountPath"]


def deployment_port(service: str) -> int:
    (port,) = container(deployment(service))["ports"]
    return port["containerPort"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_deployment_runs_its_service_safely_and_drains_before_it_is_killed(service):
    workload = deployment(service)
    pod = workload["spec"]["template"]["spec"]
    spec = container(workload)
    assert spec["command"] == ["python", "-m", f"services.{service}"]
    assert (REPO / "services" / service / "__main__.py").exists()
    port = deployment_port(service)
    assert int(env_of(workload)["HTTP_PORT"]) == port
    assert env_of(workload)["HTTP_HOST"] == "0.0.0.0"
    assert spec["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert spec["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert spec["ports"][0]["name"] == "http"
    assert {"cpu", "memory"} <= set(spec["resources"]["requests"]) and "memory" in spec["resources"]["limits"]
    # non-root, read-only, a writable /tmp
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["capabilities"]["drop"] == ["ALL"]
    tmp = next(m for m in spec["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    # the grace period covers the preStop pause, the consumers' shutdown grace and a margin for
    # the HTTP requests in flight, the last offset commit and leaving the groups (shared/service.py)
    pause = int(spec["lifecycle"]["preStop"]["exec"]["command"][-1])
    grace = EventConsumer.__dataclass_fields__["shutdown_grace_seconds"].default
    assert pod["terminationGracePeriodSeconds"] >= pause + grace + 15
    assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize("service", SERVICES)
def test_each_http_api_has_a_service_and_a_disruption_budget_that_lets_a_node_drain(service):
    manifests = rendered()
    workload = deployment(service)
    labels = workload["spec"]["template"]["metadata"]["labels"]
    (svc,) = [
        s for s in of_kind(manifests, "Service").values() if s["spec"]["selector"].items() <= labels.items()
    ]
    assert svc["metadata"]["name"] == f"certibus-{service}"
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": deployment_port(service), "targetPort": "http", "protocol": "TCP"}
    ]
    assert (
        config_maps()["certibus-config"][f"{service.upper()}_URL"]
        == f"http://{svc['metadata']['name']}:{deployment_port(service)}"
    )
    (pdb,) = [
        p
        for p in of_kind(manifests, "PodDisruptionBudget").values()
        if p["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]
    hpas = [
        h
        for h in of_kind(manifests, "HorizontalPodAutoscaler").values()
        if h["spec"]["scaleTargetRef"]["name"] == workload["metadata"]["name"]
    ]
    replicas = hpas[0]["spec"]["minReplicas"] if hpas else workload["spec"]["replicas"]
    assert 1 <= pdb["spec"]["minAvailable"] < replicas
    assert not (hpas and "replicas" in workload["spec"]), "an HPA and fixed replicas fight at each apply"


def test_the_autoscaler_stays_within_the_partitions_its_consumers_can_share():
    manifests = rendered()
    partitions = int(config_maps()["certibus-config"]["TOPIC_PARTITIONS"])
    hpas = of_kind(manifests, "HorizontalPodAutoscaler").values()
    assert hpas
    for hpa in hpas:
        assert hpa["spec"]["scaleTargetRef"]["name"] in of_kind(manifests, "Deployment")
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions


def test_postgresql_accepts_every_replicas_pool_at_the_autoscalers_maximum():
    manifests = rendered()
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"]
        for h in of_kind(manifests, "HorizontalPodAutoscaler").values()
    }
    pool = int(config_maps()["certibus-config"]["DATABASE_POOL_MAX"])
    replicas = [
        hpas.get(name, d["spec"].get("replicas", 1)) for name, d in of_kind(manifests, "Deployment").items()
    ]
    needed = sum(r * (pool + 1) for r in replicas)  # + the relay's own connection
    (cluster,) = of_kind(manifests, "Cluster").values()
    assert (
        int(cluster["spec"]["postgresql"]["parameters"]["max_connections"]) >= needed + 20
    )  # jobs, operators


def test_without_kubectl_the_loader_finds_the_same_resources():
    if shutil.which("kubectl") is None:
        pytest.skip("no kubectl: the loader is what rendered the overlay")
    names = {(m["kind"], m["metadata"]["name"]) for m in rendered()}
    assert {(m["kind"], m["metadata"]["name"]) for m in load_kustomization(OVERLAY)} == names


@pytest.mark.parametrize("job", ["certibus-provision", "certibus-topics"])
def test_the_jobs_run_as_safely_as_the_services_and_run_again_at_the_next_apply(job: str):
    workload = of_kind(rendered(), "Job")[job]
    pod = workload["spec"]["template"]["spec"]
    spec = container(workload)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert pod["restartPolicy"] == "OnFailure" and workload["spec"]["backoffLimit"] >= 3
    # a Job's template cannot change in place: a finished one is deleted so the next apply re-runs it
    assert 0 < workload["spec"]["ttlSecondsAfterFinished"] <= 24 * 3600


def replay_job(service: str) -> Manifest:
    (job,) = load_yaml(K8S / "replay" / f"{service}.yaml")
    return job


def test_the_replay_jobs_validate_and_cover_every_service():
    assert sorted(p.stem for p in (K8S / "replay").glob("*.yaml")) == sorted(SERVICES)
    assert not core_schema_errors([replay_job(s) for s in SERVICES])


@pytest.mark.parametrize("service", SERVICES)
def test_a_replay_job_runs_certibus_replay_in_the_services_own_environment(service: str):
    (base,) = [m for m in load_yaml(K8S / "base" / f"{service}.yaml") if m["kind"] == "Deployment"]
    job = replay_job(service)
    live, replay = container(base), container(job)
    assert replay["command"][:3] == ["certibus", "replay", service]
    for key in ("image", "envFrom", "env", "volumeMounts", "securityContext", "resources"):
        assert replay[key] == live[key], f"{service}: the replay Job's {key} differs from the Deployment's"
    pod, live_pod = job["spec"]["template"]["spec"], base["spec"]["template"]["spec"]
    assert pod["volumes"] == live_pod["volumes"] and pod["securityContext"] == live_pod["securityContext"]
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0  # an operator looks first


def test_the_pods_run_as_the_images_user():
    dockerfile = (REPO / "deploy" / "docker" / "Dockerfile").read_text(encoding="utf-8")
    uid = int(re.search(r"useradd [^&]*--uid (\d+) certibus", dockerfile).group(1))
    assert re.search(r"^USER certibus$", dockerfile, flags=re.MULTILINE)
    assert "pip install ." in dockerfile  # the certibus command the Jobs run
    for kind in ("Deployment", "Job"):
        for workload in of_kind(rendered(), kind).values():
            assert workload["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid


def test_the_operators_command_in_any_pod_reads_the_topics_and_urls_the_manifests_declare(
    monkeypatch, tmp_path
):
    """`certibus topics create|describe` (the Job) and `certibus health` (kubectl exec) parse
    certibus-config and expect exactly the KafkaTopics and Services of the manifests."""
    shared = config_maps()["certibus-config"]
    for name in [f.upper() for f in OperatorSettings.model_fields]:
        monkeypatch.delenv(name, raising=False)
    for name, value in shared.items():
        monkeypatch.setenv(name, value)
    # as the topics Job runs it: its KafkaUser, its password (a stand-in), the mounted CA (a stand-in)
    job = env_of(of_kind(rendered(), "Job")["certibus-topics"])
    monkeypatch.setenv("KAFKA_SASL_USERNAME", job["KAFKA_SASL_USERNAME"])
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", secrets.token_hex(32))
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "ca.crt"))
    settings = OperatorSettings()
    specs = all_topics(
        settings.topic_partitions, settings.topic_retention_days, settings.topic_replication_factor
    )
    topics = of_kind(rendered(), "KafkaTopic")
    assert {t.name: (t.partitions, t.replication_factor) for t in specs} == {
        t["spec"]["topicName"]: (t["spec"]["partitions"], t["spec"]["replicas"]) for t in topics.values()
    }
    services = of_kind(rendered(), "Service")
    for service in SERVICES:
        host, port = settings.service_url(service).removeprefix("http://").split(":")
        assert services[host]["spec"]["ports"][0]["port"] == int(port)


def test_the_gateway_tokens_are_off_unless_the_academie_creates_them():
    """School routes open with the provider's tokens; API_TOKEN and FINALISATION_API_TOKEN are the
    trusted gateway's fallback: a pod starts without them (the key may be left out of the Secret)."""
    gateway_keys = {"API_TOKEN", "FINALISATION_API_TOKEN"}
    refs = []
    for kind in ("Deployment", "Job"):
        for workload in of_kind(rendered(), kind).values():
            for entry in container(workload).get("env", []):
                if entry["name"] in gateway_keys:
                    refs.append((workload["metadata"]["name"], entry["name"]))
                    assert entry["valueFrom"]["secretKeyRef"].get("optional") is True, (
                        workload["metadata"]["name"],
                        entry["name"],
                    )
    assert refs, "no workload reads the gateway tokens any more: drop this test and the README's lines"
    overlay = (K8S / "overlays" / "example" / "kustomization.yaml").read_text(encoding="utf-8")
    assert "/data/OIDC_ISSUER" in overlay  # the sign-in the overlay turns on
