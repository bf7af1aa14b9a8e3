"""The export service over real Kafka: roster, session, enrolments and results go in as their
owners publish them; files come out on disk, checked byte for byte, and are announced once."""

from __future__ import annotations

import asyncio
import io
import json
import re

import pytest
from pypdf import PdfReader

from services.export.app import definition
from services.export.domain.files import sha256_hex
from shared.contracts.events import ClassResultsExported, LivretExportProduced
from shared.contracts.topics import EXPORT
from tests.events import (
    Outcome,
    certification_ids,
    enrolled,
    learner,
    new_uai,
    results,
    session,
)
from tests.support import wait_for

pytestmark = pytest.mark.integration

HEADER = (
    '"Numéro de certification";"Prénom";"Nom";"Date de naissance";"Lieu de naissance";'
    '"Identifiant Externe";"Statut";"Nombre de Pix";"1.1";"1.2";"1.3";"2.1";"2.2";"2.3";"2.4";'
    '"3.1";"3.2";"3.3";"3.4";"4.1";"4.2";"4.3";"5.1";"5.2";"Commentaire jury pour l’organisation";'
    '"Session";"Date de passage de la certification"'
)

#: the school's own files: the service also exports the schools other tests publish on the topics
DIGESTS = "SELECT kind, division_key, sha256 FROM exports WHERE uai = $1 ORDER BY 1, 2"


async def handled(svc, event_id: str) -> bool:
    return bool(await svc.pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1::uuid", event_id))


async def test_results_become_files_on_disk_announced_once(start_service, publish, record_events, tmp_path):
    svc = await start_service(definition, export_output_dir=tmp_path, export_rebuild_interval_seconds=0.3)
    uai = new_uai()
    # birth cities from the roster: the CSV shows Zoé's, her result (livret JSON) having none;
    # Max's result carries Pix's birthplace, which wins
    zoe = learner(uai, "zoe", first_name="Zoé", last_name="Durand", ine="123456789AB", birth_city="Quimper")
    eve = learner(uai, "eve", first_name="Ève", last_name='=HYPERLINK("http://x")', ine="223456789AB")
    max_ = learner(uai, "max", first_name="Max", last_name="Bernard", ine="323456789AB", birth_city="Brest")
    other_class = learner(uai, "tom", first_name="Tom", last_name="Abadie", division="3B")
    s1 = session(uai, number=4711)
    first, second, third, fourth = certification_ids(4)
    processed = results(
        s1,
        Outcome(zoe, first, pix_score=412, levels={"1.1": 3, "2.1": 2, "5.2": -1}, jury_comment="RAS"),
        Outcome(eve, second, status="rejected", pix_score=0, levels={"1.1": 2}),
        Outcome(max_, third, status="cancelled", pix_score=None, jury_comment="Fraude", birthplace="Lorient"),
    )

    async with record_events([EXPORT]) as recorder:
        learner_ids = await publish(zoe, eve, max_, other_class, s1, enrolled(s1, zoe, eve, max_))
        for event_id in learner_ids:
            await wait_for(lambda event_id=event_id: handled(svc, event_id), what="roster and session")
        [first_delivery] = await publish(processed)
        [livret_event] = await recorder.wait_for(LivretExportProduced, uai=uai)
        [csv_event] = await recorder.wait_for(ClassResultsExported, uai=uai)

        # -- the class CSV, byte by byte
        directory = tmp_path / uai
        csv_path = directory / csv_event.file_name
        assert re.fullmatch(r"\d{8}_resultats_3A\.csv", csv_event.file_name)
        raw = csv_path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        assert not raw.endswith(b"\n")
        lines = raw[3:].decode("utf-8").split("\n")
        assert lines[0] == HEADER
        assert len(lines) == 4 and csv_event.rows == 3
        by_name = {line.split(";")[2]: line for line in lines[1:]}
        assert by_name['"Durand"'] == (
            f'{first};"Zoé";"Durand";"02/04/2011";"Quimper";;"Validée";412;3;"-";"-";2;"-";"-";"-";'
            f'"-";"-";"-";"-";"-";"-";"-";"-";0;"RAS";4711;"17/03/2025"'
        )
        assert by_name['"Bernard"'] == (
            f'{third};"Max";"Bernard";"02/04/2011";"Lorient";;"Annulée";"-";'
            + '"-";' * 16
            + '"Fraude";4711;"17/03/2025"'
        )
        # formula neutralised, inner quote doubled; rejected: "0" and 0 for tested competences
        assert by_name['"\'=HYPERLINK(""http://x"")"'].split(";")[6:9] == ['"Rejetée"', '"0"', "0"]
        assert by_name['"\'=HYPERLINK(""http://x"")"'].split(";")[4] == ""  # no birthplace anywhere
        assert sha256_hex(raw) == csv_event.sha256

        # -- the livret JSON: Pix's certificationsResults shape, roster names, cancelled left out
        livret_path = directory / livret_event.file_name
        assert livret_event.file_name.endswith(f"_livret_LSU_{uai}.json") and livret_event.level == "LSU"
        document = json.loads(livret_path.read_bytes())
        assert list(document) == ["data", "included"]
        assert document["data"]["type"] == "certificationsResults"
        certifications = document["data"]["attributes"]["certifications"]
        assert [c["lastName"] for c in certifications] == ['=HYPERLINK("http://x")', "Durand"]
        zoe_entry = certifications[1]
        assert list(zoe_entry) == [
            "id", "firstName", "middleName", "thirdName", "lastName", "birthdate", "nationalStudentId",
            "date", "verificationCode", "deliveredAt", "certificationCenter", "status", "pixScore",
            "competenceResults",
        ]  # fmt: skip
        assert zoe_entry["nationalStudentId"] == "123456789AB"
        assert zoe_entry["date"] == "2025-03-17T08:30:00.000Z"
        assert zoe_entry["deliveredAt"] == "2025-03-28T10:00:00.000Z"
        assert zoe_entry["competenceResults"] == [
            {"competenceId": "1.1", "level": 3},
            {"competenceId": "2.1", "level": 2},
            {"competenceId": "5.2", "level": -1},
        ]
        assert (certifications[0]["status"], certifications[0]["pixScore"]) == ("rejected", 0)
        assert (livret_event.certifications, livret_event.validated, livret_event.rejected) == (2, 1, 1)
        assert sha256_hex(livret_path.read_bytes()) == livret_event.sha256

        # -- the attestations: one page per validated certificate, text readable
        [pdf_path] = directory.glob("*_attestations_3A.pdf")
        reader = PdfReader(io.BytesIO(pdf_path.read_bytes()))
        assert len(reader.pages) == 1
        text = reader.pages[0].extract_text()
        for expected in ("Zoé Durand", "02/04/2011", "17/03/2025", "412 pix", "Indépendant 4", "P-"):
            assert expected in text
        assert "1.1 Mener une recherche" in text and "niveau 3" in text

        # -- Pix re-sends the same results: new event id, same payload
        files_before = {p.name: p.read_bytes() for p in directory.iterdir()}
        digests_before = await svc.pool.fetch(DIGESTS, uai)
        announced = len(recorder.of(LivretExportProduced, uai=uai)) + len(
            recorder.of(ClassResultsExported, uai=uai)
        )
        [second_delivery] = await publish(processed)
        assert second_delivery != first_delivery
        await wait_for(lambda: handled(svc, second_delivery), what="the re-sent results")
        await asyncio.sleep(3)
        assert len(recorder.of(LivretExportProduced, uai=uai)) + len(
            recorder.of(ClassResultsExported, uai=uai)
        ) == (announced)
        assert {p.name: p.read_bytes() for p in directory.iterdir()} == files_before
        assert (await svc.pool.fetch(DIGESTS, uai)) == digests_before

        # -- more results for the school: the livret is rewritten in place, the new class exported
        s2 = session(uai, number=4712)
        await publish(enrolled(s2, other_class), results(s2, Outcome(other_class, fourth)))
        livret_events = await recorder.wait_for(LivretExportProduced, count=2, uai=uai)
        assert livret_events[-1].sha256 != livret_event.sha256
        assert livret_events[-1].certifications == 3
        rewritten = json.loads(livret_path.read_bytes())["data"]["attributes"]["certifications"]
        assert [c["lastName"] for c in rewritten] == ['=HYPERLINK("http://x")', "Abadie", "Durand"]
        [csv_3b] = await recorder.wait_for(ClassResultsExported, uai=uai, division="3B")
        assert csv_3b.rows == 1
        assert not any(p.name.endswith(".tmp") for p in directory.iterdir())


async def test_results_read_before_the_roster_are_exported_once_the_roster_arrives(
    start_service, publish, record_events, tmp_path
):
    svc = await start_service(definition, export_output_dir=tmp_path, export_rebuild_interval_seconds=0.3)
    uai = new_uai()
    ana = learner(uai, "ana", first_name="Ana", last_name="Roux")
    s1 = session(uai, school_level="lycee")
    [cert] = certification_ids(1)
    async with record_events([EXPORT]) as recorder:
        [results_id] = await publish(results(s1, Outcome(ana, cert)))
        await wait_for(lambda: handled(svc, results_id), what="results before anything else")
        assert not recorder.of(LivretExportProduced, uai=uai)
        await publish(s1, ana)
        [produced] = await recorder.wait_for(LivretExportProduced, uai=uai)
    assert produced.level == "LSL" and produced.certifications == 1
    document = json.loads((tmp_path / uai / produced.file_name).read_bytes())
    assert document["data"]["attributes"]["certifications"][0]["firstName"] == "Ana"
