"""One valid row of the Pix Orga learner CSV, to vary field by field (unit and component tests)."""

from __future__ import annotations

from services.eligibility.domain.roster_csv import PIX_LEARNER_HEADERS

HEADER = ";".join(PIX_LEARNER_HEADERS.values())


def learner_row(**overrides: str) -> str:
    values = {
        "ine": "123456789AB",
        "first_name": "Léa",
        "second_name": "",
        "third_name": "",
        "last_name": "Dupont",
        "usage_name": "",
        "sex": "F",
        "birth_date": "14/03/2011",
        "birth_city_code": "21231",
        "birth_city": "DIJON",
        "birth_department_code": "021",
        "birth_country_code": "100",
        "status": "ST",
        "mef_code": "10310019110",
        "division": "3A",
    } | overrides
    return ";".join(values[f.value] for f in PIX_LEARNER_HEADERS)
