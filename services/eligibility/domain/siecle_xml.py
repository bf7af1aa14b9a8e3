"""Reader for the SIECLE student export ("ElevesSansAdresses", root BEE_ELEVES).

Layout read (SIECLE BEE export):

    <BEE_ELEVES VERSION="3.1">
      <PARAMETRES><UAJ>0211089V</UAJ>…</PARAMETRES>
      <DONNEES>
        <ELEVES>
          <ELEVE ELEVE_ID="…"><ID_NATIONAL/><NOM_DE_FAMILLE/><NOM_USAGE/><PRENOM/><PRENOM2/><PRENOM3/>
            <DATE_NAISS>jj/mm/aaaa</DATE_NAISS><CODE_SEXE>1|2</CODE_SEXE><CODE_PAYS/>
            <CODE_DEPARTEMENT_NAISS/><CODE_COMMUNE_INSEE_NAISS/><VILLE_NAISS/><CODE_MEF/>
            [<DATE_SORTIE/>] [<CODE_STATUT>ST|AP</CODE_STATUT>]</ELEVE>…
        </ELEVES>
        <STRUCTURES>
          <STRUCTURES_ELEVE ELEVE_ID="…">
            <STRUCTURE><CODE_STRUCTURE>3A</CODE_STRUCTURE><TYPE_STRUCTURE>D</TYPE_STRUCTURE></STRUCTURE>…
          </STRUCTURES_ELEVE>…
        </STRUCTURES>
      </DONNEES>
    </BEE_ELEVES>

The division is the STRUCTURE of TYPE_STRUCTURE "D" (groups, "G", are ignored). Students who left
(DATE_SORTIE set) or have no division are not imported, as Pix does, but are listed in `skipped`.
A missing CODE_STATUT means "ST". The XML is parsed with expat (what xml.etree uses underneath)
driven directly, because error messages need each ELEVE's line number; any DOCTYPE or entity
declaration is refused before it can expand.
"""

from dataclasses import dataclass, field
from datetime import date
from xml.parsers import expat

from services.eligibility.domain.issues import IssueCollector, Rule
from services.eligibility.domain.roster import (
    LearnerField,
    LearnerRecordValidator,
    RosterImport,
    RosterLearner,
    SkippedRecord,
    check_school_uai,
)
from services.eligibility.domain.tabular import MAX_FILE_BYTES, check_size
from shared.contracts.identifiers import normalise_identifier

#: ELEVE child element → learner field.
SIECLE_TAGS: dict[str, LearnerField] = {
    "ID_NATIONAL": LearnerField.INE,
    "NOM_DE_FAMILLE": LearnerField.LAST_NAME,
    "NOM_USAGE": LearnerField.USAGE_NAME,
    "PRENOM": LearnerField.FIRST_NAME,
    "PRENOM2": LearnerField.SECOND_NAME,
    "PRENOM3": LearnerField.THIRD_NAME,
    "DATE_NAISS": LearnerField.BIRTH_DATE,
    "CODE_SEXE": LearnerField.SEX,
    "CODE_PAYS": LearnerField.BIRTH_COUNTRY_CODE,
    "CODE_COMMUNE_INSEE_NAISS": LearnerField.BIRTH_CITY_CODE,
    "VILLE_NAISS": LearnerField.BIRTH_CITY,
    "CODE_DEPARTEMENT_NAISS": LearnerField.BIRTH_DEPARTMENT_CODE,
    "CODE_MEF": LearnerField.MEF_CODE,
    "CODE_STATUT": LearnerField.STATUS,
}
DIVISION_COLUMN = "STRUCTURE/CODE_STRUCTURE"
_COLUMN_NAMES = {f: tag for tag, f in SIECLE_TAGS.items()} | {LearnerField.DIVISION: DIVISION_COLUMN}


class _ForbiddenDeclaration(Exception):
    pass


@dataclass
class _StudentElement:
    line: int
    eleve_id: str
    values: dict[str, str] = field(default_factory=dict)


class _SiecleHandler:
    """Collects PARAMETRES/UAJ, ELEVE records and their division from expat callbacks."""

    def __init__(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        self.root: str | None = None
        self.uaj: str | None = None
        self.students: list[_StudentElement] = []
        self.divisions: dict[str, str] = {}
        self._path: list[str] = []
        self._text: list[str] = []
        self._student: _StudentElement | None = None
        self._structures_owner: str | None = None
        self._structure: dict[str, str] = {}

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        if self.root is None:
            self.root = tag
        parent = self._path[-1] if self._path else None
        self._path.append(tag)
        self._text = []
        if tag == "ELEVE" and parent == "ELEVES":
            self._student = _StudentElement(self.parser.CurrentLineNumber, attrs.get("ELEVE_ID", ""))
        elif tag == "STRUCTURES_ELEVE":
            self._structures_owner = attrs.get("ELEVE_ID", "")
        elif tag == "STRUCTURE" and self._structures_owner is not None:
            self._structure = {}

    def text(self, data: str) -> None:
        self._text.append(data)

    def end(self, tag: str) -> None:
        self._path.pop()
        parent = self._path[-1] if self._path else None
        value = "".join(self._text)
        self._text = []
        if self._student is not None:
            if tag == "ELEVE":
                self.students.append(self._student)
                self._student = None
            elif parent == "ELEVE":
                self._student.values[tag] = value
        elif tag == "UAJ" and parent == "PARAMETRES":
            self.uaj = value.strip()
        elif parent == "STRUCTURE" and self._structures_owner is not None:
            self._structure[tag] = value.strip()
        elif tag == "STRUCTURE" and self._structures_owner is not None:
            if self._structure.get("TYPE_STRUCTURE", "D") == "D" and self._structure.get("CODE_STRUCTURE"):
                self.divisions.setdefault(self._structures_owner, self._structure["CODE_STRUCTURE"])
        elif tag == "STRUCTURES_ELEVE":
            self._structures_owner = None


def _forbid(*_args: object) -> None:
    raise _ForbiddenDeclaration


def parse_siecle_xml(
    data: bytes,
    *,
    file_name: str,
    uai: str,
    reference_date: date | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> RosterImport:
    """Read and validate a SIECLE BEE_ELEVES export for school `uai`; accepted or rejected whole."""
    issues = IssueCollector(file_name)
    school = check_school_uai(uai, issues)

    def rejected() -> RosterImport:
        return RosterImport(file_name, school, "siecle_xml", (), tuple(issues.issues))

    if not check_size(data, issues, max_bytes):
        return rejected()

    parser = expat.ParserCreate()
    handler = _SiecleHandler(parser)
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.text
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except _ForbiddenDeclaration:
        issues.add(
            parser.CurrentLineNumber,
            None,
            Rule.XML_DOCTYPE_FORBIDDEN,
            "DOCTYPE / déclaration d'entité refusée (un export SIECLE n'en contient pas).",
        )
        return rejected()
    except expat.ExpatError as exc:
        issues.add(
            exc.lineno,
            None,
            Rule.XML_MALFORMED,
            f"XML invalide ({expat.ErrorString(exc.code)}, colonne {exc.offset + 1}) : "
            "fichier tronqué, modifié, ou encodage différent de celui déclaré ?",
        )
        return rejected()

    if handler.root != "BEE_ELEVES":
        issues.add(
            1,
            None,
            Rule.XML_NOT_SIECLE,
            f"Élément racine « {handler.root} » : export SIECLE BEE_ELEVES attendu.",
        )
        return rejected()
    if not handler.uaj:
        issues.add(None, "PARAMETRES/UAJ", Rule.XML_UAI_MISSING, "UAJ de l'établissement absent du fichier.")
    elif normalise_identifier(handler.uaj) != school:
        issues.add(
            None,
            "PARAMETRES/UAJ",
            Rule.XML_UAI_MISMATCH,
            f"Le fichier est celui de l'établissement {handler.uaj}, pas de {school}.",
        )

    validator = LearnerRecordValidator(issues, dict(_COLUMN_NAMES), reference_date or date.today())
    learners: list[RosterLearner] = []
    skipped: list[SkippedRecord] = []
    for student in handler.students:
        if student.values.get("DATE_SORTIE", "").strip():
            skipped.append(
                SkippedRecord(student.line, f"sorti(e) le {student.values['DATE_SORTIE'].strip()}")
            )
            continue
        division = handler.divisions.get(student.eleve_id)
        if division is None:
            skipped.append(SkippedRecord(student.line, "sans division (classe) dans STRUCTURES"))
            continue
        raw = {f: student.values[tag] for tag, f in SIECLE_TAGS.items() if tag in student.values}
        raw.setdefault(LearnerField.STATUS, "ST")
        raw[LearnerField.DIVISION] = division
        learner = validator.validate(student.line, raw)
        if learner is not None:
            learners.append(learner)

    if not learners and not issues:
        issues.add(None, None, Rule.FILE_NO_ROWS, "Le fichier ne contient aucun élève scolarisé.")
    if issues:
        return rejected()
    return RosterImport(file_name, school, "siecle_xml", tuple(learners), (), None, tuple(skipped))
