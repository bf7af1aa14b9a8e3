"""The school's round trip to Pix Certif in the main job: sessions out, Pix's values back.

A school downloads from certibus the sessions of its plan to create in Pix Certif, creates them
there, and brings back the file with each session's Pix number, access code and invigilator
password (what Pix Certif's session list shows). Outside Pix nobody can create a session, so
``fill`` stands in for Pix Certif: it fills the three columns with values of Pix's exact shapes
(pix-domain §1.1–1.3), derived from the run's seed, the school and the certibus session number
only, so one seed gives the same files (issue 11; certibus numbers sessions from one sequence in
the schools' order). The Pix numbers start above any certibus number, so the invigilator space and
the results matching are exercised on Pix's number, not certibus's.
"""

from __future__ import annotations

import csv
import io
import random
from typing import TYPE_CHECKING

from deploy.local.retrying import SAFE

if TYPE_CHECKING:
    from deploy.local.schools import School
    from deploy.local.steps import Run

#: Pix's access code: 4 letters, then 2 digits, from these alphabets (pix-domain §1.2)
ACCESS_CODE_LETTERS = "BCDFGHJKMPQRTVWXY"
ACCESS_CODE_DIGITS = "2346789"
#: Pix's newer invigilator password: 6 distinct characters of this alphabet (pix-domain §1.3)
PASSWORD_ALPHABET = "23456789" + "bcdfghjkmpqrstvwxy" + "BCDFGHJKMPQRSTVWXY" + "!*?"
#: Pix's session ids are far above the few thousand sessions of an académie run
PIX_NUMBER_BASE = 700_000
PIX_COLUMNS = ("Numéro de session Pix", "Code d'accès", "Mot de passe de session")


def pix_values(seed: int, uai: str, certibus_number: int) -> tuple[int, str, str]:
    """The (number, access code, password) Pix Certif gives the school's session, for this seed."""
    rng = random.Random(f"pix-certif:{seed}:{uai}:{certibus_number}")
    code = "".join(rng.choice(ACCESS_CODE_LETTERS) for _ in range(4))
    code += "".join(rng.choice(ACCESS_CODE_DIGITS) for _ in range(2))
    password = "".join(rng.sample(PASSWORD_ALPHABET, 6))
    return PIX_NUMBER_BASE + (seed % 1000) * 10_000 + certibus_number, code, password


def fill(exported: bytes, seed: int, uai: str) -> bytes:
    """The exported sessions file with Pix's three columns filled, as the staff sends it back."""
    text = exported.decode("utf-8-sig")
    header, *lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    at = {column: header.index(column) for column in PIX_COLUMNS}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(header)
    for line in lines:
        number, code, password = pix_values(seed, uai, int(line[0]))
        line[at["Numéro de session Pix"]] = str(number)
        line[at["Code d'accès"]] = code
        line[at["Mot de passe de session"]] = "C-" + password
        writer.writerow(line)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


async def record_pix_certif(run: Run, school: School, seed: int) -> int:
    """Download the school's plan sessions file, fill it as Pix Certif would, import it; sessions
    recorded. Both files are kept in the output (``pix-certif/``). Importing the same file again
    changes nothing, so a resumed run or a resend is harmless."""
    sessions = (await run.call("scheduler", "GET", f"/schools/{school.uai}/sessions")).json()
    first_session: dict[str, str] = {}
    for session in sessions:
        if session["plan_id"]:
            when = f"{session['date']} {session['time']}"
            first_session[session["plan_id"]] = min(first_session.get(session["plan_id"], when), when)
    # the plans in the order of their sessions (the first day's, then the catch-up week's): the
    # files' names then do not depend on the plans' random ids
    plan_ids = sorted(first_session, key=first_session.__getitem__)
    folder = run.output / "pix-certif"
    folder.mkdir(parents=True, exist_ok=True)
    recorded = 0
    for k, plan_id in enumerate(plan_ids):
        mine = [x for x in sessions if x["plan_id"] == plan_id]
        if all(x.get("pix_session_number") for x in mine):  # recorded earlier (the first day's plan)
            recorded += len(mine)
            continue
        exported = (await run.call("scheduler", "GET", f"/plans/{plan_id}/pix-certif-sessions.csv")).content
        filled = fill(exported, seed, school.uai)
        suffix = "" if k == 0 else f"-{k + 1}"
        for name, content in (("sessions-a-creer", exported), ("sessions-pix-certif", filled)):
            path = folder / f"{school.uai}-{name}{suffix}.csv"
            if not path.exists():  # a resumed run downloads the file with Pix's values already in
                path.write_bytes(content)
        reply = await run.call(
            "scheduler",
            "POST",
            f"/schools/{school.uai}/pix-certif-sessions",
            expect=(200,),
            resend=SAFE,
            files={"file": (f"{school.uai}-sessions-pix-certif.csv", filled, "text/csv")},
        )
        body = reply.json()
        recorded += len(body["recorded"]) + len(body["unchanged"])
    school.summary["pix_certif"] = {"sessions": recorded}
    return recorded
