from services.eligibility.app import definition
from shared.service import run

run(definition)
