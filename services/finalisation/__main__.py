from services.finalisation.app import definition
from shared.service import run

run(definition)
