"""Import problems as data: one object per broken rule, so a rejected file can be fixed in one pass.

Rules are stable machine-readable codes (the UI and the events carry them); messages are French
because the people who fix the files are school staff.
"""

from enum import StrEnum

from shared.file_issues import FileIssue, FileIssues


class Rule(StrEnum):
    # whole-file problems (line is None, or 1 for header problems)
    FILE_EMPTY = "file.empty"
    FILE_TOO_LARGE = "file.too_large"
    FILE_ENCODING = "file.encoding"
    FILE_NO_ROWS = "file.no_rows"
    FILE_MISSING_COLUMNS = "file.missing_columns"
    FILE_UNKNOWN_COLUMNS = "file.unknown_columns"
    FILE_DUPLICATE_COLUMNS = "file.duplicate_columns"
    XML_MALFORMED = "xml.malformed"
    XML_DOCTYPE_FORBIDDEN = "xml.doctype_forbidden"
    XML_NOT_SIECLE = "xml.not_siecle"
    XML_UAI_MISSING = "xml.uai_missing"
    XML_UAI_MISMATCH = "xml.uai_mismatch"
    # row / cell problems
    ROW_COLUMN_COUNT = "row.column_count"
    CELL_FORMULA_INJECTION = "cell.formula_injection"
    CELL_REQUIRED = "cell.required"
    CELL_TOO_LONG = "cell.too_long"
    UAI_INVALID_FORMAT = "uai.invalid_format"
    UAI_INVALID_CHECK_LETTER = "uai.invalid_check_letter"
    INE_INVALID_FORMAT = "ine.invalid_format"
    INE_INVALID_CHECK_LETTER = "ine.invalid_check_letter"
    INE_DUPLICATE = "ine.duplicate"
    LEARNER_DUPLICATE_IDENTITY = "learner.duplicate_identity"
    DATE_INVALID_FORMAT = "date.invalid_format"
    DATE_NOT_A_CALENDAR_DATE = "date.not_a_calendar_date"
    DATE_OUT_OF_RANGE = "date.out_of_range"
    SEX_INVALID = "sex.invalid"
    STATUS_INVALID = "status.invalid"
    BIRTH_COUNTRY_INVALID = "birth.invalid_country_code"
    BIRTH_DEPARTMENT_INVALID = "birth.invalid_department_code"
    BIRTH_CITY_CODE_INVALID = "birth.invalid_city_code"
    BIRTH_CITY_CODE_REQUIRED = "birth.city_code_required"
    BIRTH_CITY_REQUIRED = "birth.city_required"
    # campaign export
    CAMPAIGN_UNKNOWN_COMPETENCE = "campaign.unknown_competence"
    CAMPAIGN_MISSING_COMPETENCE = "campaign.missing_competence"
    CAMPAIGN_INVALID_YES_NO = "campaign.invalid_yes_no"
    CAMPAIGN_INVALID_NUMBER = "campaign.invalid_number"
    CAMPAIGN_LEVEL_OUT_OF_RANGE = "campaign.level_out_of_range"
    CAMPAIGN_VALUE_WITHOUT_SHARE = "campaign.value_without_share"
    # Pix Orga certificability file
    ORGA_INVALID_CERTIFICABILITY = "orga.invalid_certificability"
    ORGA_DATE_WITHOUT_STATUS = "orga.date_without_status"


#: one broken rule of an import (the shared shape every import answers: shared/file_issues.py);
#: ``line`` is 1-based with the header as line 1 (XML: the element's line), ``rule`` a ``Rule``
ImportIssue = FileIssue
#: collects a file's issues so the parsers keep going and report everything at once
IssueCollector = FileIssues
