"""A school's roster as the domain sees it, and the rules every roster source must pass.

The learner CSV and the SIECLE XML carry the same SIECLE fields under different names; both readers
turn a record into `{field: raw text}` and call `LearnerRecordValidator`, so a rule is written once
and an error reads the same whichever file the school sent.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from services.eligibility.domain.issues import ImportIssue, IssueCollector, Rule
from services.eligibility.domain.text import looks_like_formula, normalise_name
from shared.contracts.identifiers import ine_problem, normalise_identifier, uai_problem


class Sex(StrEnum):
    """Stored as Pix's learner CSV does (M/F). SIECLE XML's 1/2 and the CSV's M/F are both accepted."""

    MALE = "M"
    FEMALE = "F"


_SEX_VALUES = {"M": Sex.MALE, "F": Sex.FEMALE, "1": Sex.MALE, "2": Sex.FEMALE}
_STATUSES = frozenset({"ST", "AP"})  # SIECLE: scolaire, apprenti
FRANCE_COUNTRY_CODE = "100"


class LearnerField(StrEnum):
    INE = "ine"
    FIRST_NAME = "first_name"
    SECOND_NAME = "second_name"
    THIRD_NAME = "third_name"
    LAST_NAME = "last_name"
    USAGE_NAME = "usage_name"
    BIRTH_DATE = "birth_date"
    BIRTH_CITY_CODE = "birth_city_code"
    BIRTH_CITY = "birth_city"
    BIRTH_DEPARTMENT_CODE = "birth_department_code"
    BIRTH_COUNTRY_CODE = "birth_country_code"
    STATUS = "status"
    MEF_CODE = "mef_code"
    DIVISION = "division"
    SEX = "sex"


#: Fields whose value may never be empty. Birth city code / label are conditional (see below).
REQUIRED_VALUES = frozenset(
    {
        LearnerField.INE,
        LearnerField.FIRST_NAME,
        LearnerField.LAST_NAME,
        LearnerField.BIRTH_DATE,
        LearnerField.BIRTH_DEPARTMENT_CODE,
        LearnerField.BIRTH_COUNTRY_CODE,
        LearnerField.STATUS,
        LearnerField.MEF_CODE,
        LearnerField.DIVISION,
        LearnerField.SEX,
    }
)


@dataclass(frozen=True, slots=True)
class RosterLearner:
    """One learner as imported (the SIECLE fields Pix keeps), keyed by INE within a school."""

    ine: str
    first_name: str
    last_name: str
    birth_date: date
    sex: Sex
    division: str
    mef_code: str
    status: str
    birth_country_code: str
    birth_department_code: str
    birth_city_code: str = ""
    birth_city: str = ""
    second_name: str = ""
    third_name: str = ""
    usage_name: str = ""

    @property
    def identity_key(self) -> tuple[str, str, date]:
        """Same person in one school: normalised last name + first name + birth date."""
        return (normalise_name(self.last_name), normalise_name(self.first_name), self.birth_date)


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A record deliberately not imported (e.g. left the school), reported rather than dropped."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class RosterImport:
    """Result of reading one roster file: accepted whole (learners, no issues) or rejected whole."""

    file_name: str
    uai: str
    source: str  # "learner_csv" | "siecle_xml"
    learners: tuple[RosterLearner, ...]
    issues: tuple[ImportIssue, ...]
    encoding: str | None = None
    skipped: tuple[SkippedRecord, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        return not self.issues


@dataclass(frozen=True, slots=True)
class BirthDateBounds:
    """Plausible ages at the reference date: a secondary-school roster (incl. BTS and apprentices)."""

    min_age_years: int = 8
    max_age_years: int = 70

    def range_for(self, reference: date) -> tuple[date, date]:
        def years_before(years: int) -> date:
            try:
                return reference.replace(year=reference.year - years)
            except ValueError:  # 29 February
                return reference.replace(year=reference.year - years, day=28)

        return years_before(self.max_age_years), years_before(self.min_age_years)


_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_COUNTRY = re.compile(r"^(?:99)?(\d{3})$")
_DEPARTMENT = re.compile(r"^(?:\d{2,3}|0?2[AB])$")
_CITY_CODE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
MAX_TEXT_LENGTH = 255
MAX_DIVISION_LENGTH = 20  # LSU CodeStructure: 1–20 characters


def check_school_uai(uai: str, issues: IssueCollector) -> str:
    """The school the roster is imported for; a wrong UAI is a file-level error."""
    normalised = normalise_identifier(uai)
    problem = uai_problem(normalised)
    if problem == "format":
        issues.add(
            None, None, Rule.UAI_INVALID_FORMAT, f"UAI « {uai} » : 7 chiffres puis une lettre attendus."
        )
    elif problem == "check_letter":
        issues.add(None, None, Rule.UAI_INVALID_CHECK_LETTER, f"UAI « {uai} » : lettre clé incorrecte.")
    return normalised


class LearnerRecordValidator:
    """Validates records one by one, then across the file (duplicates); collects every issue."""

    def __init__(
        self,
        issues: IssueCollector,
        column_names: dict[LearnerField, str],
        reference_date: date,
        bounds: BirthDateBounds = BirthDateBounds(),
    ) -> None:
        self._issues = issues
        self._columns = column_names
        self._earliest, self._latest = bounds.range_for(reference_date)
        self._seen_ine: dict[str, int] = {}
        self._seen_identity: dict[tuple[str, str, date], tuple[int, str]] = {}

    def _add(self, line: int, name: LearnerField, rule: Rule, message: str) -> None:
        self._flagged.add(name)
        self._issues.add(line, self._columns.get(name, name.value), rule, message)

    def validate(self, line: int, raw: dict[LearnerField, str]) -> RosterLearner | None:
        """A RosterLearner when the record is clean, else None (issues recorded)."""
        self._flagged: set[LearnerField] = set()
        values: dict[LearnerField, str] = {}
        for name, cell in raw.items():
            if looks_like_formula(cell):
                self._add(
                    line,
                    name,
                    Rule.CELL_FORMULA_INJECTION,
                    "La cellule commence par = + - @ ou une tabulation (formule de tableur) : refusée.",
                )
                continue
            value = cell.strip()
            if not value and name in REQUIRED_VALUES:
                self._add(line, name, Rule.CELL_REQUIRED, "Valeur obligatoire manquante.")
                continue
            limit = MAX_DIVISION_LENGTH if name is LearnerField.DIVISION else MAX_TEXT_LENGTH
            if len(value) > limit:
                self._add(line, name, Rule.CELL_TOO_LONG, f"{len(value)} caractères : {limit} au plus.")
                continue
            values[name] = value
        for name in REQUIRED_VALUES - raw.keys():
            self._add(line, name, Rule.CELL_REQUIRED, "Valeur obligatoire manquante.")

        ine = self._ine(line, values.get(LearnerField.INE))
        birth_date = self._birth_date(line, values.get(LearnerField.BIRTH_DATE))
        sex = self._sex(line, values.get(LearnerField.SEX))
        status = self._status(line, values.get(LearnerField.STATUS))
        country = self._birth_place(line, values)
        unique = self._unique(line, ine, values, birth_date)
        if self._flagged or not unique:
            return None
        assert ine and birth_date and sex and status and country
        return RosterLearner(
            ine=ine,
            first_name=values[LearnerField.FIRST_NAME],
            last_name=values[LearnerField.LAST_NAME],
            birth_date=birth_date,
            sex=sex,
            division=values[LearnerField.DIVISION],
            mef_code=values[LearnerField.MEF_CODE],
            status=status,
            birth_country_code=country,
            birth_department_code=values[LearnerField.BIRTH_DEPARTMENT_CODE].upper(),
            birth_city_code=values.get(LearnerField.BIRTH_CITY_CODE, "").upper(),
            birth_city=values.get(LearnerField.BIRTH_CITY, ""),
            second_name=values.get(LearnerField.SECOND_NAME, ""),
            third_name=values.get(LearnerField.THIRD_NAME, ""),
            usage_name=values.get(LearnerField.USAGE_NAME, ""),
        )

    def _ine(self, line: int, value: str | None) -> str | None:
        if value is None:
            return None
        ine = normalise_identifier(value)
        problem = ine_problem(ine)
        if problem == "format":
            self._add(
                line,
                LearnerField.INE,
                Rule.INE_INVALID_FORMAT,
                f"INE « {value} » : 9 chiffres + 2 lettres, 10 chiffres + 1 lettre, "
                "ou format apprenti (4 chiffres, A, 5 chiffres, 1 lettre) attendu.",
            )
            return None
        if problem == "check_letter":
            self._add(
                line,
                LearnerField.INE,
                Rule.INE_INVALID_CHECK_LETTER,
                f"INE « {value} » : lettre clé incorrecte.",
            )
            return None
        return ine

    def _birth_date(self, line: int, value: str | None) -> date | None:
        if value is None:
            return None
        match = _DATE.match(value)
        if not match:
            self._add(
                line,
                LearnerField.BIRTH_DATE,
                Rule.DATE_INVALID_FORMAT,
                f"« {value} » : format jj/mm/aaaa attendu.",
            )
            return None
        day, month, year = (int(part) for part in match.groups())
        try:
            born = date(year, month, day)
        except ValueError:
            self._add(
                line,
                LearnerField.BIRTH_DATE,
                Rule.DATE_NOT_A_CALENDAR_DATE,
                f"« {value} » n'existe pas au calendrier.",
            )
            return None
        if not self._earliest <= born <= self._latest:
            self._add(
                line,
                LearnerField.BIRTH_DATE,
                Rule.DATE_OUT_OF_RANGE,
                f"« {value} » : date de naissance invraisemblable "
                f"(attendue entre le {self._earliest:%d/%m/%Y} et le {self._latest:%d/%m/%Y}).",
            )
            return None
        return born

    def _sex(self, line: int, value: str | None) -> Sex | None:
        if value is None:
            return None
        sex = _SEX_VALUES.get(value.upper())
        if sex is None:
            self._add(
                line,
                LearnerField.SEX,
                Rule.SEX_INVALID,
                f"« {value} » : M, F, 1 (masculin) ou 2 (féminin) attendu.",
            )
        return sex

    def _status(self, line: int, value: str | None) -> str | None:
        if value is None:
            return None
        status = value.upper()
        if status not in _STATUSES:
            self._add(
                line,
                LearnerField.STATUS,
                Rule.STATUS_INVALID,
                f"« {value} » : ST (scolaire) ou AP (apprenti) attendu.",
            )
            return None
        return status

    def _birth_place(self, line: int, values: dict[LearnerField, str]) -> str | None:
        country_raw = values.get(LearnerField.BIRTH_COUNTRY_CODE)
        country = None
        if country_raw is not None:
            match = _COUNTRY.match(country_raw)
            if match:
                country = match.group(1)
            else:
                self._add(
                    line,
                    LearnerField.BIRTH_COUNTRY_CODE,
                    Rule.BIRTH_COUNTRY_INVALID,
                    f"« {country_raw} » : code pays INSEE à 3 chiffres attendu (100 = France).",
                )
        department = values.get(LearnerField.BIRTH_DEPARTMENT_CODE)
        if department is not None and not _DEPARTMENT.match(department.upper()):
            self._add(
                line,
                LearnerField.BIRTH_DEPARTMENT_CODE,
                Rule.BIRTH_DEPARTMENT_INVALID,
                f"« {department} » : code département attendu (ex. 021, 974, 02A, 099).",
            )
        city_code = values.get(LearnerField.BIRTH_CITY_CODE, "")
        if city_code and not _CITY_CODE.match(city_code.upper()):
            self._add(
                line,
                LearnerField.BIRTH_CITY_CODE,
                Rule.BIRTH_CITY_CODE_INVALID,
                f"« {city_code} » : code commune INSEE à 5 caractères attendu.",
            )
        if (
            country == FRANCE_COUNTRY_CODE
            and not city_code
            and LearnerField.BIRTH_CITY_CODE not in self._flagged
        ):
            self._add(
                line,
                LearnerField.BIRTH_CITY_CODE,
                Rule.BIRTH_CITY_CODE_REQUIRED,
                "Né(e) en France : le code commune de naissance est obligatoire.",
            )
        if (
            country is not None
            and country != FRANCE_COUNTRY_CODE
            and not values.get(LearnerField.BIRTH_CITY)
            and LearnerField.BIRTH_CITY not in self._flagged
        ):
            self._add(
                line,
                LearnerField.BIRTH_CITY,
                Rule.BIRTH_CITY_REQUIRED,
                "Né(e) à l'étranger : le libellé de la commune de naissance est obligatoire.",
            )
        return country

    def _unique(
        self, line: int, ine: str | None, values: dict[LearnerField, str], birth_date: date | None
    ) -> bool:
        """Same INE twice, or same names + birth date under two INEs, in one file."""
        unique = True
        if ine is not None:
            first_line = self._seen_ine.get(ine)
            if first_line is not None:
                self._add(
                    line, LearnerField.INE, Rule.INE_DUPLICATE, f"INE {ine} déjà présent ligne {first_line}."
                )
                return False
            self._seen_ine[ine] = line
        last, first = values.get(LearnerField.LAST_NAME), values.get(LearnerField.FIRST_NAME)
        if last and first and birth_date is not None:
            key = (normalise_name(last), normalise_name(first), birth_date)
            seen = self._seen_identity.get(key)
            if seen is not None:
                self._add(
                    line,
                    LearnerField.LAST_NAME,
                    Rule.LEARNER_DUPLICATE_IDENTITY,
                    f"Même nom, prénom et date de naissance que ligne {seen[0]} (INE {seen[1]}) : "
                    "doublon probable.",
                )
                unique = False
            else:
                self._seen_identity[key] = (line, ine or "?")
        return unique
