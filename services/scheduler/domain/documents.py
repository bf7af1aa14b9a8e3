"""The paper side of a session, as PDF bytes: convocations, invigilator kit, attendance sheet,
incident and fraud reports, and zip bundles per session and per day.

Rendering choices, and why:
- reportlab's built-in Helvetica (WinAnsi encoding): no font file to ship, and it covers French
  (é è ç à œ ’ « » –); text stays extractable (the tests read it back with pypdf). Characters outside
  WinAnsi (e.g. ł, ă in some names) are transliterated rather than printed as boxes.
- `invariant=1`: the same input gives the same bytes (no timestamp or random id in the PDF), and zip
  entries carry a fixed date, so bundles are reproducible and cacheable.
- Attendance sheets print exactly 20 candidates a page, like Pix's.
- The drawing (a cursor down the page, tables, text fitted to a cell) is pdf_pages.py's; this module
  lays out each document on it.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from services.scheduler.domain.enrolment import Candidate
from services.scheduler.domain.pdf_pages import BOLD, Pdf, blank_table, render, table
from services.scheduler.domain.planner import TEST_MINUTES
from services.scheduler.domain.sessions import Session

ROWS_PER_ATTENDANCE_PAGE = 20
#: marks, on the attendance sheet, a candidate sitting with adapted conditions (listed on the kit)
ADAPTED_MARK = "(*)"
ATTENDANCE_COLUMNS: tuple[tuple[str, float], ...] = (
    ("Nom de naissance", 140),
    ("Prénom", 110),
    ("Date de naissance (jj/mm/aaaa)", 125),
    ("Classe", 65),
    ("Signature", 75),
)

#: Issue report codes of pix-domain §5.3 (the ones Pix still accepts), as printed on the PV d'incident.
ISSUE_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("C1", "Modification du nom, du prénom ou de la date de naissance du candidat"),
    ("C2", "Modification du temps majoré du candidat"),
    ("C4", "Problème de signature sur la feuille d’émargement"),
    ("C6", "Suspicion de fraude (remplir aussi le PV de fraude)"),
    ("C7", "Problème technique non bloquant"),
    ("C8", "Problème non bloquant lié au candidat"),
    ("E1", "L’image ne s’affiche pas"),
    ("E2", "Le simulateur / l’application ne fonctionne pas"),
    ("E3", "Le fichier à télécharger ne s’ouvre pas"),
    ("E4", "Le site à visiter est indisponible"),
    ("E5", "Le site à visiter est bloqué par l’établissement"),
    ("E8", "Le temps majoré du candidat a été dépassé"),
    ("E9", "Le logiciel installé sur l’ordinateur ne fonctionne pas"),
    ("E10", "Le candidat a quitté involontairement la page de la question"),
    ("E11", "Le candidat a été bloqué sur un écran « Oups » et a dû passer la question"),
    ("E12", "Problème d’accessibilité de la question"),
)

_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


@dataclass(frozen=True, slots=True)
class School:
    name: str
    uai: str
    city: str = ""


def long_date(day: date) -> str:
    """14/03/2024 → "jeudi 14 mars 2024" (no locale dependency)."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def extra_minutes(percentage: int) -> int:
    """Extra time in whole minutes on the 105-minute test, rounded up in the candidate's favour."""
    return math.ceil(TEST_MINUTES * percentage / 100)


# ----------------------------------------------------------------------------------------- renderers


def render_convocations(school: School, session: Session, candidates: Sequence[Candidate]) -> bytes:
    """One page per candidate, in attendance-sheet order."""

    def draw(pdf: Pdf) -> None:
        for candidate in _sorted(candidates):
            _convocation_page(pdf, school, session, candidate)
            pdf.canvas.showPage()
        if not candidates:
            pdf.title("Convocation à la certification Pix")
            pdf.line(f"Session {session.number} : aucun candidat inscrit.")
            pdf.canvas.showPage()

    return render(f"Convocations session {session.number}", draw)


def render_convocation(school: School, session: Session, candidate: Candidate) -> bytes:
    return render_convocations(school, session, [candidate])


def render_invigilator_kit(school: School, session: Session, candidates: Sequence[Candidate] = ()) -> bytes:
    def draw(pdf: Pdf) -> None:
        pdf.title("Kit surveillant")
        pdf.line(f"Certification Pix – {school.name} ({school.uai})")
        pdf.gap()
        pdf.field("N° de session", str(session.number))
        pdf.field("Date", long_date(session.day))
        pdf.field("Heure de début", session.time)
        pdf.field("Heure de fin théorique", f"{session.theoretical_test_end:%H:%M} (début + 1 h 45)")
        pdf.field("Nom du site", session.site)
        pdf.field("Nom de la salle", session.room)
        pdf.field("Surveillant(s)", session.examiner)
        pdf.gap()
        pdf.field("Mot de passe de session (espace surveillant)", session.displayed_password, size=14)
        pdf.field("Code d’accès candidats", session.access_code, size=14)
        pdf.gap()
        pdf.paragraph(
            "Temps majoré : l’heure de fin théorique ne tient pas compte du temps majoré. Un candidat"
            " bénéficiant d’un temps majoré termine plus tard (par exemple 33 % = 35 minutes de plus)."
        )
        with_extra = [c for c in _sorted(candidates) if c.extra_time_percentage]
        if with_extra:
            pdf.line("Candidats avec temps majoré :", font=BOLD)
            for c in with_extra:
                end = session.theoretical_test_end + timedelta(minutes=extra_minutes(c.extra_time_percentage))
                pdf.line(
                    f"– {c.last_name.upper()} {c.first_name} : {c.extra_time_percentage} %,"
                    f" fin théorique {end:%H:%M}"
                )
        adapted = [c for c in _sorted(candidates) if c.adapted_conditions]
        if adapted:
            pdf.line("Candidats avec conditions adaptées (aménagements) :", font=BOLD)
            for c in adapted:
                pdf.paragraph(f"– {c.last_name.upper()} {c.first_name} : {c.adapted_conditions}")
        pdf.gap()
        pdf.line("Déroulé", font=BOLD)
        for step in (
            "1. Ouvrir l’espace surveillant de Pix Certif avec le n° de session et le mot de passe ci-dessus.",
            "2. Les candidats se connectent à leur compte Pix et saisissent le n° de session et leur identité.",
            "3. Confirmer la présence de chaque candidat, puis leur donner le code d’accès.",
            "4. Faire signer la feuille d’émargement ; noter tout incident sur le PV d’incident (codes C/E).",
            "5. En cas de suspicion de fraude, remplir le PV de fraude et signaler C6 à la finalisation.",
        ):
            pdf.paragraph(step)
        pdf.canvas.showPage()

    return render(f"Kit surveillant session {session.number}", draw)


def render_attendance_sheet(school: School, session: Session, candidates: Sequence[Candidate]) -> bytes:
    """Feuille d'émargement: session header, then exactly 20 candidates a page."""
    ordered = _sorted(candidates)
    pages = [
        ordered[i : i + ROWS_PER_ATTENDANCE_PAGE] for i in range(0, len(ordered), ROWS_PER_ATTENDANCE_PAGE)
    ]

    def draw(pdf: Pdf) -> None:
        for index, rows in enumerate(pages or [[]], start=1):
            pdf.title("Feuille d’émargement")
            pdf.line(f"{school.name} ({school.uai})")
            pdf.line(f"La session de certification N° {session.number}", font=BOLD)
            pdf.field("Date", session.day.strftime("%d/%m/%Y"))
            pdf.field("Heure locale (début)", session.time)
            pdf.field("Nom du site", session.site)
            pdf.field("Nom de la salle", session.room)
            pdf.field("Surveillé par", session.examiner)
            pdf.line("Signature(s) du ou des surveillant(s) :")
            pdf.gap(28)
            _attendance_table(pdf, rows)
            if any(c.adapted_conditions for c in rows):
                pdf.line(
                    f"{ADAPTED_MARK} conditions adaptées (aménagements) : détail dans le kit surveillant",
                    size=8,
                )
            pdf.footer(f"Session {session.number} – page {index}/{max(len(pages), 1)}")
            pdf.canvas.showPage()

    return render(f"Feuille d'émargement session {session.number}", draw)


def render_incident_report(school: School, session: Session | None = None) -> bytes:
    """Blank PV d'incident with the category codes to use, session header pre-filled when known."""

    def draw(pdf: Pdf) -> None:
        pdf.title("PV d’incident")
        _session_header(pdf, school, session)
        pdf.paragraph(
            "Pour chaque incident, noter le candidat, le code de la catégorie ci-dessous, le numéro de la"
            " question (codes E) et une description. Ces signalements sont reportés lors de la finalisation"
            " de la session dans Pix Certif."
        )
        pdf.gap(4)
        for code, label in ISSUE_CATEGORIES:
            pdf.line(f"{code} : {label}", size=9)
        pdf.gap()
        blank_table(
            pdf,
            (
                ("Candidat (nom, prénom)", 150),
                ("Code", 45),
                ("N° question", 65),
                ("Heure", 50),
                ("Description", 205),
            ),
            rows=8,
        )
        pdf.gap()
        pdf.line("Signature(s) du ou des surveillant(s) :")
        pdf.canvas.showPage()

    return render("PV d'incident" + (f" session {session.number}" if session else ""), draw)


def render_fraud_report(school: School, session: Session | None = None) -> bytes:
    """Blank PV de (suspicion de) fraude: its own form, with more legal weight than the PV d'incident."""

    def draw(pdf: Pdf) -> None:
        pdf.title("PV de suspicion de fraude")
        _session_header(pdf, school, session)
        pdf.line("Candidat concerné", font=BOLD)
        for label in ("Nom de naissance", "Prénom", "Date de naissance (jj/mm/aaaa)", "Classe"):
            pdf.line(f"{label} : " + "." * 70)
        pdf.gap()
        for label in (
            "Heure des faits",
            "Description précise des faits",
            "Mesures prises",
            "Témoin(s) (nom, qualité)",
            "Observations du candidat",
        ):
            pdf.line(f"{label} :", font=BOLD)
            for _ in range(3 if label.startswith(("Description", "Observations")) else 1):
                pdf.line("." * 120, size=8)
        pdf.gap()
        pdf.paragraph(
            "Le candidat a été informé de la rédaction du présent procès-verbal. Signaler la fraude (code C6)"
            " lors de la finalisation de la session et joindre ce PV."
        )
        pdf.gap()
        pdf.line("Signature(s) du ou des surveillant(s) :          Signature du candidat :")
        pdf.gap(40)
        pdf.line("Visa du chef d’établissement :")
        pdf.canvas.showPage()

    return render("PV de fraude" + (f" session {session.number}" if session else ""), draw)


# ------------------------------------------------------------------------------------------- bundles


def session_documents(school: School, session: Session, candidates: Sequence[Candidate]) -> dict[str, bytes]:
    """File name → PDF bytes for one session (names follow Pix's `feuille-emargement-session-<id>`)."""
    n = session.number
    return {
        f"convocations-session-{n}.pdf": render_convocations(school, session, candidates),
        f"feuille-emargement-session-{n}.pdf": render_attendance_sheet(school, session, candidates),
        f"kit-surveillant-session-{n}.pdf": render_invigilator_kit(school, session, candidates),
        f"pv-fraude-session-{n}.pdf": render_fraud_report(school, session),
        f"pv-incident-session-{n}.pdf": render_incident_report(school, session),
    }


def session_bundle_name(session: Session) -> str:
    return f"certification-session-{session.number}.zip"


def day_bundle_name(day: date) -> str:
    return f"certification-{day.isoformat()}.zip"


def build_session_bundle(school: School, session: Session, candidates: Sequence[Candidate]) -> bytes:
    return _zip(session_documents(school, session, candidates).items())


def build_day_bundle(
    school: School, day: date, sessions: Iterable[tuple[Session, Sequence[Candidate]]]
) -> bytes:
    """Every session of `day`, one folder each (`session-<n>/…`), in start-time order."""
    chosen = sorted((pair for pair in sessions if pair[0].day == day), key=lambda p: (p[0].time, p[0].number))
    files: list[tuple[str, bytes]] = []
    for session, candidates in chosen:
        for name, content in session_documents(school, session, candidates).items():
            files.append((f"session-{session.number}/{name}", content))
    return _zip(files)


def _zip(files: Iterable[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------- layouts


def _convocation_page(pdf: Pdf, school: School, session: Session, candidate: Candidate) -> None:
    pdf.title("Convocation à la certification Pix")
    pdf.line(f"{school.name} ({school.uai})" + (f" – {school.city}" if school.city else ""))
    pdf.gap()
    pdf.field("Élève", f"{candidate.first_name} {candidate.last_name.upper()}")
    pdf.field("Classe", candidate.division)
    pdf.field("Date de naissance", candidate.birthdate.strftime("%d/%m/%Y"))
    pdf.gap()
    pdf.field("Date", long_date(session.day))
    pdf.field("Heure", f"{session.time} (présentez-vous 10 minutes avant)")
    pdf.field("Nom du site", session.site)
    pdf.field("Salle", session.room)
    pdf.field("N° de session", str(session.number))
    duration = "1 h 45"
    if candidate.extra_time_percentage:
        duration += (
            f" + temps majoré de {candidate.extra_time_percentage} %"
            f" ({extra_minutes(candidate.extra_time_percentage)} min)"
        )
    pdf.field("Durée de l’épreuve", duration)
    pdf.gap()
    pdf.line("À apporter :", font=BOLD)
    for item in (
        "– une pièce d’identité ou votre carnet de correspondance ;",
        "– vos identifiants de connexion Pix (adresse e-mail ou identifiant, et mot de passe) ;",
        "– des écouteurs si vous en avez (certaines questions ont du son).",
    ):
        pdf.line(item)
    pdf.gap()
    pdf.line("Important :", font=BOLD)
    pdf.paragraph(
        "Connectez-vous avec votre propre compte Pix, celui que vous utilisez en classe et qui est rattaché"
        " à l’établissement. Un autre compte ne permettra pas de passer la certification. Vérifiez avant le"
        " jour de l’épreuve que vous connaissez votre identifiant et votre mot de passe."
    )
    pdf.gap(20)
    pdf.line("Le chef d’établissement")


def _session_header(pdf: Pdf, school: School, session: Session | None) -> None:
    pdf.line(f"{school.name} ({school.uai})")
    blank = "." * 40
    pdf.field("N° de session", str(session.number) if session else blank)
    pdf.field("Date", session.day.strftime("%d/%m/%Y") if session else blank)
    pdf.field("Heure locale (début)", session.time if session else blank)
    pdf.field("Nom du site", session.site if session else blank)
    pdf.field("Nom de la salle", session.room if session else blank)
    pdf.field("Surveillant(s)", session.examiner if session else blank)
    pdf.gap()


def _attendance_table(pdf: Pdf, rows: Sequence[Candidate]) -> None:
    cells = [
        (
            c.last_name.upper() + (f" {ADAPTED_MARK}" if c.adapted_conditions else ""),
            c.first_name,
            c.birthdate.strftime("%d/%m/%Y"),
            c.division,
            "",
        )
        for c in rows
    ]
    table(pdf, ATTENDANCE_COLUMNS, cells, min_rows=len(cells), row_height=26)


def _sorted(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.last_name.casefold(), c.first_name.casefold(), c.birthdate))


__all__ = [
    "ATTENDANCE_COLUMNS",
    "ISSUE_CATEGORIES",
    "ROWS_PER_ATTENDANCE_PAGE",
    "School",
    "build_day_bundle",
    "build_session_bundle",
    "day_bundle_name",
    "extra_minutes",
    "long_date",
    "render_attendance_sheet",
    "render_convocation",
    "render_convocations",
    "render_fraud_report",
    "render_incident_report",
    "render_invigilator_kit",
    "session_bundle_name",
    "session_documents",
]
