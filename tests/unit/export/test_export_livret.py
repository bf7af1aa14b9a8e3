import json
import random
from datetime import UTC, date, datetime, timedelta

from services.export.domain.livret import iso_instant, render_livret_json
from services.export.domain.records import ResultStatus
from services.export.domain.selection import ExportIndex
from services.export.domain.summaries import produce_livret
from shared.contracts.referential import AREAS, COMPETENCE_IDS, COMPETENCES

UAI = "0751234A"
DAY = datetime(2024, 3, 12, 9, 0, tzinfo=UTC)
CERTIFICATION_KEYS = [
    "id",
    "firstName",
    "middleName",
    "thirdName",
    "lastName",
    "birthdate",
    "nationalStudentId",
    "date",
    "verificationCode",
    "deliveredAt",
    "certificationCenter",
    "status",
    "pixScore",
    "competenceResults",
]


def livret(index, uai=UAI):
    return json.loads(render_livret_json(index, uai))


def single(make, learner_overrides=None, **result_overrides):
    learner = make.learner("anne", **(learner_overrides or {}))
    candidate = make.candidate(learner)
    return ExportIndex([learner], [candidate], [make.result(candidate, 123, **result_overrides)])


def test_document_shape_and_referential(make):
    document = livret(single(make))
    assert list(document) == ["data", "included"]
    assert list(document["data"]) == ["type", "attributes", "relationships"]
    assert document["data"]["type"] == "certificationsResults"
    assert document["data"]["relationships"]["competences"]["data"] == [
        {"id": competence_id, "type": "competences"} for competence_id in COMPETENCE_IDS
    ]
    areas = [item for item in document["included"] if item["type"] == "areas"]
    competences = [item for item in document["included"] if item["type"] == "competences"]
    assert areas == [{"type": "areas", "id": a.id, "attributes": {"name": a.name}} for a in AREAS]
    assert len(competences) == 16
    assert competences[0] == {
        "type": "competences",
        "id": "1.1",
        "attributes": {"name": "Mener une recherche et une veille d’information"},
        "relationships": {"area": {"data": {"id": "1", "type": "areas"}}},
    }
    assert [c["relationships"]["area"]["data"]["id"] for c in competences] == [c.area_id for c in COMPETENCES]


def test_validated_certification_entry(make):
    index = single(
        make,
        learner_overrides={
            "first_name": "Anne",
            "middle_name": "Sophie",
            "third_name": "Bobby",
            "last_name": "Jerry",
            "birthdate": date(2000, 1, 29),
            "ine": "029991043XX",
        },
        first_name="Course-name",
        pix_score=520,
        competence_levels={"5.2": 4, "1.1": 6, "3.10": 1, "2.1": None, "4.1": -1},
        verification_code="P-Y468ACDE",
        taken_at=DAY,
        published_at=DAY + timedelta(days=8, hours=1, microseconds=123_456),
    )
    [entry] = livret(index)["data"]["attributes"]["certifications"]
    assert list(entry) == CERTIFICATION_KEYS
    assert entry == {
        "id": 123,
        "firstName": "Anne",
        "middleName": "Sophie",
        "thirdName": "Bobby",
        "lastName": "Jerry",
        "birthdate": "2000-01-29",
        "nationalStudentId": "029991043XX",
        "date": "2024-03-12T09:00:00.000Z",
        "verificationCode": "P-Y468ACDE",
        "deliveredAt": "2024-03-20T10:00:00.123Z",
        "certificationCenter": "Collège Kort Colin",
        "status": "validated",
        "pixScore": 520,
        "competenceResults": [
            {"competenceId": "1.1", "level": 6},
            {"competenceId": "3.10", "level": 1},
            {"competenceId": "4.1", "level": -1},
            {"competenceId": "5.2", "level": 4},
        ],
    }


def test_unpublished_is_pending_without_score(make):
    [entry] = livret(single(make, published=False, published_at=None))["data"]["attributes"]["certifications"]
    assert (entry["status"], entry["pixScore"], entry["competenceResults"], entry["deliveredAt"]) == (
        "pending",
        0,
        [],
        None,
    )


def test_published_rejected_has_no_score(make):
    [entry] = livret(single(make, status=ResultStatus.REJECTED))["data"]["attributes"]["certifications"]
    assert (entry["status"], entry["pixScore"], entry["competenceResults"]) == ("rejected", 0, [])


def test_published_error_is_not_shown_as_final(make):
    [entry] = livret(single(make, status=ResultStatus.ERROR))["data"]["attributes"]["certifications"]
    assert entry["status"] == "pending"


def test_latest_non_cancelled_and_only_active_learners(make):
    kept = make.learner("kept")
    only_cancelled = make.learner("cancelled")
    gone = make.learner("gone", active=False)
    learners = [kept, only_cancelled, gone]
    candidates = [make.candidate(learner) for learner in learners]
    results = [
        make.result(candidates[0], 1, taken_at=DAY),
        make.result(candidates[0], 2, taken_at=DAY + timedelta(days=1), published=False),
        make.result(candidates[0], 3, taken_at=DAY + timedelta(days=2), status=ResultStatus.CANCELLED),
        make.result(candidates[1], 4, status=ResultStatus.CANCELLED),
        make.result(candidates[2], 5),
    ]
    certifications = livret(ExportIndex(learners, candidates, results))["data"]["attributes"][
        "certifications"
    ]
    assert [(c["id"], c["status"]) for c in certifications] == [(2, "pending")]


def test_sorted_by_last_name_first_name_then_id(make):
    people = [
        ("a", "Zoé", "Martin"),
        ("b", "Émile", "Martin"),
        ("c", "Eric", "Martin"),
        ("d", "Anne", "Écrou"),
        ("e", "Anne", "Durand"),
    ]
    learners = [make.learner(key, first_name=first, last_name=last) for key, first, last in people]
    twin = make.learner("f", first_name="Eric", last_name="Martin")
    learners.append(twin)
    candidates = [make.candidate(learner) for learner in learners]
    results = [make.result(c, 100 - i) for i, c in enumerate(candidates)]
    certifications = livret(ExportIndex(learners, candidates, results))["data"]["attributes"][
        "certifications"
    ]
    assert [(c["lastName"], c["firstName"], c["id"]) for c in certifications] == [
        ("Durand", "Anne", 96),
        ("Écrou", "Anne", 97),
        ("Martin", "Émile", 99),
        ("Martin", "Eric", 95),
        ("Martin", "Eric", 98),
        ("Martin", "Zoé", 100),
    ]


def test_unknown_uai_gives_empty_list_with_referential(make):
    document = livret(single(make), uai="0000000X")
    assert document["data"]["attributes"]["certifications"] == []
    assert len(document["included"]) == 21


def test_uai_is_case_insensitive(make):
    assert len(livret(single(make), uai="0751234a")["data"]["attributes"]["certifications"]) == 1


def test_serialisation_is_deterministic_and_compact(make):
    learners = [make.learner(str(i), last_name=f"Élève{i % 7}") for i in range(40)]
    candidates = [make.candidate(learner) for learner in learners]
    results = [make.result(c, i, competence_levels={"2.1": 3, "1.1": 2}) for i, c in enumerate(candidates)]
    first = render_livret_json(ExportIndex(learners, candidates, results), UAI)
    shuffled = random.Random(7)
    for items in (learners, candidates, results):
        shuffled.shuffle(items)
    second = render_livret_json(ExportIndex(learners, candidates, results), UAI)
    assert first == second
    assert "Élève".encode() in first and b"\\u" not in first
    compact = json.dumps(json.loads(first), ensure_ascii=False, separators=(",", ":")).encode()
    assert first == compact


def test_iso_instant_matches_javascript():
    assert iso_instant(datetime(2024, 3, 12, 10, 0, 0, 5_000, tzinfo=UTC)) == "2024-03-12T10:00:00.005Z"
    assert iso_instant(None) is None


def test_produce_livret_counts_statuses(make):
    learners = [make.learner(k) for k in "abcd"]
    candidates = [make.candidate(learner) for learner in learners]
    results = [
        make.result(candidates[0], 1),
        make.result(candidates[1], 2, status=ResultStatus.REJECTED),
        make.result(candidates[2], 3, published=False),
    ]
    export = produce_livret(ExportIndex(learners, candidates, results), UAI, "LSU", date(2024, 6, 20))
    assert export.file_name == "20240620_livret_LSU_0751234A.json"
    fields = export.summary.event_fields()
    assert {k: fields[k] for k in ("uai", "level", "certifications", "validated", "rejected", "pending")} == {
        "uai": UAI,
        "level": "LSU",
        "certifications": 3,
        "validated": 1,
        "rejected": 1,
        "pending": 1,
    }
