"""The link with Pix Certif: the sessions file a plan exports, the values the school brings back.

Sessions are created in Pix Certif, which numbers them and draws their access code and invigilator
password. certibus exports, per school, the sessions to create there (one line each: site, room,
date, local time, invigilators, classes, candidates), in Pix's own column labels where Pix's mass
import template has them (pix-domain §2.3): ``;``-separated, UTF-8 with a BOM, dates JJ/MM/AAAA.
The staff fills the last three columns from Pix Certif's session list and sends the file back;
each line names its session by certibus's number, or by site, room, date and time. The file is
accepted whole or refused whole with every problem by file, line and column
(shared.file_issues, as every import).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TypeVar

from services.scheduler.domain.codes import ACCESS_CODE_PATTERN, PASSWORD_ALPHABET, strip_password_prefix
from services.scheduler.domain.errors import DomainError
from services.scheduler.domain.sessions import TIME_PATTERN, PixCertifLink, Session
from shared.contracts.identifiers import name_key
from shared.file_issues import FileIssues

BOM = "\ufeff"
COL_NUMBER = "Numéro de session certibus"
COL_SITE = "* Nom du site"
COL_ROOM = "* Nom de la salle"
COL_DATE = "* Date de début (format: JJ/MM/AAAA)"
COL_TIME = "* Heure de début (heure locale format: HH:MM)"
COL_INVIGILATORS = "* Surveillant(s)"
COL_CLASSES = "Classe(s)"
COL_CANDIDATES = "Candidats"
COL_PIX_NUMBER = "Numéro de session Pix"
COL_ACCESS_CODE = "Code d'accès"
COL_PASSWORD = "Mot de passe de session"
#: the exported file's columns, in order; the import reads them by name
COLUMNS = (
    COL_NUMBER,
    COL_SITE,
    COL_ROOM,
    COL_DATE,
    COL_TIME,
    COL_INVIGILATORS,
    COL_CLASSES,
    COL_CANDIDATES,
    COL_PIX_NUMBER,
    COL_ACCESS_CODE,
    COL_PASSWORD,
)
PIX_COLUMNS = (COL_PIX_NUMBER, COL_ACCESS_CODE, COL_PASSWORD)
PLACE_COLUMNS = (COL_SITE, COL_ROOM, COL_DATE, COL_TIME)
#: Pix session ids are PostgreSQL integers
MAX_PIX_NUMBER = 2**31 - 1
#: Pix's two password generators: 5 characters (older) or 6 distinct ones (newer), one alphabet
#: containing both (pix-domain §1.3, which says to treat the value as opaque beyond that)
PASSWORD_PATTERN = re.compile(rf"^[{re.escape(PASSWORD_ALPHABET)}]{{5,6}}$")
_FR_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
REJECTED = "pix_certif.rejected"
K = TypeVar("K", bound=Hashable)


# ---- one session's values ---------------------------------------------------------------------


def pix_link_problems(number: object, access_code: str, password: str) -> list[tuple[str, str, str]]:
    """(rule, field, message) of each value Pix would not have given; empty when all fit."""
    problems = []
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_PIX_NUMBER:
        problems.append(
            ("pix.invalid_session_number", COL_PIX_NUMBER, f"numéro de session Pix invalide : {number!r}")
        )
    if not ACCESS_CODE_PATTERN.match(access_code):
        problems.append(
            (
                "pix.invalid_access_code",
                COL_ACCESS_CODE,
                f"code d'accès invalide : {access_code!r} (4 lettres parmi BCDFGHJKMPQRTVWXY puis 2"
                " chiffres parmi 2346789)",
            )
        )
    if not PASSWORD_PATTERN.match(strip_password_prefix(password)):
        problems.append(
            (
                "pix.invalid_password",
                COL_PASSWORD,
                "mot de passe de session invalide (5 ou 6 caractères de Pix, avec ou sans « C- »)",
            )
        )
    return problems


def pix_link(number: int, access_code: str, password: str) -> PixCertifLink:
    """Pix's values of one session as typed (access code in capitals, password without "C-")."""
    code, bare = access_code.strip().upper(), strip_password_prefix(password)
    for rule, field, message in pix_link_problems(number, code, bare):
        raise DomainError(rule, message, field=field)
    return PixCertifLink(number, code, bare)


def record_pix_link(session: Session, link: PixCertifLink) -> Session:
    """The session with Pix's values; refused once a test has started (the room is in use)."""
    if session.has_started:
        raise DomainError(
            "session.started",
            f"la session {session.number} a commencé : ses valeurs Pix Certif ne changent plus",
            number=session.number,
        )
    return replace(session, pix=link)


# ---- the exported file ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionToCreate:
    """One line of the export: a session the school creates in Pix Certif."""

    session: Session
    classes: tuple[str, ...]
    candidates: int
    #: False: a proposed session, not created in certibus yet (no certibus number)
    created: bool = True


def render_sessions_file(lines: Sequence[SessionToCreate]) -> bytes:
    """The sessions file: BOM, header, one line per session (Pix's values once recorded)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in lines:
        s, pix = line.session, line.session.pix
        writer.writerow(
            (
                s.number if line.created else "",
                s.site,
                s.room,
                f"{s.day:%d/%m/%Y}",
                s.time,
                s.examiner,
                ", ".join(line.classes),
                line.candidates,
                pix.number if pix else "",
                pix.access_code if pix else "",
                pix.invigilator_password if pix else "",
            )
        )
    return (BOM + out.getvalue()).encode("utf-8")


# ---- the file brought back ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PixCertifRow:
    """One filled line: which session (certibus number, or site/room/date/time) and Pix's values."""

    line: int
    link: PixCertifLink
    number: int | None = None
    site: str = ""
    room: str = ""
    day: date | None = None
    time: str = ""


@dataclass(frozen=True, slots=True)
class PixCertifFile:
    """The lines read from the file; ``skipped`` = lines whose three Pix cells are all empty."""

    rows: tuple[PixCertifRow, ...]
    skipped: tuple[int, ...]


def _header_key(label: str) -> str:
    """A header as compared: without asterisks, case, or the spaces around them."""
    return " ".join(label.replace("*", " ").split()).casefold()


_KNOWN = {_header_key(c): c for c in COLUMNS}


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 (what Excel saves as "CSV séparateur : ;")."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text[1:] if text.startswith(BOM) else text


def read_sessions_file(data: bytes, file_name: str, issues: FileIssues) -> PixCertifFile:
    """Read the filled file; every problem goes to ``issues`` (the caller refuses the file if any)."""
    text = _decode(data)
    if not text.strip():
        issues.add(None, None, "file.empty", "le fichier est vide")
        return PixCertifFile((), ())
    first = text.splitlines()[0]
    delimiter = ";" if ";" in first or "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as exc:
        issues.add(1, None, "file.unreadable", f"CSV illisible : {exc}")
        return PixCertifFile((), ())
    index: dict[str, int] = {}
    for position, label in enumerate(header):
        column = _KNOWN.get(_header_key(label))
        if column is not None and column not in index:
            index[column] = position
    missing = [c for c in PIX_COLUMNS if c not in index]
    if COL_NUMBER not in index:
        missing += [c for c in PLACE_COLUMNS if c not in index]
    if missing:
        issues.add(1, None, "file.missing_columns", "colonnes manquantes : " + ", ".join(missing))
        return PixCertifFile((), ())
    rows: list[PixCertifRow] = []
    skipped: list[int] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                issues.add(
                    line,
                    None,
                    "row.column_count",
                    f"{len(header)} colonnes attendues séparées par « {delimiter} », {len(cells)} trouvées",
                )
                continue
            values = {column: cells[position].strip() for column, position in index.items()}
            if not any(values[c] for c in PIX_COLUMNS):
                skipped.append(line)
                continue
            row = _row(line, values, issues)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        issues.add(reader.line_num, None, "file.unreadable", f"CSV illisible : {exc}")
    if not rows and not skipped and not issues:
        issues.add(None, None, "file.no_rows", "aucune ligne de session dans le fichier")
    return PixCertifFile(tuple(rows), tuple(skipped))


def _row(line: int, values: Mapping[str, str], issues: FileIssues) -> PixCertifRow | None:
    before = len(issues.issues)
    for column in PIX_COLUMNS:
        if not values[column]:
            issues.add(line, column, "cell.required", "valeur obligatoire (recopiée de Pix Certif)")
    number_text, number = values.get(COL_NUMBER, ""), None
    if number_text:
        if number_text.isdigit() and 0 < int(number_text) <= MAX_PIX_NUMBER:
            number = int(number_text)
        else:
            issues.add(line, COL_NUMBER, "session.invalid_number", f"numéro invalide : {number_text!r}")
    day, time = None, values.get(COL_TIME, "")
    if values.get(COL_DATE):
        day = _fr_date(values[COL_DATE])
        if day is None:
            issues.add(
                line, COL_DATE, "date.invalid_format", f"date invalide : {values[COL_DATE]!r} (JJ/MM/AAAA)"
            )
    if time and not TIME_PATTERN.match(time):
        issues.add(line, COL_TIME, "time.invalid_format", f"heure invalide : {time!r} (HH:MM)")
    place = (values.get(COL_SITE, ""), values.get(COL_ROOM, ""), values.get(COL_DATE, ""), time)
    if not number_text and not all(place):
        issues.add(
            line,
            COL_NUMBER,
            "cell.required",
            "le numéro de session certibus, ou le site, la salle, la date et l'heure",
        )
    pix_text = values[COL_PIX_NUMBER]
    pix_number = int(pix_text) if pix_text.isdigit() else pix_text
    code, password = values[COL_ACCESS_CODE].upper(), values[COL_PASSWORD]
    if all(values[c] for c in PIX_COLUMNS):
        for rule, column, message in pix_link_problems(pix_number, code, password):
            issues.add(line, column, rule, message)
    if len(issues.issues) > before:
        return None
    assert isinstance(pix_number, int)
    return PixCertifRow(
        line,
        PixCertifLink(pix_number, code, strip_password_prefix(password)),
        number=number,
        site=place[0],
        room=place[1],
        day=day,
        time=time,
    )


def _fr_date(text: str) -> date | None:
    match = _FR_DATE.match(text)
    if match is None:
        return None
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return None


def resolve_rows(
    rows: Sequence[PixCertifRow],
    sessions: Mapping[K, Session],
    taken: Mapping[int, int],
    issues: FileIssues,
) -> dict[K, PixCertifLink]:
    """Each row's session among the school's live ``sessions`` (key → session), and its Pix values.

    ``taken`` = Pix number → certibus number of the académie's other live sessions already holding
    it. A session named twice, a Pix number on two lines or held elsewhere, an unknown or started
    session: an issue on that line.
    """
    by_number = {s.number: key for key, s in sessions.items()}
    by_place: dict[tuple[str, str, date, str], list[K]] = {}
    for key, s in sessions.items():
        by_place.setdefault((name_key(s.site), name_key(s.room), s.day, s.time), []).append(key)
    chosen: dict[K, PixCertifLink] = {}
    session_line: dict[K, int] = {}
    pix_line: dict[int, int] = {}
    for row in rows:
        key = _session_of(row, by_number, by_place, issues)
        if key is None:
            continue
        session = sessions[key]
        if key in session_line:
            issues.add(
                row.line,
                COL_NUMBER,
                "pix.duplicate_session",
                f"la session {session.number} est déjà sur la ligne {session_line[key]}",
            )
            continue
        session_line[key] = row.line
        if row.link.number in pix_line:
            issues.add(
                row.line,
                COL_PIX_NUMBER,
                "pix.duplicate_session_number",
                f"le numéro Pix {row.link.number} est déjà sur la ligne {pix_line[row.link.number]}",
            )
            continue
        pix_line[row.link.number] = row.line
        holder = taken.get(row.link.number)
        if holder is not None and holder != session.number:
            issues.add(
                row.line,
                COL_PIX_NUMBER,
                "pix.session_number_taken",
                f"le numéro Pix {row.link.number} est déjà celui de la session certibus {holder}",
            )
            continue
        if session.has_started:
            issues.add(
                row.line,
                COL_NUMBER,
                "session.started",
                f"la session {session.number} a commencé : ses valeurs Pix Certif ne changent plus",
            )
            continue
        chosen[key] = row.link
    return chosen


def _session_of(
    row: PixCertifRow,
    by_number: Mapping[int, K],
    by_place: Mapping[tuple[str, str, date, str], list[K]],
    issues: FileIssues,
) -> K | None:
    if row.number is not None:
        key = by_number.get(row.number)
        if key is None:
            issues.add(
                row.line,
                COL_NUMBER,
                "pix.session_unknown",
                f"aucune session {row.number} prévue dans cet établissement",
            )
        return key
    assert row.day is not None
    found = by_place.get((name_key(row.site), name_key(row.room), row.day, row.time), [])
    if len(found) == 1:
        return found[0]
    where = f"{row.site}, salle {row.room}, le {row.day:%d/%m/%Y} à {row.time}"
    if not found:
        issues.add(row.line, COL_ROOM, "pix.session_unknown", f"aucune session prévue : {where}")
    else:
        issues.add(row.line, COL_ROOM, "pix.session_ambiguous", f"plusieurs sessions : {where}")
    return None
