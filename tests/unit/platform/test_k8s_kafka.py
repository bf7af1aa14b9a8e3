"""deploy/k8s: every pod reaches Kafka over TLS as its own KafkaUser, whose ACLs are what its code does.

The expected ACLs are derived from the code, not copied from the manifests: the topic a service
publishes (shared/contracts/topics.py), the topics its consumers read (the consumers its ``wire``
registers), its dead-letter topic and its consumer groups (``CONSUMER_GROUP_PREFIX``). Offline, on
the overlay test_k8s renders.
"""

from __future__ import annotations

import copy
import importlib
from functools import cache

import pytest

from shared.contracts.topics import EVENT_TOPICS, SERVICES, dead_letter_topic
from shared.service import Runtime
from tests.unit.platform.test_k8s import (
    Manifest,
    config_maps,
    container,
    deployment,
    env_of,
    kafka_ca_mount,
    of_kind,
    operator_shape_errors,
    rendered,
    replay_job,
)

#: what every service may do on any certibus topic: list it at start-up (ensure_topics), no record
EVERY_TOPIC = ("topic", "certibus.", "prefix")
OPERATOR_USER = "certibus-operator-kafka"
Acls = dict[tuple[str, str, str], frozenset[str]]


def kafka_user_of(service: str) -> str:
    return f"certibus-{service}-kafka"


@cache
def consumed_topics(service: str) -> frozenset[str]:
    """The topics the service's consumers read, as its ``wire`` registers them (nothing is started)."""
    definition = importlib.import_module(f"services.{service}.app").definition
    runtime = Runtime(
        definition=definition, settings=definition.settings_class(), pool=None, broker=None, relay=None
    )
    definition.wire(runtime)
    return frozenset(topic for consumer in runtime.consumers for topic in consumer.topics)


def expected_acls(service: str) -> Acls:
    """The ACLs the service needs, from its code: publish, consume, dead-letter, its groups."""
    wanted: dict[tuple[str, str, str], set[str]] = {EVERY_TOPIC: {"Describe"}}
    own = f"certibus.{service}"
    if own in EVENT_TOPICS:
        wanted.setdefault(("topic", own, "literal"), set()).add("Write")
    for topic in consumed_topics(service):
        wanted.setdefault(("topic", topic, "literal"), set()).add("Read")
    wanted[("topic", dead_letter_topic(service), "literal")] = {"Read", "Write"}
    prefix = config_maps()["certibus-config"]["CONSUMER_GROUP_PREFIX"]
    wanted[("group", f"{prefix}.{service}.", "prefix")] = {"Read", "Describe"}
    return {resource: frozenset(ops) for resource, ops in wanted.items()}


def acls_of(user: Manifest) -> Acls:
    found: dict[tuple[str, str, str], set[str]] = {}
    for rule in user["spec"]["authorization"]["acls"]:
        assert rule.get("type", "allow") == "allow", "a deny rule: the users are built from allows only"
        resource = rule["resource"]
        key = (resource["type"], resource.get("name", ""), resource.get("patternType", "literal"))
        found.setdefault(key, set()).update(rule["operations"])
    return {resource: frozenset(ops) for resource, ops in found.items()}


def kafka_users() -> dict[str, Manifest]:
    return of_kind(rendered(), "KafkaUser")


def test_one_kafka_user_per_service_and_one_for_the_operators_on_the_cluster():
    (kafka,) = of_kind(rendered(), "Kafka").values()
    users = kafka_users()
    assert set(users) == {kafka_user_of(s) for s in SERVICES} | {OPERATOR_USER}
    for user in users.values():
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        # what the only listener takes (test_k8s checks it is scram-sha-512 over TLS)
        assert user["spec"]["authentication"] == kafka["spec"]["kafka"]["listeners"][0]["authentication"]
    assert not operator_shape_errors(list(users.values()))


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_user_may_do_what_its_code_does_and_nothing_more(service):
    assert acls_of(kafka_users()[kafka_user_of(service)]) == expected_acls(service)


def test_the_acl_check_fails_on_a_missing_or_an_extra_right():
    """A user that lost a consumed topic, or gained another service's, no longer matches."""
    user = copy.deepcopy(kafka_users()[kafka_user_of("export")])
    rules = user["spec"]["authorization"]["acls"]
    rules[:] = [r for r in rules if r["resource"].get("name") != "certibus.finalisation"]
    assert ("topic", "certibus.finalisation", "literal") not in acls_of(user)
    assert acls_of(user) != expected_acls("export")
    greedy = copy.deepcopy(kafka_users()[kafka_user_of("academie")])
    greedy["spec"]["authorization"]["acls"].append(
        {
            "resource": {"type": "topic", "name": "certibus.scheduler", "patternType": "literal"},
            "operations": ["Write"],
        }
    )
    assert acls_of(greedy) != expected_acls("academie")


def test_no_service_reads_what_it_does_not_consume_or_writes_another_services_topic():
    """Read on the prefix, or Write on a topic not its own, would let one service see or forge another's."""
    for service in SERVICES:
        for (kind, name, pattern), operations in acls_of(kafka_users()[kafka_user_of(service)]).items():
            if kind != "topic":
                continue
            if pattern == "prefix":
                assert operations == {"Describe"}, f"{service}: {operations} on every topic"
            if "Write" in operations:
                assert name in (f"certibus.{service}", dead_letter_topic(service)), f"{service} writes {name}"


def test_the_operators_user_creates_and_describes_topics_and_redrives_dead_letters():
    rights = acls_of(kafka_users()[OPERATOR_USER])
    assert {"Create", "Describe", "DescribeConfigs", "Read", "Write"} <= rights[EVERY_TOPIC]
    assert "Describe" in rights[("group", "certibus.", "prefix")]


def kafka_workloads() -> dict[str, tuple[Manifest, str]]:
    """Every workload that speaks Kafka, with the user it must connect as."""
    workloads = {f"deployment/{s}": (deployment(s), kafka_user_of(s)) for s in SERVICES}
    workloads |= {f"replay/{s}": (replay_job(s), kafka_user_of(s)) for s in SERVICES}
    workloads["job/certibus-topics"] = (of_kind(rendered(), "Job")["certibus-topics"], OPERATOR_USER)
    return workloads


@pytest.mark.parametrize("name", sorted(kafka_workloads()))
def test_each_workload_connects_over_tls_as_its_user_with_the_secret_strimzi_makes(name):
    workload, user = kafka_workloads()[name]
    env = env_of(workload)
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL" and env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["KAFKA_SASL_USERNAME"] == user
    # the user operator writes the password in a Secret named like the KafkaUser, key `password`
    assert env["KAFKA_SASL_PASSWORD"] == ("secretKeyRef", user, "password")
    (kafka,) = of_kind(rendered(), "Kafka").values()
    mount = kafka_ca_mount(workload)
    assert env["KAFKA_SSL_CAFILE"] == f"{mount}/ca.crt"
    pod = workload["spec"]["template"]["spec"]
    (ca,) = [v for v in pod["volumes"] if "secret" in v]
    assert ca["secret"]["secretName"] == f"{kafka['metadata']['name']}-cluster-ca-cert"
    assert not {e["name"] for e in container(workload).get("env", [])} & {"KAFKA_SECURITY_PROTOCOL"}, (
        "the protocol comes from certibus-config, the same for every pod"
    )


def test_no_two_workloads_of_different_services_share_a_kafka_user():
    users: dict[str, set[str]] = {}
    for name, (workload, _) in kafka_workloads().items():
        users.setdefault(env_of(workload)["KAFKA_SASL_USERNAME"], set()).add(name.split("/")[1])
    assert all(len(owners) == 1 for owners in users.values()), users
